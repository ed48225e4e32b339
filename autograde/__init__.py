"""Instructor tooling for the course, built on nbgrader, and the checks the notebooks run."""

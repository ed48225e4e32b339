"""Reference solutions for the course, one module per notebook.

Each exercise is a top-level function or class whose name is the exercise's nbgrader
``grade_id``. The code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is what the
student copy replaces with a stub; ``python -m autograde sync`` copies every reference into
its notebook's solution cell, and ``tests/test_solutions_sync.py`` fails when the two drift.
"""

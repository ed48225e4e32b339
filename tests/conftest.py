"""Shared fixtures. Slow ones (kernels, servers) are session-scoped so they run once."""

from pathlib import Path

import pytest
from pgserver import postgres_server, postgres_url  # noqa: F401  (fixtures: a throw-away PostgreSQL)

from autograde import course
from autograde.workspace import Workspace, release


@pytest.fixture(scope="session")
def released(tmp_path_factory) -> Workspace:
    """A scratch course workspace in which every assignment has been released once."""
    ws = Workspace(root=tmp_path_factory.mktemp("released-course"))
    release(ws)
    return ws


@pytest.fixture(scope="session")
def release_notebooks(released) -> dict[str, Path]:
    """Source notebook path -> its student copy."""
    return {nb.path: released.path("release", nb.assignment, nb.path.name) for nb in course.notebooks()}

"""Is the code lint-clean (ruff, configured in pyproject.toml)?"""

import subprocess
import sys
from pathlib import Path

from autograde.course import REPO


def test_does_ruff_find_nothing():
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run([ruff, "check", "--output-format=concise", "."], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr

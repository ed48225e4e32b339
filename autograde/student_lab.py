"""JupyterLab for a student: nbgrader's Validate button on, the instructor tools off.

``python -m autograde.student_lab`` writes the settings into the environment's own Jupyter
config folder (``<prefix>/etc/jupyter``, or ``COURSE_JUPYTER_CONFIG``), which takes precedence
over ``~/.jupyter`` in a conda or virtual environment. (``jupyter server extension disable
--user`` refuses an extension that was enabled at the environment level, so the files are written
here.) Binder's postBuild and the ``Dockerfile`` run it; it ships in the student runtime.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

INSTRUCTOR_PLUGINS = ("formgrader", "assignment-list", "course-list", "create-assignment")
INSTRUCTOR_SERVERS = ("formgrader", "assignment_list", "course_list")


def write(target: Path, default_url: str | None = None) -> Path:
    """Write the student settings under ``target``; ``default_url`` is the page a plain launch opens."""
    page = target / "labconfig" / "page_config.json"
    page.parent.mkdir(parents=True, exist_ok=True)
    config = json.loads(page.read_text()) if page.exists() else {}
    config.setdefault("disabledExtensions", {}).update({f"@jupyter/nbgrader:{p}": True for p in INSTRUCTOR_PLUGINS})
    page.write_text(json.dumps(config, indent=2))

    server = {"jpserver_extensions": {**{f"nbgrader.server_extensions.{s}": False for s in INSTRUCTOR_SERVERS},
                                      # /course-language/ko/<path>: JupyterLab in Korean, then the notebook.
                                      "autograde.lab_language": True}}
    if default_url:
        server["default_url"] = default_url
    path = target / "jupyter_server_config.d" / "zz-course-student.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"ServerApp": server}, indent=2))
    return target


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    target = Path(os.environ.get("COURSE_JUPYTER_CONFIG", Path(sys.prefix) / "etc" / "jupyter"))
    print(f"student set-up written to {write(target, argv[0] if argv else None)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

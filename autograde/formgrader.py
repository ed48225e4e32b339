"""nbgrader's own tools on the course folder: the ``nbgrader_config.py`` that ``release`` writes.

With it, nbgrader's Formgrader (JupyterLab started in the course folder) shows the course's
assignments, students and scores with no hand edits: the folder's root, the gradebook, the course
id, a ``source`` link to the source notebooks (so the Formgrader's Edit links open them) and an
exchange folder inside the course folder. The settings are those the ``autograde`` commands use
(:meth:`Workspace.config`), so the Formgrader's Generate writes the same student copy as
``release``.

Grading stays with ``python -m autograde grade`` (repair, sandbox, limits) and feedback with
``python -m autograde feedback`` (hidden tests removed): the Formgrader's Autograde and Generate
Feedback buttons, and the same nbgrader commands run in the course folder, are refused with a
message that says so, before nbgrader touches the gradebook or any folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from nbconvert.exporters import NotebookExporter

from autograde.workspace import EXCHANGE, Workspace

CONFIG = "nbgrader_config.py"
SOURCE_LINK = "source"
REFUSAL = ("This course is graded by `python -m autograde grade` (repair, sandbox, time and memory limits), "
           "not by nbgrader's own autograde: run it in a terminal, then reload this page. Manual grades "
           "given here are kept and reported by `autograde status` and `autograde export`.")
FEEDBACK_REFUSAL = ("This course's feedback is written by `python -m autograde feedback`, which keeps the hidden "
                    "tests out of it (nbgrader's own would show them to students): run it in a terminal; "
                    "Release Feedback here then hands out what it wrote.")


class Refuse(NotebookExporter):
    """An exporter that stops nbgrader before any notebook is touched, with ``message`` in its log.

    nbgrader's converters build their exporter after finding the notebooks and before they clear
    an output folder or write to the gradebook, so refusing here changes nothing on disk.
    """

    message = ""

    def __init__(self, *args, **kwargs):
        parent = kwargs.get("parent")
        if parent is not None and getattr(parent, "log", None) is not None:
            parent.log.error(self.message)
        raise RuntimeError(self.message)


class RefuseAutograde(Refuse):
    """nbgrader's autograde (the Formgrader's Autograde button, ``nbgrader autograde``)."""

    message = REFUSAL


class RefuseFeedback(Refuse):
    """nbgrader's generate_feedback (the Formgrader's Generate Feedback, ``nbgrader generate_feedback``)."""

    message = FEEDBACK_REFUSAL


def config_text(ws: Workspace) -> str:
    """The course folder's ``nbgrader_config.py``: paths relative to the file, the rest from ``ws.config()``."""
    moved = {("CourseDirectory", "root"), ("CourseDirectory", "source_directory"), ("CourseDirectory", "db_url"),
             ("Exchange", "root")}
    lines = [
        '"""nbgrader settings for this course folder, written by `python -m autograde release`.',
        "",
        "Start JupyterLab in this folder (jupyter lab) and open Nbgrader > Formgrader. Grade with",
        '`python -m autograde grade`: nbgrader\'s own autograde is switched off here."""',
        "",
        "import os",
        "",
        "here = os.path.dirname(os.path.abspath(__file__))",
        "c = get_config()  # noqa: F821",
        "c.CourseDirectory.root = here",
        f"c.CourseDirectory.source_directory = {SOURCE_LINK!r}",
    ]
    if ws.db_url:
        lines.append(f"c.CourseDirectory.db_url = {ws.db!r}")
    else:
        lines.append(f"c.CourseDirectory.db_url = 'sqlite:///' + os.path.join(here, {Path(ws.db).name!r})")
    for section, values in ws.config().items():
        for key, value in values.items():
            if (section, key) not in moved:
                lines.append(f"c.{section}.{key} = {value!r}")
    if ws.exchange == ws.root / EXCHANGE:
        lines.append(f"c.Exchange.root = os.path.join(here, {EXCHANGE!r})")
    else:
        lines.append(f"c.Exchange.root = {str(ws.exchange)!r}")
    for app, refusal in (("Autograde", RefuseAutograde), ("GenerateFeedback", RefuseFeedback)):
        lines.append(f"c.{app}.exporter_class = '{refusal.__module__}.{refusal.__name__}'")
    return "\n".join(lines) + "\n"


def write_config(ws: Workspace) -> Path:
    """Write ``nbgrader_config.py``, the ``source`` link and the exchange folder into the course folder."""
    ws.root.mkdir(parents=True, exist_ok=True)
    link = ws.root / SOURCE_LINK
    if link.is_symlink() and link.resolve() != ws.source:
        link.unlink()
    if not link.exists() and not link.is_symlink():
        target = os.path.relpath(ws.source, ws.root) if _same_drive(ws) else str(ws.source)
        link.symlink_to(target, target_is_directory=True)
    elif link.resolve() != ws.source:
        raise FileExistsError(f"{link} exists and is not a link to {ws.source}: move it away, then release again")
    ws.exchange.mkdir(parents=True, exist_ok=True)
    path = ws.root / CONFIG
    path.write_text(config_text(ws), encoding="utf-8")
    return path


def _same_drive(ws: Workspace) -> bool:
    return os.path.splitdrive(str(ws.source))[0] == os.path.splitdrive(str(ws.root))[0]

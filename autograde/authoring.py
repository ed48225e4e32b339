"""Keeping the source notebooks honest: solution cells come from ``solutions``, outputs are
re-executed, and stray metadata is stripped.

``python -m autograde sync`` runs all three; ``tests/test_solutions_sync.py`` and
``tests/test_notebook_hygiene.py`` fail when a notebook was not synced.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import nbformat

from autograde.course import nbgrader_meta, read_notebook

KEEP_CELL_METADATA = {"nbgrader", "tags", "deletable", "editable"}


def reference_source(module_name: str, name: str) -> str:
    """The exact source text of the top-level def or class ``name`` in ``module_name``."""
    module = importlib.import_module(module_name)
    text = inspect.getsource(module)
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            lines = text.splitlines()
            end = node.end_lineno
            # The AST ends at the last statement; keep the indented comments after it
            # (the closing "### END SOLUTION").
            while end < len(lines) and lines[end].startswith((" ", "\t")) and lines[end].strip().startswith("#"):
                end += 1
            return "\n".join(lines[first - 1 : end])
    raise LookupError(f"{module_name} has no top-level def or class named {name!r}")


def solution_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The autograded solution cells of a notebook."""
    return [c for c in nb.cells if nbgrader_meta(c).get("solution") and not nbgrader_meta(c).get("grade")]


def sync_solutions(nb: nbformat.NotebookNode, module_name: str) -> int:
    """Copy each reference into its solution cell; return how many cells changed."""
    changed = 0
    for cell in solution_cells(nb):
        source = reference_source(module_name, nbgrader_meta(cell)["grade_id"])
        if cell.source != source:
            cell.source = source
            changed += 1
    return changed


def clean(nb: nbformat.NotebookNode) -> None:
    """Strip what does not belong in a committed notebook: timestamps, widget state, ids."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for key in list(cell.metadata):
            if key not in KEEP_CELL_METADATA:
                del cell.metadata[key]
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                output.get("metadata", {}).clear() if output.get("output_type") != "display_data" else None
                if "data" in output:
                    output["data"].pop("application/vnd.jupyter.widget-view+json", None)


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 120) -> None:
    """Run the notebook top to bottom and keep its outputs."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()


def sync(path: Path, run: bool = True) -> int:
    """Bring one source notebook up to date; return how many solution cells changed."""
    info = read_notebook(path)
    nb = nbformat.read(path, as_version=4)
    changed = sync_solutions(nb, info.reference)
    if run:
        execute(nb, path.parent)
    clean(nb)
    nbformat.write(nb, path)
    return changed

"""What must never reach a student: the reference solutions' code and the hidden tests' source.

Shared by the student-environment tests and the feedback test: each secret is a piece of text
(whitespace collapsed), found in any file or page that holds it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from autograde.course import REPO

MARKERS = re.compile(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", re.S)


def squash(text: str) -> str:
    return " ".join(text.split())


def solution_blocks(skip: tuple[str, ...] = ()) -> dict[str, str]:
    """``module.name#i`` -> each solution block of the references (the code a learner must write).

    ``skip`` names the references a scan allows (``solutions.network.Net`` where given/ ships), and
    with them any block of another reference that is the same text (``Net28``'s ``forward``).
    """
    blocks = {}
    for path in sorted((REPO / "solutions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.parse(text).body:
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                continue
            name = f"solutions.{path.stem}.{node.name}"
            source = ast.get_source_segment(text, node, padded=True) or ""
            end = "\n".join(text.splitlines()[node.lineno - 1: node.end_lineno + 1])
            for i, block in enumerate(MARKERS.findall(end or source)):
                blocks[f"{name}#{i}"] = squash(block)
    allowed = {text for name, text in blocks.items() if name.split("#")[0] in skip}
    return {name: text for name, text in blocks.items() if text not in allowed}


def hidden_sources() -> dict[str, str]:
    """Each top-level function of the hidden tests, its body as text."""
    text = (REPO / "autograde" / "hidden.py").read_text(encoding="utf-8")
    lines = text.splitlines()
    return {node.name: squash("\n".join(lines[node.body[0].lineno - 1: node.end_lineno]))
            for node in ast.parse(text).body if isinstance(node, ast.FunctionDef) and len(node.body) > 1}


def hidden_lines() -> set[str]:
    """The hidden tests' own lines (30 characters or more, not comments), less those a notebook shows anyway.

    A traceback through the hidden tests would show a few of them; a whole function is not needed.
    """
    text = (REPO / "autograde" / "hidden.py").read_text(encoding="utf-8")
    lines = {squash(line) for line in text.splitlines() if len(line.strip()) >= 30 and not line.strip().startswith("#")}
    shown = squash("\n".join(t for p in sorted(REPO.glob("notebooks/*/*.ipynb")) for t in cell_texts(p.read_text())))
    return {line for line in lines if line not in shown}


def leaks(text: str, skip: tuple[str, ...] = (), lines: bool = False) -> list[str]:
    """The secrets ``text`` holds (their names); ``lines``: any single line of the hidden tests counts."""
    flat = squash(text)
    found = [name for name, block in solution_blocks(skip).items() if block in flat]
    found += [f"autograde.hidden.{name}" for name, body in hidden_sources().items() if body in flat]
    if lines:
        found += [f"autograde.hidden: {line}" for line in sorted(hidden_lines()) if line in flat]
    return found


def cell_texts(notebook_json: str) -> list[str]:
    """Every cell's source and every text output of a notebook."""
    import nbformat

    nb = nbformat.reads(notebook_json, as_version=4)
    texts = []
    for cell in nb.cells:
        texts.append(cell.source)
        for output in cell.get("outputs", []):
            texts.append(str(output.get("text", "")) + "".join(str(v) for v in output.get("data", {}).values()))
            texts.extend(output.get("traceback", []))
    return texts


def files_leaking(root: Path, skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every file under ``root`` (any kind) that holds a secret -> what it holds."""
    found = {}
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", "replace")
        if path.suffix == ".ipynb":  # the cells' text, not their JSON (one escaped string a line)
            text = "\n".join(cell_texts(text))
        if hit := leaks(text, skip):
            found[path.relative_to(root).as_posix()] = hit
    return found

"""nbval's sanitizers for the source notebooks (tests/nbval_sanitize.cfg), read as nbval reads them."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import nbformat
from nbval.plugin import get_sanitize_patterns

FILE = Path(__file__).with_name("nbval_sanitize.cfg")
TEXT = FILE.read_text(encoding="utf-8")
PATTERNS: list[tuple[str, str]] = get_sanitize_patterns(TEXT)  # (regex, replacement), in nbval's order
SKIPPED = {"image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json"}  # nbval never compares these


def entries() -> dict[str, configparser.SectionProxy]:
    """Each entry of the file by name, with its regex, replace, cells and why."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(TEXT)
    return {name: parser[name] for name in parser.sections()}


def sanitize(text: str, patterns: list[tuple[str, str]] = PATTERNS) -> str:
    """``text`` as nbval compares it: every pattern applied in turn."""
    for regex, replacement in patterns:
        text = re.sub(regex, replacement, text)
    return text


def compared(cell: nbformat.NotebookNode) -> list[str]:
    """The strings of a code cell's stored outputs that nbval compares with a fresh run."""
    texts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            texts.append(output.text)
        texts += [value for key, value in output.get("data", {}).items() if key not in SKIPPED and isinstance(value, str)]
    return texts


def stream(cell: nbformat.NotebookNode) -> str:
    """All that a code cell printed, as nbval compares it."""
    return sanitize("".join(o.text for o in cell.outputs if o.output_type == "stream"))

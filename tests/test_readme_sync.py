"""Do README.md and README.ko.md say the same things: the same sections in the same order, the
same commands and code in each, and the same numbers?"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from autograde import course

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")
LINK_TARGET = re.compile(r"\]\([^)]*\)")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
LANGUAGE_LINE = re.compile(r"^(한국어:|\[English\]).*$", re.M)  # each README points at the other


@dataclass(frozen=True)
class Section:
    """What must agree between the two READMEs in one ``##`` section."""

    subsections: int
    table_rows: int
    code: frozenset[str]
    numbers: frozenset[str]


def sections(text: str) -> list[Section]:
    """The README's preamble and ``##`` sections, in order."""
    text = LANGUAGE_LINE.sub("", text)
    parts = re.split(r"^## .*$", text, flags=re.M)
    return [section(part) for part in parts]


def section(part: str) -> Section:
    fenced = [line.strip() for block in FENCE.findall(part) for line in block.splitlines() if line.strip()]
    prose = FENCE.sub(" ", part)
    code = frozenset(fenced) | frozenset(span.strip() for span in SPAN.findall(prose))
    words = LINK_TARGET.sub("]", SPAN.sub(" ", prose))
    return Section(
        subsections=len(re.findall(r"^### ", part, flags=re.M)),
        table_rows=len(re.findall(r"^\|", part, flags=re.M)),
        code=code,
        numbers=frozenset(NUMBER.findall(words)),
    )


EN = sections((course.REPO / "README.md").read_text(encoding="utf-8"))
KO = sections((course.REPO / "README.ko.md").read_text(encoding="utf-8"))


def test_do_both_readmes_have_the_same_sections():
    assert len(EN) == len(KO) >= 7
    assert [(s.subsections, s.table_rows) for s in KO] == [(s.subsections, s.table_rows) for s in EN]


@pytest.mark.parametrize("index", range(len(EN)))
def test_does_each_section_show_the_same_commands_and_code(index):
    en, ko = EN[index], KO[index]
    assert ko.code == en.code, f"README.md only: {sorted(en.code - ko.code)}; README.ko.md only: {sorted(ko.code - en.code)}"


@pytest.mark.parametrize("index", range(len(EN)))
def test_does_each_section_give_the_same_numbers(index):
    en, ko = EN[index], KO[index]
    assert ko.numbers == en.numbers, \
        f"README.md only: {sorted(en.numbers - ko.numbers)}; README.ko.md only: {sorted(ko.numbers - en.numbers)}"


def test_would_the_check_notice_a_changed_figure_or_a_missing_command():
    en = section("Measured: 541.5 s.\n\n```bash\nmake lab\n```\n")
    assert section("측정값: 541.5 s.\n\n```bash\nmake lab\n```\n") == en
    assert section("측정값: 540 s.\n\n```bash\nmake lab\n```\n").numbers != en.numbers
    assert section("측정값: 541.5 s.\n").code != en.code

"""Does the Korean edition say each term one way, as docs/glossary.md (the single source) says:
the glossary's word, glossed once at its first use in each notebook, and none of the variants
the glossary rules out, in the notebooks, in every message a check can show (autograde/messages.py,
autograde/labels.py) and in the explorers' texts (explore/)?"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograde import course, editions

GLOSSARY = course.REPO / "docs" / "glossary.md"
NOTEBOOKS = editions.notebooks("ko")
IDS = [nb.path.stem for nb in NOTEBOOKS]
CODE = re.compile(r"`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$", re.S)  # code and maths are not text
HANGUL = "가-힣"


@dataclass(frozen=True)
class Term:
    """One row of the glossary."""

    english: str
    korean: str
    first_use: str | None  # e.g. "텐서(tensor)"; None: never glossed
    never: tuple[str, ...]

    def gloss(self, strict: bool = False) -> re.Pattern[str] | None:
        """The first-use form: the Korean word, then a parenthesis that names the English term.

        Strict: the parenthesis starts with the term, so ``계층(fully connected layer)`` glosses a
        compound that contains the term without counting as a second gloss of the term itself.
        """
        if self.first_use is None:
            return None
        word, english = re.fullmatch(r"(.+)\((.+)\)", self.first_use).groups()
        inside = rf"{re.escape(english)}\b[^()]*" if strict else rf"[^()]*\b{re.escape(english)}\b[^()]*"
        return re.compile(rf"(?<![{HANGUL}]){re.escape(word)}\*{{0,2}}\({inside}\)")

    def uses(self) -> re.Pattern[str]:
        """The Korean word where a word starts."""
        return word_pattern(self.korean)


def word_pattern(word: str) -> re.Pattern[str]:
    """``word`` as a whole word: English ones not inside another word, Korean ones at a word's start."""
    if re.fullmatch(r"[A-Za-z ]+", word):
        return re.compile(rf"(?<![A-Za-z_.]){re.escape(word)}(?![A-Za-z_])")
    return re.compile(rf"(?<![{HANGUL}]){re.escape(word)}")


def load_glossary(path: Path = GLOSSARY) -> list[Term]:
    """The rows of the glossary's table."""
    terms = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or len(cells) != 4 or cells[0] in ("English", "---"):
            continue
        english, korean, first_use, never = cells
        terms.append(Term(english, korean, None if first_use == "—" else first_use,
                          tuple(re.findall(r"`([^`]+)`", never))))
    return terms


TERMS = load_glossary()


def text_of(markdown: str, headings: bool = True) -> str:
    """The prose of a markdown cell: code spans and maths blanked, headings kept or dropped."""
    text = CODE.sub(" ", markdown)
    if not headings:
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return text


def markdown_of(nb: course.Notebook) -> list[str]:
    notebook = nbformat.read(nb.path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]


def variants_in(text: str) -> list[str]:
    """Every word the glossary rules out that ``text`` uses, with a little context."""
    glossed = [m.span() for term in TERMS if term.gloss() for m in term.gloss().finditer(text)]
    found = []
    for term in TERMS:
        for variant in term.never:
            for m in word_pattern(variant).finditer(text):
                if not any(start <= m.start() < end for start, end in glossed):
                    found.append(f"{variant!r} for {term.english!r} in …{text[max(0, m.start() - 20):m.end() + 20]}…")
    return found


def gloss_problems(cells: list[str]) -> list[str]:
    """Terms not glossed at their first use in the body text, or glossed more than once."""
    body = "\n".join(text_of(c, headings=False) for c in cells)
    whole = "\n".join(text_of(c) for c in cells)
    problems = []
    for term in TERMS:
        gloss = term.gloss()
        if gloss is None:
            continue
        first_use, first_gloss = term.uses().search(body), gloss.search(body)
        if first_use and not (first_gloss and first_gloss.start() <= first_use.start() < first_gloss.end()):
            context = body[max(0, first_use.start() - 30):first_use.end() + 10]
            problems.append(f"{term.korean}: first used unglossed in …{context}…")
        glossed = len(term.gloss(strict=True).findall(whole))
        if glossed > 1:
            problems.append(f"{term.korean}: glossed {glossed} times")
    return problems


def test_does_the_glossary_give_every_term_one_korean_word_and_a_first_use_that_names_it():
    assert len(TERMS) >= 15
    assert len({t.english for t in TERMS}) == len(TERMS)
    for term in TERMS:
        assert term.korean not in term.never
        if term.first_use is not None:
            assert term.gloss().fullmatch(term.first_use), term
            assert term.korean in term.first_use or term.english in term.first_use


def test_does_the_check_catch_a_variant_and_a_term_glossed_twice_or_too_late():
    assert variants_in("각 층의 기울기를 구합니다") and variants_in("x의 shape은 [4]입니다")
    assert not variants_in("`x.shape`는 텐서(tensor)의 모양(shape)입니다. 계층의 변화도")
    assert gloss_problems(["변화도(gradient)를 구합니다. 다시 변화도(gradient)를"])
    assert gloss_problems(["변화도가 나옵니다. 그다음 변화도(gradient)를 봅니다"])
    assert not gloss_problems(["## 변화도\n\n손실의 **변화도**(gradient)입니다. 변화도는"])
    assert not gloss_problems(["완전 연결 계층(fully connected layer)과 계층(layer, `nn.Linear`)"])


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_does_the_korean_notebook_use_no_word_the_glossary_rules_out(nb):
    found = [v for cell in markdown_of(nb) for v in variants_in(text_of(cell))]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_does_the_korean_notebook_gloss_each_term_once_at_its_first_use(nb):
    problems = gloss_problems(markdown_of(nb))
    assert not problems, "\n".join(problems)


def korean_messages() -> list[tuple[str, str]]:
    """(where, Korean text) of every sentence, hint and label a check can show, and every explorer text."""
    import ast

    from autograde import labels, messages

    texts = [(f"TEXTS[{k!r}]", v["ko"]) for k, v in messages.TEXTS.items()]
    texts += [(f"GENERIC_HINTS[{k!r}]", v["ko"]) for k, v in messages.GENERIC_HINTS.items()]
    texts += [(f"HINTS[{e!r}][{k!r}]", v["ko"]) for e, hints in messages.HINTS.items() for k, v in hints.items()]
    texts += [(f"labels.KO[{k!r}]", v) for k, v in labels.KO.items()]
    for path in sorted((course.REPO / "explore").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("say", "plot_text"):
                korean = node.args[1]
                parts = korean.values if isinstance(korean, ast.JoinedStr) else [korean]
                text = "".join(p.value if isinstance(p, ast.Constant) else " " for p in parts)
                texts.append((f"{path.name}:{node.lineno}", text))
    return texts


MESSAGES = korean_messages()


def test_are_the_messages_and_explorer_texts_found():
    where = [w for w, _ in MESSAGES]
    assert len(MESSAGES) >= 150
    assert any(w.startswith("HINTS[") for w in where) and any(w.startswith("widgets.py:") for w in where)


PLACEHOLDER = re.compile(r"\{[^{}]*\}")
CODE_TOKEN = re.compile(rf"[A-Za-z_]\w*(?:[.(\[=][^\s{HANGUL}]*)+")  # tensor.grad_fn, tuple(p.shape), stride=2


def message_text(message: str) -> str:
    """The prose of a message: placeholders, code spans and code (a name called, indexed, dotted or set) blanked."""
    return CODE_TOKEN.sub(" ", text_of(PLACEHOLDER.sub(" ", message)))


def test_does_the_check_of_messages_tell_code_from_text():
    assert variants_in(message_text("모양이 {shape}인 Tensor")) and variants_in(message_text("합성곱 stride"))
    assert not variants_in(message_text("tensor.grad_fn에서 tuple(p.shape)를 stride=2로 {shape}"))


@pytest.mark.parametrize(("where", "text"), MESSAGES, ids=[w for w, _ in MESSAGES])
def test_does_every_message_and_explorer_text_use_no_word_the_glossary_rules_out(where, text):
    found = variants_in(message_text(text))
    assert not found, f"{where}: " + "\n".join(found)

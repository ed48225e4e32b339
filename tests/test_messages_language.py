"""Does a Korean learner read every message in Korean: the fixed sentences and hints of
``autograde/messages.py``, the labels the test cells and the hidden tests write in English
(translated with ``autograde/labels.py``), the tampering reasons and the explorers' words?

What counts as an English word in a Korean text (:func:`english_words`):

- a word is a run of two or more ASCII letters; a single letter is a variable or maths (``x``, ``N``);
- code is not text: a span in backticks, and any token (the characters between spaces and
  Hangul, outer punctuation and unmatched brackets stripped) holding a digit or one of
  ``_ . ( ) [ ] = < > * / + @`` or of maths, ``− | ²`` (``model.train()``, ``backward()``, ``x.shape``,
  ``fc1``, ``kernel=3``, ``−log``);
- a gloss is not text: English in parentheses right after a Korean word (``말단(leaf)``), the
  glossary's rule for a term's first use;
- names stay as the code spells them (:data:`NAMES`): Python's ``True False None int float bool``
  and its exception classes, PyTorch's classes (``nn.ReLU`` written ``ReLU``, ``optim.SGD``,
  ``BatchNorm``), the exercises, their parameters and the names the test cells define (``labels``,
  ``logits``, ``xs``), the course's packages and the checker (``solutions``, ``autograde``,
  ``Checker``), Python's standard modules (``sys``, ``builtins``), the terms the glossary keeps in
  English (``autograd``, ``hook``), PyTorch, Python, NumPy, JupyterLab, inf and nan, and acronyms
  (``MSE``, ``GPU``: all capitals); but never a word the glossary rules out (``Tensor``, ``shape``,
  ``dropout``: docs/glossary.md);
- a value the code fills in (a shape, an identifier, PyTorch's own error text) is not the
  message's: templates are rendered with a neutral value in each placeholder.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import re
import string
import sys

import nbformat
import pytest
import torch
from test_glossary import load_glossary

from autograde import course, editions, hidden, labels, messages, tamper
from autograde.checks import Checker, CheckFailed

HANGUL = "가-힣"
BACKTICKS = re.compile(r"`[^`]*`")
GLOSS = re.compile(rf"(?<=[{HANGUL}])\*{{0,2}}\([A-Za-z][A-Za-z ,'\-]*\)")
TOKEN = re.compile(rf"[^\s{HANGUL}]+")
CODE_CHARS = set("_.()[]=<>*/+@−|²") | set(string.digits)
WORD = re.compile(r"[A-Za-z]{2,}")
NEUTRAL = "v_0"  # what a placeholder is filled with: code, so never an English word


def _exercise_names() -> set[str]:
    """The exercises and the names of their parameters, as the learner's code spells them."""
    import solutions

    names = set()
    for nb in editions.notebooks("en"):
        module = __import__(nb.reference, fromlist=["_"]) if nb.reference else solutions
        for exercise in (ex.name for ex in nb.exercises):
            names.add(exercise)
            target = getattr(module, exercise, None)
            if target is not None:
                target = target.forward if inspect.isclass(target) else target
                names.update(inspect.signature(target).parameters)
    return names


def test_cell_sources() -> list[tuple[str, str]]:
    """(exercise, source) of every test cell, magics left out (the code cells are the same in both editions)."""
    cells = []
    for nb in editions.notebooks("en"):
        for cell in nbformat.read(nb.path, as_version=4).cells:
            grade_id = course.nbgrader_meta(cell).get("grade_id", "")
            if cell.cell_type == "code" and grade_id.startswith("test_"):
                code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
                cells.append((grade_id[len("test_"):], code))
    return cells


test_cell_sources.__test__ = False  # a helper, not a test


def _test_cell_names() -> set[str]:
    """The names the test cells bind (``xs``, ``small``, ``always_three``)."""
    return {node.id for _, code in test_cell_sources() for node in ast.walk(ast.parse(code))
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


NAMES = (
    {"True", "False", "None", "int", "float", "bool", "PyTorch", "Python", "NumPy", "JupyterLab",
     "inf", "nan", "BatchNorm", "Checker", *tamper.GRADER_MODULES}
    | {term.korean for term in load_glossary() if term.korean.isascii()}  # autograd, hook
    | {name for name in dir(builtins) if name.endswith(("Error", "Warning", "Exception"))}
    | {name for module in (torch.nn, torch.optim) for name in dir(module) if name[:1].isupper()}
    | _exercise_names()
    | _test_cell_names()
    | set(sys.stdlib_module_names)
) - {variant for term in load_glossary() for variant in term.never}


PUNCTUATION = ",;:!?'\"“”‘’·…-"
BRACKETS = {"(": ")", "[": "]", "{": "}"}


def _core(token: str) -> str:
    """A token without its outer punctuation and the brackets it does not close (``(call`` -> ``call``)."""
    core, before = token.strip(PUNCTUATION), None
    while core != before:
        before = core
        if core[:1] in BRACKETS and core.count(core[0]) > core.count(BRACKETS[core[0]]):
            core = core[1:]
        closing = {v: k for k, v in BRACKETS.items()}
        if core[-1:] in closing and core.count(core[-1]) > core.count(closing[core[-1]]):
            core = core[:-1]
        core = core.strip(PUNCTUATION)
    return core


def english_words(text: str) -> list[str]:
    """The English words in a Korean text: see the module's docstring for what is not counted."""
    text = GLOSS.sub(" ", BACKTICKS.sub(" ", text))
    found = []
    for token in TOKEN.findall(text):
        core = _core(token)
        if not core or CODE_CHARS & set(core):
            continue
        found += [word for word in WORD.findall(core) if word not in NAMES and not word.isupper()]
    return found


def render(template: str) -> str:
    """A template with every placeholder (``{}``, ``{0}``, ``{name}``) filled with a neutral value."""
    return re.sub(r"\{[^{}]*\}", NEUTRAL, template).replace("{{", "{").replace("}}", "}")


def test_does_the_definition_of_an_english_word_hold():
    assert english_words("✗ train_one_epoch: small.training after train_one_epoch") == ["after"]
    assert english_words("기대한 값: True (call model.train())") == ["call"]
    assert english_words("shape이 (2, 3)인 Tensor") == ["shape", "Tensor"]
    assert not english_words("모양이 (2, 3)인 텐서, `with torch.no_grad():` 안에서 model.eval()을 호출하세요")
    assert not english_words("말단(leaf) 텐서는 grad_fn이 None입니다. ReLU 없이 fc3로 끝내세요; labels는 [N]")
    assert not english_words("ValueError를 일으키세요. autograd가 Python float를 반환합니다")


# -- the fixed sentences and the hints ----------------------------------------------------------------
TEMPLATES = [(f"TEXTS[{key!r}]", options) for key, options in messages.TEXTS.items()]
HINTS = [(f"GENERIC_HINTS[{key!r}]", options) for key, options in messages.GENERIC_HINTS.items()]
HINTS += [(f"HINTS[{ex!r}][{key!r}]", options) for ex, hints in messages.HINTS.items() for key, options in hints.items()]


@pytest.mark.parametrize(("name", "options"), TEMPLATES, ids=[name for name, _ in TEMPLATES])
def test_does_every_sentence_come_in_both_languages_with_the_same_placeholders(name, options):
    assert set(options) == set(messages.LANGUAGES), name
    fields = [sorted(f for _, f, _, _ in string.Formatter().parse(options[lang]) if f) for lang in messages.LANGUAGES]
    assert fields[0] == fields[1], name
    assert re.search(f"[{HANGUL}]", render(options["ko"])), options["ko"]


@pytest.mark.parametrize(("name", "options"), TEMPLATES, ids=[name for name, _ in TEMPLATES])
def test_is_every_sentence_in_korean_free_of_english_words(name, options):
    assert not english_words(render(options["ko"])), f"{name}: {options['ko']}"


@pytest.mark.parametrize(("name", "options"), HINTS, ids=[name for name, _ in HINTS])
def test_is_every_hint_in_korean_free_of_english_words(name, options):
    """A hint is shown as written (no placeholders); one that is only a formula is code in both languages."""
    assert set(options) == set(messages.LANGUAGES), name
    assert not english_words(options["ko"]), f"{name}: {options['ko']}"


# -- the labels of the test cells and of the hidden tests -----------------------------------------------
# The arguments of a check call that a learner reads: (positions, keywords). The hidden tests' observer
# (autograde/hidden.py) takes no expected value, so its label comes one place earlier.
SHOWN = {"close": ((2,), ("what",)), "equal": ((2,), ("what",)), "kind": ((), ("what",)),
         "pair": ((1,), ("what",)), "true": ((1, 2, 3), ("what", "expected", "got")),
         "raises": ((), ("what",)), "call": ((), ("what",)), "fail": ((0, 1, 2), ("what", "expected", "got"))}
OBSERVED = {**SHOWN, "close": ((1,), ("what",)), "equal": ((1,), ("what",))}


def template(node: ast.AST) -> str | None:
    """A string literal as written, an f-string with ``{}`` for each value; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # "text " f"more text"
        left, right = template(node.left), template(node.right)
        return left + right if left is not None and right is not None else None
    return None


def labels_in(source: str, calls: dict = SHOWN) -> tuple[list[str], list[str]]:
    """The texts a learner may read from the check calls in ``source``, and the hint keys they name."""
    shown, hints = [], []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in calls):
            continue
        positions, keywords = calls[node.func.attr]
        args = [node.args[i] for i in positions if i < len(node.args)]
        args += [k.value for k in node.keywords if k.arg in keywords]
        shown += [t for t in map(template, args) if t is not None]
        hints += [k.value.value for k in node.keywords if k.arg == "hint" and isinstance(k.value, ast.Constant)]
    return shown, hints


HIDDEN_SOURCE = inspect.getsource(hidden)
LABELS = sorted({t for _, code in test_cell_sources() for t in labels_in(code)[0]}
                | set(labels_in(HIDDEN_SOURCE, OBSERVED)[0]))


def test_are_the_labels_found_where_the_checks_write_them():
    assert len(LABELS) >= 100
    assert "small.training after train_one_epoch" in LABELS
    assert "an image of 4s becomes all 0.25: divide by 16, not by the maximum" in LABELS
    assert "backpropagating through the loss" in LABELS and "output for a random input of shape {}" in LABELS


@pytest.mark.parametrize("label", LABELS)
def test_does_every_label_read_in_korean(label):
    korean = messages.label("ko", label.replace("{}", NEUTRAL) if "{}" in label else label)
    assert not english_words(korean), f"{label!r} -> {korean!r}"
    assert messages.label("en", label) == label


def test_does_every_hint_a_check_names_exist_in_both_languages():
    named = [(ex, key) for ex, code in test_cell_sources() for key in labels_in(code)[1]]
    for ex, function in hidden.CASES.items():
        named += [(ex, key) for key in labels_in(inspect.getsource(function), OBSERVED)[1]]
    unknown = [(ex, key) for ex, key in named if key not in messages.HINTS.get(ex, {}) and key not in messages.GENERIC_HINTS]
    assert named and not unknown


def test_is_every_catalogue_entry_used_and_korean():
    used = set(LABELS)
    for key, korean in labels.KO.items():
        assert re.search(f"[{HANGUL}]", korean) or "{}" in key, key
        assert key.count("{}") == len(re.findall(r"\{\d*\}", korean)), key
    # Entries for the pieces the hidden tests build labels from ("first call") are found by the run below.
    assert len(used & set(labels.KO)) >= 0.8 * len(labels.KO)


def _type_names(text: str) -> bool:
    """``"Tensor"``, ``"int or float"``: what a kind check expects, which the checker writes in the learner's words."""
    return all(hasattr(builtins, word) or hasattr(torch, word) for word in text.split(" or "))


def _reference(exercise: str):
    for nb in editions.notebooks("en"):
        if exercise in (ex.name for ex in nb.exercises):
            return getattr(__import__(nb.reference, fromlist=["_"]), exercise)
    raise LookupError(exercise)


@pytest.mark.parametrize("exercise", sorted(hidden.CASES))
def test_does_every_label_the_hidden_tests_build_read_in_korean(exercise):
    """The labels as the hidden tests fill them in, values and all (``"3 steps on a model holding old gradients"``)."""
    observed = hidden.observe(exercise, _reference(exercise), lang="ko")
    shown = [messages.label("ko", item[field]) for item in observed for field in ("what", "expected")
             if isinstance(item.get(field), str) and item[field] and not _type_names(item[field])]
    assert shown
    english = {text: english_words(text) for text in shown if english_words(text)}
    assert not english, english


def test_does_a_korean_failure_say_what_was_checked_in_korean():
    """The issue's example: the label and the expected value of notebook 6's train_one_epoch test."""
    check = Checker("train_one_epoch", lang="ko")
    with pytest.raises(CheckFailed) as info:
        check.true(False, "small.training after train_one_epoch", "True (call model.train())", False, hint="train_mode")
    message = str(info.value)
    assert "✗ train_one_epoch: train_one_epoch 뒤의 small.training" in message
    assert "기대한 값: True (model.train()을 호출하세요)" in message
    assert not english_words(message.replace("train_one_epoch", ""))
    english = Checker("train_one_epoch", lang="en")
    with pytest.raises(CheckFailed) as info:
        english.true(False, "small.training after train_one_epoch", "True (call model.train())", False)
    assert "✗ train_one_epoch: small.training after train_one_epoch" in str(info.value)


def test_does_a_korean_kind_failure_join_the_types_in_korean():
    check = Checker("evaluate", lang="ko")
    with pytest.raises(CheckFailed) as info:
        check.kind("0.5", int, float, what="the return value, a Python float")
    assert "기대한 값: int 또는 float" in str(info.value) and "반환값, Python float" in str(info.value)


# -- tampering reasons ---------------------------------------------------------------------------------
TAMPERING = """
import solutions.digits
from autograde import checks
__import__("autograde.hidden")
setattr(sys, "stdout", None)
contextlib.redirect_stderr(None)
os.dup2(1, 2)
gc.get_objects()
builtins.print = None
Checker = None
sys.modules["x"] = None
"""


def test_does_every_tampering_reason_read_in_korean():
    reasons = tamper.scan(TAMPERING, {"Checker"})
    assert len(reasons) >= 8
    for reason in reasons:
        korean = messages.label("ko", reason)
        assert korean != reason and not english_words(korean), (reason, korean)
    joined = messages.text("ko", "grading_tampered", what="; ".join(reasons))
    assert not english_words(joined), joined
    assert messages.text("en", "grading_tampered", what="; ".join(reasons)).endswith(f"({'; '.join(reasons)})")
    watched = messages.text("ko", "grading_tampered", what="torch.Tensor.add, the standard output, the standard error stream")
    assert watched.endswith("(torch.Tensor.add, 표준 출력, 표준 오류 스트림)"), watched


def test_is_every_phrase_tamper_can_say_in_the_catalogue():
    phrases = []
    for node in ast.walk(ast.parse(inspect.getsource(tamper))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "add":
            phrases.append(template(node.args[0]))
    assert len(phrases) >= 7
    for phrase in phrases:
        assert phrase in labels.KO, phrase
        assert not english_words(render(labels.KO[phrase])), phrase


# -- the explorers -----------------------------------------------------------------------------------
def explorer_texts() -> list[tuple[str, str]]:
    """(English, Korean) of every ``say(en, ko)`` and ``plot_text(en, ko)`` in explore/."""
    pairs = []
    for path in sorted((course.REPO / "explore").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("say", "plot_text"):
                en, ko = (template(a) for a in node.args)
                if ko is not None:  # a name: its value is a literal written elsewhere (lr.VERDICTS_KO)
                    pairs.append((en, ko))
    return pairs


explorer_texts.__test__ = False


def test_does_every_explorer_text_read_in_korean():
    pairs = explorer_texts()
    assert len(pairs) >= 20
    english = [(ko, english_words(render(ko))) for _, ko in pairs if english_words(render(ko))]
    assert not english, english

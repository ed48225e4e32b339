"""Pairs of submissions whose solution cells are unusually alike: winnowing, as in MOSS.

Each solution cell becomes a stream of Python tokens in which comments, blank lines and layout
are dropped, string literals become one token and every name the student chose (parameters,
variables, helpers) becomes ``V``; keywords, builtins, attributes (``.mean``) and the names the
notebook itself provides (``torch``, ``F``) stay, since they say what the code does. Renaming
variables or reformatting a cell therefore changes nothing. The stream's k-grams are hashed and
winnowed (Schleimer, Wilkerson and Aiken, SIGMOD 2003: the smallest hash of every window of
``WINDOW`` k-grams is kept), which guarantees that any run of ``K + WINDOW - 1`` equal tokens is
found. Fingerprints of the released template (the starter code everybody has) and of the reference
solution (the answer anybody may reach) are removed, and so are fingerprints that more than a few
submissions share (the usual idiom), as MOSS does; what two submissions still share is unusual.

A pair's score is the share of the smaller submission's own fingerprints that the other has. It is a
reason to look at two hand-ins side by side, not a verdict.
"""

from __future__ import annotations

import ast
import builtins
import itertools
import keyword
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

K = 6  # tokens per k-gram
WINDOW = 4  # k-grams per winnowing window: every match of K + WINDOW - 1 = 9 tokens is found
MIN_SHARED = 3  # fingerprints a pair must share, in all, to be listed
MIN_SCORE = 0.5  # share of the smaller submission's own fingerprints
BUILTINS = frozenset(dir(builtins))


# One pattern for Python's tokens (comments, strings, numbers, names, operators); whitespace is what it skips.
TOKEN = re.compile(r"""
  \#[^\n]*
| [rRbBuUfF]{0,2}(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
| 0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJ]?
| [^\W\d]\w*
| \*\*=?|//=?|>>=?|<<=?|->|:=|\.\.\.|[-+*/%&|^@<>=!]=|[-+*/%&|^@~<>=.,:;()\[\]{}]
""", re.VERBOSE | re.DOTALL)


def given_names(sources: list[str]) -> frozenset[str]:
    """The names a notebook's own (locked) cells define or import: ``torch``, ``F``, a helper."""
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(_code_lines(source))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
    return frozenset(names)


def _code_lines(source: str) -> str:
    """The cell without IPython's line magics and shell escapes (blank lines keep the numbering)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _normalised(raw: list[str], given: frozenset[str]) -> list[int]:
    """Indexes into ``raw`` of the tokens kept; ``raw`` is rewritten in place to their normal form."""
    kept: list[int] = []
    previous = ""
    for i, text in enumerate(raw):
        first = text[0]
        if first == "#":
            continue
        if '"' in text or "'" in text:  # no other token holds a quote
            if previous == "S":  # implicit concatenation: one literal
                continue
            text = "S"
        elif (first.isalpha() or first == "_" or ord(first) > 127) and previous != "." and text not in given \
                and text not in BUILTINS and not keyword.iskeyword(text):
            text = "V"
        raw[i] = previous = text
        kept.append(i)
    return kept


def normalise(source: str, given: frozenset[str] = frozenset()) -> list[str]:
    """The cell's tokens: names as ``V`` (except keywords, builtins, attributes, ``given``), strings as ``S``.

    Comments, blank lines and layout are dropped. The scanner is one regular expression over Python's
    lexical rules rather than :mod:`tokenize`, which is ten times slower and stops at a cell that does
    not parse; where the two differ (an f-string's parts, a stray character) it is one token either way.
    """
    raw = TOKEN.findall(_code_lines(source))
    return [raw[i] for i in _normalised(raw, given)]


def token_lines(source: str, given: frozenset[str] = frozenset()) -> list[int]:
    """The source line (1-based) of each token :func:`normalise` returns, in the same order."""
    code = _code_lines(source)
    matches = list(TOKEN.finditer(code))
    kept = _normalised([m.group() for m in matches], given)
    return [code.count("\n", 0, matches[i].start()) + 1 for i in kept]


def numbering() -> defaultdict[str, int]:
    """A number for each token text, the next free one for a new text (tuples of ints hash alike in every process)."""
    return defaultdict(itertools.count().__next__)


def fingerprint(tokens: list[str], numbers: defaultdict[str, int]) -> dict[int, list[int]]:
    """The winnowed k-gram hashes of ``tokens``, each with the positions where its k-gram starts."""
    ids = list(map(numbers.__getitem__, tokens))
    grams = list(map(hash, zip(*(ids[k:] for k in range(K)))))  # each k-gram as a tuple of numbers, hashed
    chosen: dict[int, list[int]] = {}
    if not grams:
        return chosen
    width = min(WINDOW, len(grams))
    last = -1
    for start, low in enumerate(map(min, zip(*(grams[k:] for k in range(width))))):
        at = start + width - 1
        while grams[at] != low:  # the rightmost minimum of the window, as the paper does
            at -= 1
        if at != last:  # a window's choice is never older than the previous window's
            last = at
            chosen.setdefault(low, []).append(at)
    return chosen


@dataclass
class Pair:
    """Two submissions of one assignment and what their solution cells share."""

    assignment: str
    a: str
    b: str
    score: float  # shared / the smaller submission's own fingerprints
    shared: int  # fingerprints in common, over every exercise
    matches: dict[str, tuple[list[int], list[int]]]  # exercise -> positions of the shared tokens in a's cell, in b's


def common_limit(n: int) -> int:
    """More submissions than this sharing a fingerprint make it common (MOSS's -m), however small the class."""
    return max(3, math.ceil(0.05 * n))


def similar_pairs(assignment: str, cells: dict[str, dict[str, list[str]]], base: dict[str, list[list[str]]],
                  min_score: float = MIN_SCORE, min_shared: int = MIN_SHARED) -> list[Pair]:
    """Ranked pairs among ``cells`` (student -> exercise -> normalised solution cell) of one assignment.

    ``base`` maps each exercise to code nobody is credited with (MOSS's base files), normalised: the released
    cell, whose starter code everybody has, and the reference solution, the answer anybody may reach.
    """
    numbers = numbering()
    template = {ex: {h for tokens in given_code for h in fingerprint(tokens, numbers)} for ex, given_code in base.items()}
    prints: dict[str, dict[str, dict[int, list[int]]]] = {}
    holders: dict[tuple[str, int], list[str]] = defaultdict(list)
    for student, by_exercise in cells.items():
        prints[student] = {}
        for exercise, tokens in by_exercise.items():
            fp = fingerprint(tokens, numbers)
            for h in template.get(exercise, ()):
                fp.pop(h, None)
            prints[student][exercise] = fp
            for h in fp:
                holders[(exercise, h)].append(student)
    limit = common_limit(len(cells))
    common = {key for key, who in holders.items() if len(who) > limit}
    own = {s: sum(sum((ex, h) not in common for h in fp) for ex, fp in by_ex.items()) for s, by_ex in prints.items()}
    shared: Counter[tuple[str, str]] = Counter()
    for key, who in holders.items():
        if key in common or len(who) < 2:
            continue
        for i, a in enumerate(who):
            for b in who[i + 1:]:
                shared[(a, b) if a < b else (b, a)] += 1
    pairs = []
    for (a, b), count in shared.items():
        smaller = min(own[a], own[b])
        score = count / smaller if smaller else 0.0
        if count < min_shared or score < min_score:
            continue
        pairs.append(Pair(assignment, a, b, min(score, 1.0), count, _matches(prints[a], prints[b], common)))
    pairs.sort(key=lambda p: (-p.score, -p.shared, p.a, p.b))
    return pairs


def _matches(a: dict[str, dict[int, list[int]]], b: dict[str, dict[int, list[int]]],
             common: set[tuple[str, int]]) -> dict[str, tuple[list[int], list[int]]]:
    """Per exercise, the token positions of each cell covered by a fingerprint the two share (and few others do)."""
    result = {}
    for exercise in sorted(set(a) & set(b)):
        both = [h for h in a[exercise] if h in b[exercise] and (exercise, h) not in common]
        if both:
            result[exercise] = (_covered(a[exercise], both), _covered(b[exercise], both))
    return result


def _covered(fp: dict[int, list[int]], hashes: list[int]) -> list[int]:
    return sorted({i for h in hashes for start in fp[h] for i in range(start, start + K)})


def lines_of(source: str, positions: list[int], given: frozenset[str] = frozenset()) -> list[int]:
    """The source lines that hold the tokens at ``positions`` (as :func:`normalise` counts them)."""
    lines = token_lines(source, given)
    return sorted({lines[i] for i in positions if i < len(lines)})

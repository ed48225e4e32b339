"""Everything the accuracy tests grade, graded once per session in one warm process.

``tests/test_independence.py`` and ``tests/test_grading_accuracy.py`` share it: the notebooks
with one exercise left as the stub (both editions), the catalogues of wrong and right learner
solutions (``tests/catalogue/``) and a sample of the mutants of every reference solution.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from autograde import course, mutants, trial

CATALOGUE = Path(__file__).parent / "catalogue"
EDITIONS = {"en": course.REPO / "notebooks", "ko": course.REPO / "notebooks-ko"}
NOTEBOOKS = [(edition, nb) for edition, root in EDITIONS.items() for nb in course.notebooks(root)]
MUTANTS_PER_EXERCISE = 3  # make test grades this many of each exercise's mutants; make accuracy grades all


@dataclass(frozen=True)
class Entry:
    exercise: str
    what: str
    caught_by: str | None  # "visible" or "hidden" for a wrong solution, None for a right one
    source: str


def read_catalogue(name: str) -> list[Entry]:
    """The entries of ``tests/catalogue/<name>.cells``: ``# %% exercise | what [| caught by]`` then code."""
    text = (CATALOGUE / f"{name}.cells").read_text(encoding="utf-8")
    entries = []
    for part in re.split(r"(?m)^# %% ", text)[1:]:
        head, source = part.split("\n", 1)
        fields = [f.strip() for f in head.split("|")]
        entries.append(Entry(fields[0], fields[1], fields[2] if len(fields) > 2 else None, source.strip() + "\n"))
    return entries


WRONG = read_catalogue("wrong")
RIGHT = read_catalogue("right")


def stub_cases(nb: course.Notebook) -> tuple[dict[str, str], ...]:
    """The reference, then each exercise left as the released stub in turn."""
    solutions = dict(trial.solution_sources(nb))
    return tuple([{}] + [{e.name: trial.stub(solutions[e.name])} for e in nb.exercises])


@dataclass
class Answers:
    stubs: dict[tuple[str, str], list[dict[str, bool]]]  # (edition, notebook) -> per case
    wrong: dict[Entry, str]  # entry -> verdict
    right: dict[Entry, str]
    mutants: dict[mutants.Mutant, str]


_FAILED: list[BaseException] = []


def answers() -> Answers:
    """The graded answers, computed once; a failure is remembered, not retried by every test."""
    if _FAILED:
        raise RuntimeError("grading the trials failed earlier in this session") from _FAILED[0]
    try:
        return _answers()
    except BaseException as error:
        _FAILED.append(error)
        raise


@functools.cache
def _answers() -> Answers:
    sample = mutants.all_mutants(MUTANTS_PER_EXERCISE)
    requests: list = [trial.Score(nb, stub_cases(nb), edition) for edition, nb in NOTEBOOKS]
    tried = []
    for nb in course.notebooks():
        variants: dict[str, list[str]] = {}
        order = []
        for exercise in nb.exercises:
            for item in [*(e for e in WRONG + RIGHT if e.exercise == exercise.name), *sample[exercise.name]]:
                variants.setdefault(exercise.name, []).append(item.source)
                order.append(item)
        requests.append(trial.Try(nb, variants, nb.lang))
        tried.append((nb, order))
    results = trial.run(requests)
    stubs = {(edition, nb.name): result for (edition, nb), result in zip(NOTEBOOKS, results)}
    verdicts: dict = {}
    for (nb, order), result in zip(tried, results[len(NOTEBOOKS):]):
        flat = iter([v for e in nb.exercises for v in result.get(e.name, [])])
        for item in order:
            verdicts[item] = next(flat, "missing")
    return Answers(
        stubs=stubs,
        wrong={e: verdicts.get(e, "missing") for e in WRONG},
        right={e: verdicts.get(e, "missing") for e in RIGHT},
        mutants={m: verdicts[m] for ms in sample.values() for m in ms},
    )

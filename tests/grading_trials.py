"""What the accuracy tests grade, each part graded once per session in one warm process.

:func:`stubs` (``tests/test_independence.py``): the notebooks with one exercise left as the stub,
both editions. :func:`answers` (``tests/test_grading_accuracy.py``): the catalogues of wrong and
right learner solutions (``tests/catalogue/``) and a sample of the mutants of every reference
solution. The two are apart so that the two test files, on two pytest workers, grade side by side.
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
    wrong: dict[Entry, str]  # entry -> verdict
    right: dict[Entry, str]
    mutants: dict[mutants.Mutant, str]


_FAILED: dict[str, BaseException] = {}


def _once(compute):
    """``compute``, cached; a failure is remembered, not retried by every test."""
    cached = functools.cache(compute)

    @functools.wraps(compute)
    def wrapper():
        if compute.__name__ in _FAILED:
            raise RuntimeError("grading the trials failed earlier in this session") from _FAILED[compute.__name__]
        try:
            return cached()
        except BaseException as error:
            _FAILED[compute.__name__] = error
            raise

    return wrapper


@_once
def stubs() -> dict[tuple[str, str], list[dict[str, bool]]]:
    """(edition, notebook) -> which exercises passed, for the reference and then each exercise left as the stub."""
    results = trial.run([trial.Score(nb, stub_cases(nb), edition) for edition, nb in NOTEBOOKS])
    return {(edition, nb.name): result for (edition, nb), result in zip(NOTEBOOKS, results)}


@_once
def answers() -> Answers:
    """The verdicts on the catalogued wrong and right solutions and on the sampled mutants."""
    sample = mutants.all_mutants(MUTANTS_PER_EXERCISE)
    requests: list = []
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
    verdicts: dict = {}
    for (nb, order), result in zip(tried, results):
        flat = iter([v for e in nb.exercises for v in result.get(e.name, [])])
        for item in order:
            verdicts[item] = next(flat, "missing")
    return Answers(
        wrong={e: verdicts.get(e, "missing") for e in WRONG},
        right={e: verdicts.get(e, "missing") for e in RIGHT},
        mutants={m: verdicts[m] for ms in sample.values() for m in ms},
    )

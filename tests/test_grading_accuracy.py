"""Does every wrong answer lose its points and every right answer win them?

- Catalogued wrong solutions (``tests/catalogue/wrong.cells``, mistakes learners make) lose
  their exercise's points, and the checks that catch them first are the ones recorded: the
  visible check wherever catching it there reveals no hidden answer.
- Catalogued right solutions in other styles (``tests/catalogue/right.cells``) get full marks.
- Mutants of every reference solution (``autograde/mutants.py``, a sample of each exercise's;
  ``make accuracy`` grades all) lose points, or the oracle finds them equivalent.

Each is graded as a learner's submission would be (``autograde/trial.py``). Another exercise's
points cannot move: ``tests/test_independence.py`` shows no test cell uses another exercise.
"""

import pytest
from grading_trials import RIGHT, WRONG, answers

from autograde import course, mutants, oracle, trial

EXERCISES = {e.name for nb in course.notebooks() for e in nb.exercises}


def test_are_the_catalogues_big_enough_and_cover_every_exercise():
    assert len(WRONG) >= 100 and len(RIGHT) >= 50
    assert {e.exercise for e in WRONG} == EXERCISES == {e.exercise for e in RIGHT}
    assert all(e.caught_by in ("visible", "hidden") for e in WRONG)


@pytest.mark.parametrize("entry", WRONG, ids=[f"{e.exercise}: {e.what}" for e in WRONG])
def test_does_a_wrong_solution_lose_its_points_where_recorded(entry):
    assert answers().wrong[entry] == entry.caught_by


@pytest.mark.parametrize("entry", RIGHT, ids=[f"{e.exercise}: {e.what}" for e in RIGHT])
def test_does_a_right_solution_in_another_style_get_full_marks(entry):
    assert answers().right[entry] == "passed"


@pytest.mark.parametrize("entry", RIGHT, ids=[f"{e.exercise}: {e.what}" for e in RIGHT])
def test_does_the_oracle_find_a_right_solution_equivalent(entry):
    nb = trial.notebook_of(entry.exercise)
    mutant = mutants.Mutant(entry.exercise, 0, entry.what, entry.source)
    assert mutants.judge(nb, mutant) is None


@pytest.mark.parametrize("entry", WRONG, ids=[f"{e.exercise}: {e.what}" for e in WRONG])
def test_does_the_oracle_tell_a_wrong_solution_apart(entry):
    nb = trial.notebook_of(entry.exercise)
    assert mutants.judge(nb, mutants.Mutant(entry.exercise, 0, entry.what, entry.source)) is not None


def test_does_every_sampled_mutant_lose_points_unless_equivalent():
    survivors = []
    for mutant, verdict in answers().mutants.items():
        if verdict == "passed":
            difference = mutants.judge(trial.notebook_of(mutant.exercise), mutant)
            if difference is not None:
                survivors.append(f"{mutant.exercise} #{mutant.number} {mutant.description}: {difference}")
    assert not survivors, survivors


def test_does_the_mutator_make_mutants_of_every_exercise():
    counts = {name: len(ms) for name, ms in mutants.all_mutants().items()}
    assert set(counts) == EXERCISES and all(n >= 2 for n in counts.values()), counts
    assert sum(counts.values()) >= 300


def test_is_the_reference_equivalent_to_itself_for_the_oracle():
    for exercise in oracle.REFERENCES:
        assert oracle.differs(exercise, oracle.REFERENCES[exercise]) is None, exercise

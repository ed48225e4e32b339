"""Does an exercise's score depend on that exercise's code only?

For every exercise of every notebook, in both editions: the reference everywhere except that
exercise, left as the released stub, must score exactly the total minus that exercise's points.
The notebooks run as ``grade`` runs them (the engine's kernel in a forked child of one warm
process, see ``autograde/trial.py``); a test cell scores when it runs without an error.
"""

import pytest
from grading_trials import NOTEBOOKS, stubs

from autograde import course, trial


def points(nb, passed):
    return sum(e.points for e in nb.exercises if passed[e.name])


@pytest.mark.parametrize("edition, nb", NOTEBOOKS, ids=[f"{e}-{nb.name}" for e, nb in NOTEBOOKS])
def test_does_a_stub_cost_only_its_own_points(edition, nb):
    reference, *stubbed = stubs()[(edition, nb.name)]
    assert points(nb, reference) == nb.points, reference
    assert len(stubbed) == len(nb.exercises)
    for exercise, passed in zip(nb.exercises, stubbed):
        assert points(nb, passed) == nb.points - exercise.points, (exercise.name, passed)


def test_is_the_stub_the_student_copys_stub():
    source = dict(trial.solution_sources(course.notebooks()[0]))["Net"]
    stubbed = trial.stub(source)
    assert "BEGIN SOLUTION" not in stubbed and stubbed.count("raise NotImplementedError()") == 2
    assert "def forward(self, x: torch.Tensor) -> torch.Tensor:" in stubbed

"""What does a learner see when a check fails: the ✗ message and, when their code raised, the line
of their own cell that raised, never the frames of the grader, the hidden tests or the reference?
In a real kernel, in both languages, in the grader's stored outputs, in nbgrader's Validate and in
the feedback HTML.

The learner mistakes are real ones: the PyTorch blitz's ``Net`` (5x5 convolutions, so 400 features
reach an ``fc1`` built for 576) and a ``cross_entropy`` that gathers with 1-D labels.
"""

from __future__ import annotations

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook
from torch import nn

from autograde import call_text, course
from autograde.checks import Checker, CheckFailed

# The blitz's network in the course's Net cell: fc1 expects 16 * 6 * 6 = 576 values, 5x5 kernels leave 400.
BLITZ_NET = """class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 6 * 6, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)"""
FC1_LINE = "x = F.relu(self.fc1(x))"
# The course's Net without torch.flatten: fc1 meets [N, 16, 6, 6] and multiplies its last dimension.
NO_FLATTEN = BLITZ_NET.replace("(1, 6, 5)", "(1, 6, 3)").replace("(6, 16, 5)", "(6, 16, 3)").replace(
    "        x = torch.flatten(x, 1)\n", "")
# cross_entropy that forgets labels are [N]: gather needs an index of the same rank as log_p.
GATHER_1D = """def cross_entropy(logits, labels):
    log_p = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    picked = log_p.gather(1, labels)
    return -picked.mean()"""
GRADER_PATHS = ("autograde/", "autograde\\", "checks.py", "hidden.py", "solutions/", "Traceback", "File ")


def line_of(source: str, code: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if line.strip() == code)


def visible_test(assignment: str, exercise: str) -> str:
    """The test cell a learner sees (the source's test cell without its hidden tests)."""
    nb = nbformat.read(course.assignments()[assignment][0].path, as_version=4)
    cell = next(c for c in nb.cells if course.nbgrader_meta(c).get("grade_id") == f"test_{exercise}")
    return cell.source.split("### BEGIN HIDDEN TESTS")[0].rstrip()


def error_text(cell) -> str:
    (error,) = [o for o in cell.outputs if o.output_type == "error"]
    assert error.ename == "CheckFailed"
    return "\n".join(error.traceback)


def assert_no_grader_frames(text: str) -> None:
    for marker in GRADER_PATHS:
        assert marker not in text, f"{marker!r} in what the learner sees:\n{text}"


# -- the call and its arguments, without a kernel ------------------------------------------
def test_is_a_module_named_by_its_class_not_its_whole_repr():
    def forward_without_flatten(self, x):
        return self.fc1(x)  # the learner forgot torch.flatten

    net = nn.Sequential()
    net.fc1 = nn.Linear(576, 120)
    net.forward = forward_without_flatten.__get__(net)
    check = Checker("Net", lang="en")
    with pytest.raises(CheckFailed) as info:
        check.call(net, torch.zeros(1, 16, 6, 6))
    first = str(info.value).splitlines()[0]
    assert first.startswith("✗ Net: calling Sequential()(x) with x of shape (1, 16, 6, 6) raised RuntimeError: ")
    assert "Linear(in_features" not in str(info.value) and "(fc1)" not in str(info.value)


@pytest.mark.parametrize(("fn", "args", "kwargs", "en", "ko"), [
    (lambda n, kernel_size, stride=1, padding=0: 0, (28, 5), {"padding": 2},
     "calling <lambda>(28, 5, padding=2)", "<lambda>(28, 5, padding=2) 호출"),
    (lambda logits, labels: 0, (torch.zeros(2, 3), torch.tensor([0, 2])), {},
     "calling <lambda>(logits, labels) with logits of shape (2, 3), labels of shape (2,)",
     "<lambda>(logits, labels) 호출(logits: 모양 (2, 3), labels: 모양 (2,))"),
    (lambda module: 0, (nn.Linear(4, 3),), {}, "calling <lambda>(Linear(...))", "<lambda>(Linear(...)) 호출"),
    (lambda params, lr: 0, (iter([]), 0.1), {}, "calling <lambda>(params, 0.1) with params of type list_iterator",
     "<lambda>(params, 0.1) 호출(params: 타입 list_iterator)"),
])
def test_does_the_call_show_short_arguments_in_both_languages(fn, args, kwargs, en, ko):
    assert call_text.describe("en", fn, args, kwargs) == en
    assert call_text.describe("ko", fn, args, kwargs) == ko


def test_does_a_raise_outside_ipython_still_name_the_call_and_the_error():
    def cross_entropy(logits, labels):
        return logits.gather(1, labels).mean()

    for lang, said in (("en", "raised RuntimeError: "), ("ko", "중 오류: RuntimeError: ")):
        with pytest.raises(CheckFailed) as info:
            Checker("cross_entropy", lang=lang).call(cross_entropy, torch.zeros(2, 3), torch.tensor([0, 2]))
        first, *rest = str(info.value).splitlines()
        assert "cross_entropy(logits, labels)" in first and said in first
        assert len(rest) == 1 and rest[0].strip().startswith(("hint:", "힌트:"))


def test_does_ipython_show_only_the_message():
    error = CheckFailed("mse_loss", "✗ mse_loss: mse_loss(a, b)\n    expected: 5\n    got:      3")
    assert error._render_traceback_() == ["✗ mse_loss: mse_loss(a, b)", "    expected: 5", "    got:      3"]


# -- a real kernel, both languages -----------------------------------------------------------
@pytest.fixture(scope="module")
def kernel_run(tmp_path_factory):
    """A small notebook with the learner's mistakes and the course's test cells, run in a kernel."""
    from nbclient import NotebookClient

    net_test, ce_test = visible_test("01_network", "Net"), visible_test("02_losses", "cross_entropy")
    cells = {
        "setup": "import os\nimport torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
                 "from autograde.checks import Checker\nos.environ['COURSE_LANG'] = 'en'",
        "net": BLITZ_NET, "test_net_en": net_test,
        "no_flatten": NO_FLATTEN, "hidden_en": "from autograde import hidden\nhidden.check('Net', Net)",
        "cross_entropy": GATHER_1D, "test_ce_en": ce_test,
        "to_ko": "os.environ['COURSE_LANG'] = 'ko'",
        "hidden_ko": "hidden.check('Net', Net)", "net_ko": BLITZ_NET, "test_net_ko": net_test, "test_ce_ko": ce_test,
    }
    nb = new_notebook(cells=[new_code_cell(source) for source in cells.values()])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path_factory.mktemp("kernel")
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path)}}).execute()
    return dict(zip(cells, nb.cells, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "first", "where"), [
    ("en", "✗ Net: calling Net()(x) with x of shape (2, 1, 32, 32) raised RuntimeError: "
           "mat1 and mat2 shapes cannot be multiplied (2x400 and 576x120)", "    in your cell, line {line}: {code}"),
    ("ko", "✗ Net: Net()(x) 호출(x: 모양 (2, 1, 32, 32)) 중 오류: RuntimeError: "
           "mat1 and mat2 shapes cannot be multiplied (2x400 and 576x120)", "    여러분의 셀 {line}번째 줄: {code}"),
])
def test_does_a_raise_in_the_learners_net_show_the_call_and_their_line(kernel_run, lang, first, where):
    lines = error_text(kernel_run[f"test_net_{lang}"]).splitlines()
    assert lines[0] == first
    assert lines[1] == where.format(line=line_of(BLITZ_NET, FC1_LINE), code=FC1_LINE)
    assert len(lines) == 3 and lines[2].lstrip().startswith(("hint:", "힌트:"))
    assert_no_grader_frames("\n".join(lines))


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_does_a_hidden_test_failure_show_no_hidden_test_frame(kernel_run, lang):
    text = error_text(kernel_run[f"hidden_{lang}"])
    assert text.startswith("✗ Net: ") and "RuntimeError: mat1 and mat2 shapes cannot be multiplied" in text
    assert f"{line_of(NO_FLATTEN, FC1_LINE)}" in text.splitlines()[1] and FC1_LINE in text.splitlines()[1]
    assert_no_grader_frames(text)


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "said"), [("en", "raised RuntimeError: "), ("ko", "중 오류: RuntimeError: ")])
def test_does_a_raise_in_a_learners_function_name_its_arguments_and_line(kernel_run, lang, said):
    text = error_text(kernel_run[f"test_ce_{lang}"])
    first = text.splitlines()[0]
    assert first.startswith("✗ cross_entropy: ") and "cross_entropy(logits, labels)" in first and said in first
    assert "(2, 3)" in first and "(2,)" in first
    assert f"{line_of(GATHER_1D, 'picked = log_p.gather(1, labels)')}" in text.splitlines()[1]
    assert "picked = log_p.gather(1, labels)" in text.splitlines()[1]
    assert_no_grader_frames(text)


@pytest.mark.slow
def test_does_the_test_cell_itself_never_count_as_the_learners_line(kernel_run):
    for name in ("test_net_en", "test_ce_en"):
        assert "check.call" not in error_text(kernel_run[name])


# -- the grader, nbgrader's Validate and the feedback ------------------------------------------
@pytest.fixture(scope="module")
def graded_blitz(tmp_path_factory):
    """01_network handed in with the reference everywhere but the blitz's 5x5 kernels in Net."""
    from nbgrader.validator import Validator
    from test_instructor_workflow import run, submission, text_of

    from autograde.workspace import Workspace

    tmp = tmp_path_factory.mktemp("graded")
    course_dir, inbox = tmp / "course", tmp / "inbox" / "blitz"
    assert run("--course-dir", course_dir, "release", "01_network").rc == 0
    nb = submission(course_dir / "release", "01_network")
    cell = next(c for c in nb.cells if course.nbgrader_meta(c).get("grade_id") == "Net")
    cell.source = cell.source.replace("nn.Conv2d(1, 6, 3)", "nn.Conv2d(1, 6, 5)").replace(
        "nn.Conv2d(6, 16, 3)", "nn.Conv2d(6, 16, 5)")
    assert "nn.Conv2d(6, 16, 5)" in cell.source, "the reference Net changed; update this test's mistake"
    inbox.mkdir(parents=True)
    nbformat.write(nb, inbox / "01_network.ipynb")
    for argv in (["collect", inbox.parent], ["grade", "--workers", "1", "--no-progress"], ["feedback", "--no-progress"]):
        done = run("--course-dir", course_dir, *argv)
        assert done.rc == 0, done.out + done.err
    slow_ok = Workspace(root=course_dir, cell_timeout=120).config()  # (a loaded machine is not a failing cell)
    validated = Validator(config=slow_ok).validate(str(inbox / "01_network.ipynb"))
    autograded = nbformat.read(course_dir / "autograded/blitz/01_network/01_network.ipynb", as_version=4)
    feedback = (course_dir / "feedback/blitz/01_network/01_network.html").read_text(encoding="utf-8")
    return {"net_line": line_of(cell.source, FC1_LINE), "validated": validated, "autograded": autograded,
            "feedback": text_of(feedback)}


@pytest.mark.slow
def test_does_the_grader_store_only_the_message_and_the_learners_line(graded_blitz):
    cell = next(c for c in graded_blitz["autograded"].cells if course.nbgrader_meta(c).get("grade_id") == "test_Net")
    text = error_text(cell)
    assert text.splitlines()[0].startswith("✗ Net: calling Net()(x) with x of shape (2, 1, 32, 32) raised RuntimeError")
    assert text.splitlines()[1] == f"    in your cell, line {graded_blitz['net_line']}: {FC1_LINE}"
    assert_no_grader_frames(text)


@pytest.mark.slow
def test_does_validate_fail_the_notebook_with_the_message(graded_blitz):
    failed = graded_blitz["validated"].get("failed") or []
    (net,) = [f["error"] for f in failed if f["source"].startswith('check = Checker("Net")')]
    assert "✗ Net: calling Net()(x)" in net and f"in your cell, line {graded_blitz['net_line']}" in net
    for failure in failed:  # parameter_shapes(Net()) fails too: a wrong value, no traceback at all
        assert failure["error"].startswith("✗ ")
        assert_no_grader_frames(failure["error"])


@pytest.mark.slow
def test_does_the_feedback_show_the_message_and_no_grader_frame(graded_blitz):
    text = graded_blitz["feedback"]
    assert "✗ Net: calling Net()(x) with x of shape (2, 1, 32, 32) raised RuntimeError" in text
    assert f"in your cell, line {graded_blitz['net_line']}: {FC1_LINE}" in text
    for marker in ("autograde/", "hidden.py", "solutions/", "checks.py"):  # (a demo cell may show its own traceback)
        assert marker not in text


# -- a learner who silences the message still fails ------------------------------------------
SILENCERS = {
    "empty": "CheckFailed._render_traceback_ = lambda self: []",
    "none": "CheckFailed._render_traceback_ = lambda self: None",
    "raises": "CheckFailed._render_traceback_ = lambda self: 1 / 0",
    "deleted": "del CheckFailed._render_traceback_",
}
GRADING_SHELL = """
import json, sys
from autograde import checks, protocol, kernel
original = checks.CheckFailed.__dict__["_render_traceback_"]
results, shell = {}, kernel.make_shell()
for name, silencer in json.loads(sys.argv[1]).items():
    sent = {}
    job = protocol.Job.from_dict({"id": name, "token": "t", "lang": "en", "exercises": ["mse_loss"], "cells": [
        {"source": "from autograde.checks import CheckFailed, Checker\\n" + silencer, "learner": True,
         "exercise": "mse_loss"},
        {"source": "Checker('mse_loss').call(lambda output, target: output @ target, 1, 2)", "test": True,
         "exercise": "mse_loss"}]})
    kernel.run_cells(job, {}, lambda kind, **fields: sent.update({fields["cell"]: fields["result"]}) if kind == "cell"
                     else None, shell=shell)
    results[name] = {"outputs": [dict(o) for o in sent[1].outputs], "passed": sent[1].passed}
    checks.CheckFailed._render_traceback_ = original
open(sys.argv[2], "w").write(json.dumps(results))  # (the run captures file descriptors 1 and 2)
"""


@pytest.mark.slow
def test_does_a_learner_who_replaces_the_rendering_still_score_zero(tmp_path):
    """The rendering is a class attribute learner code can reach: whatever it does, the test cell fails."""
    import json
    import subprocess
    import sys

    from nbformat.v4 import new_output
    from nbgrader.utils import determine_grade

    results = tmp_path / "outputs.json"
    done = subprocess.run([sys.executable, "-c", GRADING_SHELL, json.dumps(SILENCERS), str(results)],
                          capture_output=True, text=True, timeout=120, cwd=course.REPO)
    assert done.returncode == 0, done.stderr
    for name, got in json.loads(results.read_text()).items():
        outputs = got["outputs"]
        assert not got["passed"], (name, outputs)  # the grader's own evidence: this test cell did not pass
        cell = new_code_cell("", metadata={"nbgrader": {"grade": True, "solution": False, "points": 2,
                                                          "grade_id": "test_mse_loss"}})
        cell.outputs = [new_output(**o) for o in outputs]
        assert outputs and determine_grade(cell)[0] == 0, (name, outputs)

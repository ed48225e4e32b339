"""Does the student environment hold what the notebooks import and nothing a student must not see
(reference solutions, hidden tests, instructor tools), and is notebook 1's Net handed out only
after notebook 1 is due?"""

import datetime as dt
import os
import re
import shutil
import site
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from secrets_scan import files_leaking

from autograde import given, sandbox
from autograde.course import REPO
from autograde.student_env import RUNTIME, build, imports_of, runtime_modules
from autograde.workspace import Workspace

STUDENT_MODULES = {"autograde/__init__.py", "autograde/checks.py", "autograde/call_text.py", "autograde/messages.py",
                   "autograde/labels.py",
                   "autograde/learner_frames.py", "autograde/lab_language.py", "autograde/student_lab.py",
                   "explore/__init__.py", "explore/graph.py", "explore/losses.py", "explore/lr.py", "explore/shapes.py",
                   "explore/text.py", "explore/widgets.py", "pyproject.toml"}
GIVEN_FILES = {"given/__init__.py", "given/network.py"}


def run(*argv, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "autograde", *map(str, argv)], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def envs(tmp_path_factory):
    root = tmp_path_factory.mktemp("envs")
    build(root / "self-study")
    build(root / "graded", graded=True)
    return root


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


# -- the given module -----------------------------------------------------------------------------
def test_is_given_network_written_from_the_reference_net():
    assert (REPO / "given" / "network.py").read_text(encoding="utf-8") == given.text("network.py"), \
        "given/network.py drifted from solutions/network.py: run python -m autograde sync"


def test_do_the_given_net_and_the_reference_net_compute_the_same_function():
    from given.network import Net as GivenNet
    from solutions.network import Net, parameter_shapes

    torch.manual_seed(0)
    reference = Net()
    torch.manual_seed(0)
    handed_out = GivenNet()
    assert parameter_shapes(handed_out) == parameter_shapes(reference)
    assert all(torch.equal(a, b) for a, b in zip(handed_out.state_dict().values(), reference.state_dict().values()))
    x = torch.randn(3, 1, 32, 32)
    assert torch.equal(handed_out(x), reference(x))


def test_does_given_network_hold_nothing_but_net():
    text = (REPO / "given" / "network.py").read_text(encoding="utf-8")
    assert re.findall(r"^(?:def|class) (\w+)", text, re.M) == ["Net"]


def test_does_no_notebook_import_solutions():
    for path in sorted(REPO.glob("notebooks*/*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            assert "solutions" not in imports_of("\n".join(x for x in cell.source.splitlines() if not x.startswith("%"))) \
                if cell.cell_type == "code" else True, path


# -- the environment's files ----------------------------------------------------------------------
def test_does_the_self_study_env_hold_the_notebooks_and_only_the_student_modules(envs):
    names = files(envs / "self-study")
    runtime = {n.removeprefix(f"{RUNTIME}/") for n in names if n.startswith(f"{RUNTIME}/")}
    assert runtime == STUDENT_MODULES | GIVEN_FILES
    notebooks = {n for n in names if n.endswith(".ipynb")}
    assert notebooks == {f"{p.parent.name}/{p.name}" for p in REPO.glob("notebooks/*/*.ipynb")}
    assert not any("solutions" in n or "hidden" in n for n in names)


def test_does_the_graded_runtime_leave_out_given_and_the_notebooks(envs):
    assert files(envs / "graded") == {f"{RUNTIME}/{n}" for n in STUDENT_MODULES}


def test_does_no_file_of_either_env_hold_reference_code_or_hidden_tests(envs):
    # The self-study copy may carry notebook 1's Net (given/); nothing else, and the graded image not even that.
    assert files_leaking(envs / "self-study", skip=("solutions.network.Net",)) == {}
    assert files_leaking(envs / "graded") == {}
    leaked = files_leaking(envs / "self-study")
    assert set(leaked) == {f"{RUNTIME}/given/network.py"}  # the scan does find what is there


def test_does_the_runtime_refuse_a_module_that_imports_the_secrets(tmp_path):
    (tmp_path / "autograde").mkdir()
    (tmp_path / "autograde" / "__init__.py").write_text("")
    (tmp_path / "autograde" / "sneaky.py").write_text("def f():\n    from autograde import hidden\n")
    (tmp_path / "autograde" / "hidden.py").write_text("")
    with pytest.raises(RuntimeError, match="autograde.hidden"):
        runtime_modules({"autograde.sneaky"}, repo=tmp_path)


def test_do_the_notebooks_imports_resolve_from_the_env_alone(envs, tmp_path):
    """A python without site (-S: no .pth, so no editable install of the repository) and only the
    runtime plus the site-packages folders on its path imports everything the notebooks import,
    and cannot import solutions or the hidden tests."""
    env = envs / "self-study"
    lines = sorted({line.strip() for nb in env.glob("*/*.ipynb") for cell in nbformat.read(nb, as_version=4).cells
                    if cell.cell_type == "code" for line in cell.source.splitlines()
                    if re.match(r"(from \S+ )?import ", line.strip())})
    assert any("given.network" in line for line in lines) and any("autograde.checks" in line for line in lines)
    probe = "\n".join([
        "import sys",
        f"sys.path[:] = [{str(env / RUNTIME)!r}, *{site.getsitepackages()!r},",
        "                *[p for p in sys.path if 'site-packages' not in p]]",
        "import os", "os.environ['MPLBACKEND'] = 'Agg'",
        *lines,
        "import autograde, explore, given",
        "assert all(m.__file__.startswith(" + repr(str(env)) + ") for m in (autograde, explore, given)), 'not the env'",
        "for name in ('solutions', 'autograde.hidden', 'autograde.grading'):",
        "    try:", "        __import__(name)", "    except ImportError:", "        pass",
        "    else:", "        raise SystemExit(name + ' is importable')",
        "print('ok')",
    ])
    done = subprocess.run([sys.executable, "-S", "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


@pytest.mark.slow
def test_does_pip_install_the_graded_runtime_and_nothing_else(envs, tmp_path):
    """The Dockerfile's install step (and Binder's): the runtime folder is a package pip takes."""
    target, runtime = tmp_path / "site", tmp_path / "runtime"
    shutil.copytree(envs / "graded" / RUNTIME, runtime)  # a build leaves its files there; keep the fixture's clean
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", target, runtime], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    installed = {n for n in files(target) if ".dist-info/" not in n}
    assert installed == STUDENT_MODULES - {"pyproject.toml"}
    assert files_leaking(target) == {}


def test_does_the_dockerfile_image_take_only_the_graded_runtime_from_the_repository():
    stages, current = {}, None
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if m := re.match(r"FROM (\S+)(?: AS (\S+))?", line):
            current = m.group(2) or "image"
            stages[current] = {"from": m.group(1), "lines": []}
        elif current and line.strip() and not line.startswith("#"):
            stages[current]["lines"].append(line.strip())
    assert list(stages)[-1] == "image" and stages["image"]["from"] == "base"
    copies = {stage: [x for x in s["lines"] if x.startswith("COPY")] for stage, s in stages.items()}
    assert copies["base"] == ["COPY requirements.txt constraints.txt /tmp/course/"]
    assert copies["image"] == ["COPY --from=build /env/.runtime /tmp/runtime"]
    assert any("python -m autograde student-env --graded /env" in x for x in stages["build"]["lines"])
    assert stages["image"]["from"] != "build"


# -- the release gate -----------------------------------------------------------------------------
def test_which_assignments_get_notebook_1s_net():
    assert not given.gets_given("01_network")
    assert all(given.gets_given(a) for a in ("02_losses", "03_backprop", "04_update", "05_shapes", "06_digits"))


def test_is_releasing_an_assignment_after_01_network_refused_until_01_network_is_due(tmp_path):
    ws = Workspace(root=tmp_path / "course")
    with pytest.raises(ValueError, match="no due date.*--before-due"):
        given.release_gate(ws, ["02_losses"])
    given.release_gate(ws, ["01_network"])  # notebook 1 itself reveals nothing
    given.release_gate(ws, ["02_losses"], before_due=True)
    given.set_due(ws, "01_network", dt.datetime(2026, 10, 1, 23, 59))
    with pytest.raises(ValueError, match="2026-10-01 23:59 UTC, which has not passed"):
        given.release_gate(ws, ["02_losses", "03_backprop"], now=dt.datetime(2026, 9, 30))
    given.release_gate(ws, ["02_losses"], now=dt.datetime(2026, 10, 2))


@pytest.mark.slow
def test_does_release_hand_out_net_only_after_01_network_is_due(tmp_path):
    course_dir = tmp_path / "course"
    refused = run("--course-dir", course_dir, "release", "02_losses")
    assert refused.returncode == 2 and "--before-due" in refused.stderr and "01_network" in refused.stderr
    assert not (course_dir / "release" / "02_losses").exists()
    assert run("--course-dir", course_dir, "release", "01_network", "--due", "2020-01-01").returncode == 0
    assert not (course_dir / "release" / "01_network" / "given").exists()
    released = run("--course-dir", course_dir, "release", "02_losses")
    assert released.returncode == 0, released.stderr
    assert (course_dir / "release" / "02_losses" / "given" / "network.py").read_text() == given.text("network.py")


# -- the grading sandbox --------------------------------------------------------------------------
def test_does_the_sandbox_mount_given_only_after_01_network():
    box = sandbox.Sandbox(("bwrap", "--ro-bind", "/usr", "/usr", *sandbox.ROOT_READ_ONLY, "--"), True, "test")
    given_dir = str((REPO / "given").resolve())
    assert sandbox.for_job(box, "ann/01_network/01_network") == box
    later = sandbox.for_job(box, "ann/02_losses/02_losses")
    assert later.prefix[-3:] == (*sandbox.ROOT_READ_ONLY, "--") and given_dir in later.prefix
    off = sandbox.Sandbox((), False, "off")
    assert sandbox.for_job(off, "ann/02_losses/02_losses") == off
    assert sandbox.with_given(later) == later and sandbox.mounts_given(later) and not sandbox.mounts_given(box)


def test_does_only_a_worker_without_given_preload_less():
    """Regression: a worker with given/ mounted was taken for one without (with_given added its mounts
    twice), so it skipped scikit-learn and every notebook 6 imported it again (a second and more each)."""
    from autograde.pool import worker_argv

    box = sandbox.Sandbox(("bwrap", "--ro-bind", "/usr", "/usr", *sandbox.ROOT_READ_ONLY, "--"), True, "test")
    assert "--light" in worker_argv(box)
    assert "--light" not in worker_argv(sandbox.with_given(box))
    assert "--light" not in worker_argv(sandbox.for_job(box, "ann/06_digits/06_digits"))
    assert "--light" not in worker_argv(sandbox.Sandbox((), False, "off"))


@pytest.mark.slow
def test_can_code_graded_for_01_network_not_import_given_in_the_sandbox():
    box = sandbox.choose("auto")
    if not box.on:
        pytest.skip(box.note)
    probe = "import given.network; print('imported')"
    first = subprocess.run(sandbox.for_job(box, "ann/01_network/01_network").command(sys.executable, "-P", "-c", probe),
                           capture_output=True, text=True, timeout=120)
    assert first.returncode != 0 and "ModuleNotFoundError" in first.stderr
    later = subprocess.run(sandbox.for_job(box, "ann/02_losses/02_losses").command(sys.executable, "-P", "-c", probe),
                           capture_output=True, text=True, timeout=120)
    assert later.returncode == 0 and later.stdout.strip() == "imported", later.stderr


@pytest.mark.slow
@pytest.mark.parametrize("sandbox_mode", ["off", "auto"])
def test_does_taking_net_from_given_in_01_network_score_zero(tmp_path, sandbox_mode):
    """Regression: 01_network's Net answered with `from given.network import Net` (the later notebooks'
    import) scores 0 for Net, flagged as tampering, with the sandbox off (where given/ is importable)
    as with it on (where it is not even there); the other exercises keep their points."""
    from test_instructor_workflow import points, submission
    from test_instructor_workflow import run as run_cli

    course_dir = tmp_path / "course"
    assert run_cli("--course-dir", course_dir, "release", "01_network").rc == 0
    nb = submission(course_dir / "release", "01_network")
    for cell in nb.cells:
        if (cell.metadata.get("nbgrader") or {}).get("grade_id") == "Net":
            cell.source = "from given.network import Net"
    target = tmp_path / "inbox" / "copycat" / "01_network" / "01_network.ipynb"
    target.parent.mkdir(parents=True)
    nbformat.write(nb, target)
    assert run_cli("--course-dir", course_dir, "collect", tmp_path / "inbox").rc == 0
    graded = run_cli("--course-dir", course_dir, "grade", "--no-progress", "--sandbox", sandbox_mode)
    full = sum(points("01_network").values())
    assert f"copycat/01_network: {full - points('01_network')['Net']:g}/{full:g}" in graded.out, graded.out
    assert "imports given.network" in graded.out, graded.out

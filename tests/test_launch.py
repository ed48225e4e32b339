"""Does `make lab` serve JupyterLab over a student copy, and does Binder's post-build step
set up a fresh environment the same way?"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from secrets_scan import files_leaking

from autograde.course import REPO

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 90) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


def interface_language(base: str, token: str) -> str:
    """The locale JupyterLab's front end will load: the user's setting, else the setting's default."""
    url = f"{base}/lab/api/settings/@jupyterlab/translation-extension:plugin?token={token}"
    with urllib.request.urlopen(url, timeout=10) as response:
        setting = json.load(response)
    return setting["settings"].get("locale", setting["schema"]["properties"]["locale"]["default"])


@pytest.mark.slow
@pytest.mark.parametrize(("edition", "copy", "locale"), [("en", "", "en"), ("ko", "ko", "ko_KR")])
def test_does_make_lab_serve_jupyterlab_over_the_student_copy(tmp_path, edition, copy, locale):
    port, token, student = free_port(), "course-test-token", tmp_path / "student"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "user-settings")}
    args = f"--no-browser --ip=127.0.0.1 --IdentityProvider.token={token}"
    lab = subprocess.Popen(
        ["make", "-s", "lab", f"EDITION={edition}", f"STUDENT_DIR={student}", f"LAB_PORT={port}", f"LAB_ARGS={args}"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/lab?token={token}") == 200
        tree = f"http://127.0.0.1:{port}/api/contents/{(Path(copy) / '01_network').as_posix()}?token={token}"
        with urllib.request.urlopen(tree, timeout=10) as response:
            names = [item["name"] for item in json.load(response)["content"]]
        assert "01_network.ipynb" in names
        assert interface_language(f"http://127.0.0.1:{port}", token) == locale
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
    notebooks = sorted((student / copy).glob("*/*.ipynb"))
    assert len(notebooks) >= 5
    for nb in notebooks:
        text = nb.read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text and "hidden.check" not in text


def test_does_student_copy_keep_a_learners_existing_work(tmp_path):
    from autograde.workspace import student_copy

    mine = tmp_path / "01_network" / "01_network.ipynb"
    mine.parent.mkdir(parents=True)
    mine.write_text('{"my": "work"}')
    written, kept = student_copy(tmp_path)
    assert kept == [mine] and mine.read_text() == '{"my": "work"}'
    assert len(written) >= 4


@pytest.mark.slow
def test_does_binder_postbuild_set_up_a_fresh_student_environment(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo, ignore=shutil.ignore_patterns(".venv", ".git", "course", "student", "__pycache__"))
    home, config = tmp_path / "home", tmp_path / "home" / ".jupyter"
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(config), "SKIP_PIP_INSTALL": "1",
           "COURSE_JUPYTER_CONFIG": str(config), "JUPYTER_PREFER_ENV_PATH": "0", "REPO_DIR": str(repo),
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COURSE_SOURCE": str(repo / "notebooks")}
    home.mkdir()
    (repo / ".git").mkdir()  # Binder's copy has the history, which holds the solutions too
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    done = subprocess.run(["bash", "binder/postBuild"], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    released = sorted((repo / "student").glob("*/*.ipynb"))
    assert len(released) >= 5 and all("BEGIN SOLUTION" not in p.read_text() for p in released)
    assert len(sorted((repo / "student" / "ko").glob("*/*.ipynb"))) == len(released)

    # The image keeps the student copies, the runtime and the Binder files: no solutions, no hidden
    # tests, no instructor tools, no history; no file anywhere holds reference code but the given Net.
    assert sorted(p.name for p in repo.iterdir()) == ["binder", "student"]
    kept = {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()}
    assert not [name for name in kept if "solutions" in name or "hidden" in name or name.endswith("grading.py")]
    assert "student/.runtime/autograde/checks.py" in kept and "student/.runtime/given/network.py" in kept
    assert files_leaking(repo, skip=("solutions.network.Net",)) == {}

    page_config = json.loads((config / "labconfig" / "page_config.json").read_text())
    disabled = page_config["disabledExtensions"]
    for plugin in ("formgrader", "assignment-list", "course-list", "create-assignment"):
        assert disabled.get(f"@jupyter/nbgrader:{plugin}") is True
    assert "@jupyter/nbgrader:validate-assignment" not in disabled

    # The server's own view of which extensions are on, with every config folder merged.
    probe = ("import json; from jupyter_core.paths import jupyter_config_path; "
             "from jupyter_server.extension.config import ExtensionConfigManager as M; "
             "print(json.dumps(M(read_config_path=jupyter_config_path()).get_jpserver_extensions()))")
    listing = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    enabled = json.loads(listing.stdout)
    for name in ("formgrader", "assignment_list", "course_list"):
        assert enabled[f"nbgrader.server_extensions.{name}"] is False
    assert enabled["autograde.lab_language"] is True  # the Korean launch link switches the interface language
    assert enabled["nbgrader.server_extensions.validate_assignment"] is True
    settings = json.loads((config / "jupyter_server_config.d" / "zz-course-student.json").read_text())
    assert settings["ServerApp"]["default_url"].endswith("/01_network/01_network.ipynb")


def test_do_the_language_settings_keep_what_else_is_there(tmp_path):
    from autograde import lab_language

    user = tmp_path / "user" / "@jupyterlab" / "translation-extension" / "plugin.jupyterlab-settings"
    user.parent.mkdir(parents=True)
    user.write_text('{\n  // written by JupyterLab\n  "displayStringsPrefix": true,\n}')
    lab_language.write_user_setting(tmp_path / "user", "ko")
    assert json.loads(user.read_text()) == {"displayStringsPrefix": True, "locale": "ko_KR"}
    lab_language.write_user_setting(tmp_path / "user", "en")
    assert json.loads(user.read_text())["locale"] == "en"

    default = lab_language.write_default(tmp_path / "copy", "ko")
    assert json.loads(default.read_text()) == {lab_language.PLUGIN: {"locale": "ko_KR"}}

"""The class on a real JupyterHub, on loopback only: JupyterHub from its Python package with its
proxy from npm (configurable-http-proxy, installed by .ci/run into .hub/), the dummy
authenticator and the local process spawner; an instructor and two students. A student logs in
with Chromium, fetches 02_losses from JupyterLab's Assignments tab, solves one exercise and submits;
the instructor collects from the exchange and grades; the student gets exactly that exercise's
points.

Without JupyterHub, the proxy, Chromium or Playwright the test is skipped, except in CI (CI=true),
where it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from test_browser import browser, no_browser  # noqa: F401  (fixture: the headless Chromium)
from test_instructor_workflow import run, solution_sources
from test_launch import free_port, wait_for

from autograde import course, exchange
from autograde.course import REPO
from autograde.workspace import Workspace

pytestmark = pytest.mark.slow  # grades notebooks, starts servers and a browser

ASSIGNMENT = "02_losses"
PASSWORD = "course-hub-test"
PROXY = Path(os.environ.get("CONFIGURABLE_HTTP_PROXY", REPO / ".hub" / "node_modules" / ".bin"
                            / "configurable-http-proxy"))
BIN = Path(sys.executable).parent


def hub_config(tmp: Path, port: int, hub_port: int, api_port: int, student_config: Path) -> str:
    args = ["--LabApp.expose_app_in_browser=True"] + (["--allow-root"] if os.geteuid() == 0 else [])
    return f"""
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{str(PROXY)!r}]
c.JupyterHub.db_url = "sqlite:///{tmp / 'hub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(tmp / 'cookie_secret')!r}
c.JupyterHub.pid_file = {str(tmp / 'hub.pid')!r}
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {PASSWORD!r}
c.Authenticator.allowed_users = {{"alice", "bob"}}
c.Authenticator.admin_users = {{"instructor"}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(tmp / 'home' / '{username}')!r}
c.Spawner.cmd = [{str(BIN / 'jupyterhub-singleuser')!r}]
c.Spawner.args = {args!r}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
# nbgrader names a submission after the system user (or $JUPYTERHUB_USER in a jovyan container);
# every server here runs as one system user, so each user's config names the student instead.
c.Spawner.environment = {{"JUPYTER_CONFIG_DIR": lambda spawner: {str(student_config)!r} + "/" + spawner.user.name,
                          "PATH": {str(BIN)!r} + ":/usr/bin:/bin"}}
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        no_browser("JupyterHub is not installed (pip install -r requirements-dev.txt)")
    if not PROXY.exists():
        no_browser(f"no configurable-http-proxy at {PROXY} (npm install --prefix .hub configurable-http-proxy)")
    tmp = tmp_path_factory.mktemp("hub")
    course_dir, exchange_dir = tmp / "course", tmp / "exchange"
    published = run("--course-dir", course_dir, "--exchange-dir", exchange_dir, "release", "--publish", "--before-due",
                    ASSIGNMENT)
    assert published.rc == 0, published.out + published.err
    # What the hub's image holds for every user (/etc/jupyter/nbgrader_config.py): the exchange and the course.
    student_config = tmp / "student-config"
    for user in ("alice", "bob"):
        (tmp / "home" / user).mkdir(parents=True)
        (student_config / user).mkdir(parents=True)
        (student_config / user / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.Exchange.root = {str(exchange_dir)!r}\n"
            f"c.CourseDirectory.course_id = {exchange.course_id(Workspace(root=course_dir))!r}\n"
            f"c.CourseDirectory.student_id = {user!r}\n")
    port, hub_port, api_port = free_port(), free_port(), free_port()
    (tmp / "jupyterhub_config.py").write_text(hub_config(tmp, port, hub_port, api_port, student_config))
    log = (tmp / "hub.log").open("w")
    server = subprocess.Popen([BIN / "jupyterhub", "-f", tmp / "jupyterhub_config.py"], cwd=tmp,
                              env={**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"},
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/hub/api/")
        yield {"base": base, "course_dir": course_dir, "exchange_dir": exchange_dir, "log": tmp / "hub.log",
               "home": tmp / "home"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
        for user in ("alice", "bob"):  # the spawner's servers run in sessions of their own
            shutil.rmtree(tmp / "home" / user, ignore_errors=True)


SOLVE = """async ({path, gradeId, source}) => {
  const contents = window.jupyterapp.serviceManager.contents;
  const model = await contents.get(path, {content: true});
  for (const cell of model.content.cells) {
    const meta = cell.metadata.nbgrader || {};
    if (meta.grade_id === gradeId && meta.solution && !meta.grade) { cell.source = source; }
  }
  await contents.save(path, {type: 'notebook', format: 'json', content: model.content});
}"""


def log_in(browser, hub, user: str):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{hub['base']}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_function("window.jupyterapp && window.jupyterapp.commands.hasCommand('nbgrader:open-assignment-list')",
                           timeout=240_000)
    return page


def test_does_a_student_fetch_solve_and_submit_on_the_hub_and_get_the_right_score(browser, hub):  # noqa: F811
    start = time.perf_counter()
    exercise = course.assignments()[ASSIGNMENT][0].exercises[0]
    page = log_in(browser, hub, "alice")
    page.evaluate("() => window.jupyterapp.commands.execute('nbgrader:open-assignment-list')")
    fetch = page.locator("#released_assignments_list .list_item", has_text=ASSIGNMENT).get_by_role("button",
                                                                                                     name="Fetch")
    fetch.click(timeout=120_000)
    fetched = hub["home"] / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    submit = page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).get_by_role("button",
                                                                                                    name="Submit")
    submit.wait_for(timeout=60_000)
    assert fetched.exists()
    page.evaluate(SOLVE, {"path": f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb", "gradeId": exercise.name,
                          "source": solution_sources(ASSIGNMENT)[exercise.name]})
    assert nbformat.read(fetched, as_version=4)  # saved as a notebook
    submit.click()
    inbound = exchange.inbound(Workspace(root=hub["course_dir"], exchange=hub["exchange_dir"]))
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(f"alice+{ASSIGNMENT}+") for p in inbound.iterdir()):
        assert time.monotonic() < deadline, "the submission never reached the exchange"
        time.sleep(0.5)
    page.close()

    args = ["--course-dir", hub["course_dir"], "--exchange-dir", hub["exchange_dir"]]
    collected = run(*args, "collect", "--exchange")
    assert collected.rc == 0, collected.out + collected.err
    graded = run(*args, "grade", "--no-progress", "--assignment", ASSIGNMENT)
    assert graded.rc == 0, graded.out + graded.err
    total = sum(e.points for nb in course.assignments()[ASSIGNMENT] for e in nb.exercises)
    assert f"alice/{ASSIGNMENT}: {exercise.points:g}/{total:g}" in graded.out
    feedback = run(*args, "feedback", "--no-progress", "--student", "alice")
    assert feedback.rc == 0, feedback.out + feedback.err
    html = (hub["course_dir"] / "feedback" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
    assert exercise.name in html
    print(f"hub round trip: {time.perf_counter() - start:.1f} s after the hub answered")

"""What a student sees in JupyterLab, in a real (headless) browser: does every notebook of the
student copy run in the browser with errors only where work is left to do, do the figures and
widgets render, do the widgets answer when a slider moves, and does nbgrader's Validate button
pass a solved notebook?

Screenshots go to $ARTIFACTS_DIR (default artifacts/screenshots/). Without Chromium
(/usr/bin/chromium, Debian's package) or Playwright the test is skipped, except in CI (CI=true),
where a missing browser is a failure.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from test_launch import free_port, wait_for  # the way the launch tests start a server

from autograde import course
from autograde.course import REPO

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", REPO / "artifacts" / "screenshots"))
TOKEN = "course-browser-test"
SOLVED = "05_shapes"  # the notebook the Validate button checks, once solved


def no_browser(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI needs the browser test: {reason}")
    pytest.skip(reason)


def solve(student: Path, source: Path, target: Path) -> None:
    """The student copy with every solution cell filled in from the source notebook."""
    answers = {course.nbgrader_meta(c)["grade_id"]: c.source for c in nbformat.read(source, as_version=4).cells
               if course.nbgrader_meta(c).get("solution")}
    nb = nbformat.read(student, as_version=4)
    for cell in nb.cells:
        meta = course.nbgrader_meta(cell)
        if meta.get("solution") and not meta.get("grade"):
            cell.source = answers[meta["grade_id"]]
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


def expect(locator):
    from playwright.sync_api import expect

    return expect(locator)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        no_browser("Playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        no_browser(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        except Error as error:
            no_browser(f"Playwright cannot start {CHROMIUM}: {str(error).splitlines()[0]}")
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, released):
    """JupyterLab over the student copy (every notebook as released), plus one solved notebook."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "student"
    for nb in course.notebooks():
        target = root / nb.assignment / nb.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(released.path("release", nb.assignment, nb.path.name), target)
    source = next(nb for nb in course.notebooks() if nb.assignment == SOLVED)
    solve(root / SOLVED / source.path.name, source.path, root / "solved" / SOLVED / source.path.name)
    settings = tmp / "settings"
    for plugin, values in {
        # Every cell in the page, not only those scrolled into view, so that each can be checked.
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces")}
    args = [Path(sys.executable).parent / "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={TOKEN}", "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    log = (tmp / "lab.log").open("w")
    server = subprocess.Popen(args, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/api/status?token={TOKEN}")
        yield {"base": base, "root": root, "log": tmp / "lab.log"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


# The notebook is run the way a student runs it: one cell after another (JupyterLab's "run all"
# stops at the first error, and the student copy's exercises raise until they are written).
RUN_NOTEBOOK = """async ({path, all}) => {
  const app = window.jupyterapp;
  const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await panel.context.ready;
  await panel.sessionContext.ready;
  while (!panel.sessionContext.session?.kernel) { await new Promise(r => setTimeout(r, 100)); }
  const notebook = panel.content;
  if (all) {
    await app.commands.execute('notebook:run-all-cells');
  } else {
    for (let i = 0; i < notebook.widgets.length; i++) {
      notebook.activeCellIndex = i;
      notebook.deselectAll();
      await app.commands.execute('notebook:run-cell');
    }
  }
  const cells = [];
  panel.node.dataset.courseTest = path;  // for the locators on the Python side
  for (const [i, cell] of notebook.widgets.entries()) {
    const outputs = cell.model.type === 'code' ? cell.model.outputs.toJSON() : [];
    const images = [...cell.node.querySelectorAll('.jp-OutputArea-output img')];
    await Promise.all(images.map(img => img.decode().catch(() => null)));
    cells.push({
      index: i, type: cell.model.type, source: cell.model.sharedModel.getSource(),
      nbgrader: cell.model.getMetadata('nbgrader') || {},
      errors: outputs.filter(o => o.output_type === 'error').map(o => `${o.ename}: ${o.evalue}`),
      enames: outputs.filter(o => o.output_type === 'error').map(o => o.ename),
      stderr: outputs.filter(o => o.output_type === 'stream' && o.name === 'stderr').map(o => o.text).join(''),
      pngs: outputs.filter(o => o.data && o.data['image/png']).length,
      widgets: outputs.filter(o => o.data && o.data['application/vnd.jupyter.widget-view+json']).length,
      imagesShown: images.filter(img => img.complete && img.naturalWidth > 0).length,
      widgetViews: cell.node.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length,
    });
  }
  return cells;
}"""

CLOSE_NOTEBOOK = """async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  await panel.sessionContext.shutdown();
  panel.context.model.dirty = false;
  panel.dispose();
}"""


def open_lab(browser, lab, workspace: str):
    """A page with JupyterLab in a workspace of its own, so that nothing another test opened comes back."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{lab['base']}/lab/workspaces/{workspace}?reset&token={TOKEN}")
    page.wait_for_function("window.jupyterapp && window.jupyterapp.commands.hasCommand('notebook:run-cell')",
                           timeout=60_000)
    return page


def run(page, path: str, all_cells: bool = False) -> list[dict]:
    cells = page.evaluate(RUN_NOTEBOOK, {"path": path, "all": all_cells})
    page.wait_for_timeout(200)  # let the last outputs paint before anything is photographed
    return cells


def shot(locator, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def panel(page, path: str):
    return page.locator(f".jp-NotebookPanel[data-course-test='{path}']")


def cell_at(page, path: str, index: int):
    return panel(page, path).locator(".jp-Notebook .jp-Cell").nth(index)


def drag(page, slider, fraction: float) -> None:
    """Drag a slider's handle with the mouse to ``fraction`` of the way along its track."""
    handle, track = slider.locator(".noUi-handle"), slider.locator(".noUi-target").bounding_box()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(track["x"] + fraction * track["width"], y, steps=8)
    page.mouse.up()


def check_shape_explorer(page, cell, name: str) -> None:
    """Move the input-size slider and tick ceil_mode: the table must follow."""
    table = cell.locator(".shape-trace")
    table.wait_for()
    shot(cell, f"{name}-explorer-before")
    before = table.inner_text()
    assert "(1, 576)" in before and "✓" in cell.locator(".shape-verdict").inner_text()
    drag(page, cell.locator(".widget-slider").first, 0.35)  # the input size: smaller
    expect(table).not_to_have_text(before, timeout=15_000)  # (the widget replaces the table: a locator follows)
    expect(cell.locator(".shape-verdict")).to_contain_text("✗")  # fc1 no longer matches
    after_drag = table.inner_text()
    cell.get_by_role("checkbox", name="ceil_mode").check()
    expect(table).not_to_have_text(after_drag, timeout=15_000)
    shot(cell, f"{name}-explorer-after")


def check_lr_explorer(page, cell, name: str) -> None:
    """Push the learning rate to its top: the curve is redrawn and the verdict says it diverges."""
    verdict, image = cell.locator(".lr-verdict"), cell.locator("img.widget-image")
    verdict.wait_for()
    shot(cell, f"{name}-explorer-before")
    before_text, before_src = verdict.inner_text(), image.get_attribute("src")
    assert "good" in before_text
    drag(page, cell.locator(".widget-slider").first, 1.0)  # to the right end: the largest rate
    expect(verdict).to_contain_text("diverging", timeout=30_000)
    expect(image).not_to_have_attribute("src", before_src, timeout=30_000)
    shot(cell, f"{name}-explorer-after")


EXPLORERS = {"shape_explorer()": check_shape_explorer, "lr_explorer()": check_lr_explorer}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_does_the_student_copy_run_render_and_respond_in_a_real_browser(browser, lab):
    page = open_lab(browser, lab, "student-copy")
    problems, explored, figures = [], set(), set()
    try:
        for nb in course.notebooks():
            name = nb.path.stem
            path = f"{nb.assignment}/{nb.path.name}"
            cells = run(page, path)
            solved = nbformat.read(nb.path, as_version=4).cells  # nbval re-runs these outputs
            assert len(solved) == len(cells)
            first_exercise = min(c["index"] for c in cells if c["nbgrader"].get("solution"))
            for cell in cells:
                graded = cell["nbgrader"].get("solution") or cell["nbgrader"].get("grade")
                where = f"{name} cell {cell['index']}"
                if cell["stderr"]:
                    problems.append(f"{where} wrote to stderr: {cell['stderr'][:200]}")
                # Outside the exercises, an error may only be the consequence of one left to do: after
                # the first exercise, in a cell that runs cleanly in the solved notebook.
                follows = cell["index"] > first_exercise and not any(
                    o.output_type == "error" for o in solved[cell["index"]].get("outputs", []))
                if cell["errors"] and not graded and not follows:
                    problems.append(f"{where} (not an exercise) shows {cell['errors']}")
                if "from explore" in cell["source"] and cell["errors"]:
                    problems.append(f"{where} draws or explores, and shows {cell['errors']}")
                if cell["imagesShown"] < cell["pngs"]:
                    problems.append(f"{where}: {cell['pngs']} figures, {cell['imagesShown']} shown")
                if cell["widgetViews"] < cell["widgets"]:
                    problems.append(f"{where}: a widget output that did not render")
                if cell["pngs"]:
                    figures.add(name)
                    shot(cell_at(page, path, cell["index"]), f"{name}-cell{cell['index']}-figure")
                for call, check in EXPLORERS.items():
                    if cell["source"].rstrip().endswith(call):
                        assert cell["widgets"], f"{where}: {call} showed no widget"
                        check(page, cell_at(page, path, cell["index"]), name)
                        explored.add(call)
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
            page.evaluate(CLOSE_NOTEBOOK)
    finally:
        page.close()
    assert not problems, "\n".join(problems)
    assert explored == set(EXPLORERS)
    assert {"02_losses", "03_backprop", "04_update"} <= figures


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_does_validate_pass_a_solved_notebook_in_the_browser(browser, lab):
    page = open_lab(browser, lab, "solved")
    try:
        path = f"solved/{SOLVED}/{SOLVED}.ipynb"
        cells = run(page, path, all_cells=True)
        assert not [c["errors"] for c in cells if c["errors"]], "a solved notebook runs without errors"
        panel(page, path).locator(".validate-button").click()
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for(timeout=120_000)
        shot(dialog.locator(".jp-Dialog-content"), f"{SOLVED}-validate")
        assert "Success! Your notebook passes all the tests." in dialog.inner_text(), dialog.inner_text()[:2000]
        dialog.get_by_role("button", name="Ok").click()
        page.evaluate(CLOSE_NOTEBOOK)
    finally:
        page.close()

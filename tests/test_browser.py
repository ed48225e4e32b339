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
import urllib.request
from pathlib import Path

import nbformat
import pytest
from test_launch import free_port, wait_for  # the way the launch tests start a server

from autograde import course
from autograde.course import REPO
from autograde.editions import EDITIONS
from autograde.workspace import Workspace, release

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", REPO / "artifacts" / "screenshots"))
TOKEN = "course-browser-test"
SOLVED = "05_shapes"  # the notebook the Validate button checks, once solved
GRADER_FRAMES = ("autograde/", "checks.py", "hidden.py", "solutions/")
FAILING = "02_losses"  # the notebook whose failing check is photographed in each edition
# A learner's mse_loss that averages rows, then "columns" of what is left: a 1-D tensor has no dim 1.
MISTAKE = """def mse_loss(output, target):
    if output.shape != target.shape:
        raise ValueError("different shapes")
    squared = (output - target) ** 2
    return squared.mean(dim=1).mean(dim=1)"""
MISTAKE_LINE = 5


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
    # As Binder's post-build step does: the Korean launch link switches the interface language.
    server_config = tmp / "config" / "jupyter_server_config.d" / "course.json"
    server_config.parent.mkdir(parents=True)
    server_config.write_text(json.dumps({"ServerApp": {"jpserver_extensions": {"autograde.lab_language": True}}}))
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
RUN_NOTEBOOK = """async ({path, all, upto, sources}) => {
  const app = window.jupyterapp;
  const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await panel.context.ready;
  await panel.sessionContext.ready;
  while (!panel.sessionContext.session?.kernel) { await new Promise(r => setTimeout(r, 100)); }
  const notebook = panel.content;
  for (const [i, source] of Object.entries(sources || {})) {  // what a learner typed into a cell
    notebook.widgets[Number(i)].model.sharedModel.setSource(source);
  }
  if (all) {
    await app.commands.execute('notebook:run-all-cells');
  } else {
    const last = upto ?? notebook.widgets.length - 1;
    for (let i = 0; i <= last; i++) {
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
      shown: cell.node.querySelector('.jp-OutputArea')?.innerText || '',  // what the learner reads
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


def run(page, path: str, all_cells: bool = False, upto: int | None = None,
        sources: dict[int, str] | None = None) -> list[dict]:
    """Run a notebook's cells (to ``upto``), after typing ``sources`` into cells by index."""
    cells = page.evaluate(RUN_NOTEBOOK, {"path": path, "all": all_cells, "upto": upto,
                                         "sources": {str(i): text for i, text in (sources or {}).items()}})
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
                # A failing check shows its message (a test cell may also fail on a name an earlier
                # exercise left undefined: then the test cell's own line, still no grader frame).
                if cell["nbgrader"].get("grade") and any(frame in cell["shown"] for frame in GRADER_FRAMES):
                    problems.append(f"{where} shows the grader's own frames: {cell['shown'][:300]!r}")
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


# Does a glyph come from a font? Each character is drawn on a canvas in the font of the notebook's
# text: a character no font has is drawn as the same fallback box as any other missing character.
GLYPHS = """(notebook) => {
  const markdown = [...notebook.querySelectorAll('.jp-RenderedMarkdown')];
  const text = markdown.map(node => node.textContent).join(' ');
  const hangul = [...new Set(text.match(/[\\uAC00-\\uD7A3]/g) || [])].slice(0, 2);
  const family = getComputedStyle(markdown[0]).fontFamily;
  const draw = ch => {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 48;
    const g = canvas.getContext('2d');
    g.font = `32px ${family}`;
    g.fillText(ch, 4, 38);
    return canvas.toDataURL();
  };
  const missing = draw('\\u{10FFFD}');  // a private-use character: no font has it
  return {hangul, family, boxesAlike: draw('\\u{10FFFC}') === missing,
          drawn: hangul.map(ch => draw(ch) !== missing), distinct: hangul.length === 2 && draw(hangul[0]) !== draw(hangul[1])};
}"""

SAID = {  # what the message says, per edition
    "en": ("calling mse_loss(output, target) with output of shape (2, 2), target of shape (2, 2) raised IndexError",
           f"in your cell, line {MISTAKE_LINE}: return squared.mean(dim=1).mean(dim=1)", "File"),
    "ko": ("mse_loss(output, target) 호출(output: 모양 (2, 2), target: 모양 (2, 2)) 중 오류: IndexError",
           f"여러분의 셀 {MISTAKE_LINE}번째 줄: return squared.mean(dim=1).mean(dim=1)", "파일"),
}


@pytest.fixture(scope="module")
def korean_copy(lab, tmp_path_factory):
    """The Korean copy of one notebook, where Binder puts it (ko/ beside the English copy)."""
    korean = Workspace(root=tmp_path_factory.mktemp("ko-course"), source=EDITIONS["ko"])
    for nb in release(korean, [FAILING]):
        (lab["root"] / "ko" / FAILING).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nb, lab["root"] / "ko" / FAILING / nb.name)


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("edition", ["en", "ko"])
def test_does_a_failing_check_show_only_its_message_in_each_edition(browser, lab, korean_copy, edition):
    """The learner's launch link, the test cell of mse_loss run with the stub, then with a mistake."""
    path = f"{'ko/' if edition == 'ko' else ''}{FAILING}/{FAILING}.ipynb"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # Binder's links: plain for English, through /course-language/ko/ for Korean.
        link = f"course-language/ko/{path}" if edition == "ko" else f"lab/tree/{path}"
        page.goto(f"{lab['base']}/{link}?token={TOKEN}")
        page.wait_for_function("window.jupyterapp && window.jupyterapp.commands.hasCommand('notebook:run-cell')",
                               timeout=60_000)
        called, line, menu = SAID[edition]
        assert page.evaluate("document.documentElement.lang").startswith(edition)
        expect(page.locator(".lm-MenuBar-itemLabel").first).to_have_text(menu)

        cells = run(page, path, upto=8)
        exercise, test = cells[7], cells[8]
        assert exercise["nbgrader"]["grade_id"] == "mse_loss" and test["nbgrader"]["grade_id"] == "test_mse_loss"
        stub = test["shown"]
        assert stub.startswith("✗ mse_loss") and "NotImplementedError" in stub, stub
        shot(cell_at(page, path, 8), f"{FAILING}-stub-check-{edition}")

        shown = run(page, path, upto=8, sources={7: MISTAKE})[8]["shown"]
        assert shown.splitlines()[0].startswith(f"✗ mse_loss: {called}"), shown
        assert shown.splitlines()[1].strip() == line, shown
        for frame in (*GRADER_FRAMES, "Traceback", "File "):
            assert frame not in stub and frame not in shown
        shot(cell_at(page, path, 8), f"{FAILING}-failed-check-{edition}")

        if edition == "ko":
            glyphs = panel(page, path).evaluate(GLYPHS)
            assert glyphs["boxesAlike"], "the fallback box must be recognisable for this check to mean anything"
            assert len(glyphs["hangul"]) == 2 and all(glyphs["drawn"]) and glyphs["distinct"], glyphs
        page.screenshot(path=str(ARTIFACTS / f"{FAILING}-lab-{edition}.png"))
        page.evaluate(CLOSE_NOTEBOOK)
    finally:
        page.close()
        # The language is the server's, like a learner's setting: give the next test English again.
        urllib.request.urlopen(f"{lab['base']}/course-language/en/?token={TOKEN}", timeout=30).close()

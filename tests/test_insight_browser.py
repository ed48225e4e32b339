"""The class report in a real (headless) browser: does the page open from disk without the network,
draw its charts, and show two similar submissions side by side when asked, in English and Korean?

Screenshots go to $ARTIFACTS_DIR (default artifacts/screenshots/). Without Chromium
(/usr/bin/chromium, Debian's package) or Playwright the test is skipped, except in CI (CI=true),
where a missing browser is a failure.
"""

import json
from pathlib import Path

import pytest
from test_browser import ARTIFACTS, browser  # noqa: F401  (fixture: the headless Chromium)

from autograde import bench_insight, course, insight, insight_text


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """The report of a synthetic class graded twice (so that progress has a chart), in each language."""
    ws = bench_insight.write_class(tmp_path_factory.mktemp("insight-browser"), 20, figures=False)
    insight.analyse(ws)  # the first run, kept in the history
    for path in ws.path("reports").glob("*/02_losses.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        data["digest"] = "regraded"
        data["result"]["scores"]["mse_loss"] = data["result"]["max_scores"]["mse_loss"]
        path.write_text(json.dumps(data), encoding="utf-8")
    return {lang: insight.build(ws, ws.root / f"report-{lang}", lang)[1][0] for lang in ("en", "ko")}


def open_page(browser, path: Path):  # noqa: F811
    """The page, with every request that is not the file itself and every script error recorded."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = {"requests": [], "errors": []}
    page.on("request", lambda r: seen["requests"].append(r.url) if r.url != path.as_uri() else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, seen


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_does_the_report_render_its_charts_offline_and_show_a_pair_side_by_side(browser, pages, lang):  # noqa: F811
    page, seen = open_page(browser, pages[lang])
    try:
        assert page.locator("html").get_attribute("lang") == lang
        assert page.locator("h1").inner_text() == insight_text.text(lang, "title")
        assignments = len(course.assignments())
        charts = page.locator("svg.chart")
        assert charts.count() == 2 * assignments, "a bar chart per assignment, and a progress chart per assignment"
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box and box["width"] > 300 and box["height"] > 60, f"chart {i} is not drawn: {box}"
        bars = page.locator("svg.chart rect.seg")
        assert bars.count() >= assignments and bars.first.bounding_box()["width"] > 0
        assert page.locator("svg.chart polyline.series").count() > 0
        flagged = page.locator("tr.flagged")
        assert flagged.count() >= 1 and flagged.first.get_attribute("data-exercise") == bench_insight.RANDOM[1]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"insight-{lang}.png"), full_page=True)

        pair = page.locator("tr.pair-row").first
        assert (pair.get_attribute("data-a"), pair.get_attribute("data-b")) == bench_insight.PAIR
        marks = pair.locator("mark")
        assert not marks.first.is_visible(), "the side-by-side view stays closed until asked for"
        pair.locator("summary").click()
        marks.first.wait_for(state="visible", timeout=5_000)
        assert pair.locator(".pair pre").count() == 2 * len(bench_insight.PAIR_CODE)
        pair.screenshot(path=str(ARTIFACTS / f"insight-{lang}-pair.png"))
    finally:
        page.close()
    assert not seen["errors"], seen["errors"]
    assert not seen["requests"], f"the page asked the network for {seen['requests']}"


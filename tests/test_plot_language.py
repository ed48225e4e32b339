"""Do the figures speak the learner's language: Korean words for a Korean learner where matplotlib
has a font with Hangul (``fonts-noto-cjk``, which .ci/run and binder/apt.txt install), English words
and not a single missing-glyph warning (boxes in the picture) where it has none?"""

from __future__ import annotations

import io
import json
import re
import warnings

import matplotlib
import pytest
from matplotlib import font_manager
from matplotlib.figure import Figure

from explore import text
from explore.losses import draw_losses
from explore.lr import Run, draw_runs

HANGUL = re.compile("[가-힣]")
RUNS = [Run(0.001, (1.0, 0.95, 0.9), 3), Run(0.05, (1.0, 0.3, 0.1), 3), Run(1.5, (1.0, 30.0, float("inf")), 3)]


@pytest.fixture
def fresh(monkeypatch):
    """matplotlib's settings and the font search as they were; the language is set by each test."""
    text.hangul_font.cache_clear()
    with matplotlib.rc_context():
        yield monkeypatch
    text.hangul_font.cache_clear()


def drawn(fig: Figure) -> tuple[list[str], list[str]]:
    """The words on a figure (titles, axis labels, legends, notes), and the warnings drawing it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    words = [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
    return words, [str(w.message) for w in caught]


def figures() -> list[Figure]:
    return [draw_losses(), draw_runs(RUNS)]


def no_hangul_fonts(monkeypatch) -> None:
    """matplotlib's font lookup pointed at fonts without Hangul (what a machine without a CJK font has)."""
    plain = [f for f in font_manager.fontManager.ttflist if f.name.startswith("DejaVu")]
    assert plain
    monkeypatch.setattr(font_manager.fontManager, "ttflist", plain)


def test_does_a_korean_learner_get_korean_plot_words_where_a_font_has_hangul(fresh):
    fresh.setenv("COURSE_LANG", "ko")
    if text.hangul_font() is None:
        pytest.skip("no font with Hangul here: .ci/run installs fonts-noto-cjk")
    for fig in figures():  # each explorer sets the font up before it makes its axes
        words, caught = drawn(fig)
        assert any(HANGUL.search(w) for w in words), words
        assert not caught, caught
    assert text.plot_text("epoch", "에폭") == "에폭"


NOTEBOOK_CELL = """
import io, json, warnings
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from explore.text import hangul_font, plot_text

fig, (left, right) = plt.subplots(1, 2)  # the axes, and their titles, exist before the first plot_text
left.set_title(plot_text("8×8, values 0..16", "8×8, 값 0..16"))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fig.savefig(io.BytesIO(), format="png")
print(json.dumps([hangul_font() is not None, left.get_title(), [str(w.message) for w in caught]]))
"""


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_does_a_notebook_figure_made_after_the_import_draw_its_words_without_warnings(lang, tmp_path):
    """Regression: a title made with the axes, before the first plot_text, kept a font without Hangul (boxes)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COURSE_LANG": lang, "MPLCONFIGDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", NOTEBOOK_CELL], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    has_font, title, caught = json.loads(done.stdout)
    assert title == ("8×8, 값 0..16" if lang == "ko" and has_font else "8×8, values 0..16")
    assert caught == []


def test_would_hangul_without_the_font_warn_about_missing_glyphs(fresh):
    """The check above can fail: Hangul drawn with the default font alone warns (and shows boxes)."""
    fig = Figure()
    fig.subplots().set_title("학습 손실")
    matplotlib.rcParams["font.family"] = ["DejaVu Sans"]
    _, caught = drawn(fig)
    assert any("missing from font" in w for w in caught), caught


def test_does_a_korean_learner_without_a_hangul_font_get_english_plot_words_and_no_warning(fresh):
    fresh.setenv("COURSE_LANG", "ko")
    no_hangul_fonts(fresh)
    families = list(matplotlib.rcParams["font.family"])
    assert text.hangul_font() is None
    assert text.plot_text("epoch", "에폭") == "epoch"
    for fig in figures():
        words, caught = drawn(fig)
        assert words and not any(HANGUL.search(w) for w in words), words
        assert not caught, caught
    assert list(matplotlib.rcParams["font.family"]) == families


def test_does_an_english_learner_get_english_plot_words_whatever_the_fonts(fresh):
    fresh.setenv("COURSE_LANG", "en")
    assert text.plot_text("epoch", "에폭") == "epoch"
    words, _ = drawn(draw_losses())
    assert "loss" in words and not any(HANGUL.search(w) for w in words)

"""The explorers' and plots' words in the learner's language (the checks' rule: COURSE_LANG, else the notebook path).

Words in a widget or a table are HTML or text, which any browser shows in Korean. Words drawn into
a matplotlib figure need a font with Hangul in it: :func:`plot_text` gives the Korean words only
where matplotlib finds one (``fonts-noto-cjk`` on Debian and Ubuntu, Malgun Gothic on Windows,
Apple SD Gothic Neo on macOS), and the English words elsewhere, so that a figure never shows boxes
or warns about missing glyphs.
"""

from __future__ import annotations

import functools

from autograde.messages import language

HANGUL_SAMPLE = "가힣각학습손실정확도예측실제숫자에폭값"  # the first and last syllables, and ones the plots use
KOREAN_NAMES = ("KR", "Korean", "Nanum", "Malgun", "Gothic", "Hangul", "CJK", "Han Sans")


def say(en: str, ko: str) -> str:
    """``ko`` for a Korean learner, ``en`` otherwise."""
    return ko if language() == "ko" else en


@functools.cache
def hangul_font() -> str | None:
    """The family name of an installed font that matplotlib can draw Hangul with, or None.

    Fonts whose names suggest Korean come first, sans-serif before serif; a font counts only if its
    character map holds every syllable of ``HANGUL_SAMPLE``.
    """
    from matplotlib import font_manager, ft2font

    wanted = [ord(c) for c in HANGUL_SAMPLE]
    entries = sorted(font_manager.fontManager.ttflist,
                     key=lambda f: (not any(n in f.name for n in KOREAN_NAMES), "Serif" in f.name, "Mono" in f.name,
                                    "KR" not in f.name, f.weight != 400, f.name))
    for entry in entries:
        try:
            charmap = ft2font.FT2Font(entry.fname).get_charmap()
        except (OSError, RuntimeError, ValueError):
            continue
        if all(code in charmap for code in wanted):
            return entry.name
    return None


def korean_figures() -> bool:
    """Whether figures get Korean words: a Korean learner, and a font with Hangul.

    If so, the font is added to matplotlib's font families, after the default one: Latin letters,
    digits and symbols keep their usual look, and Hangul comes from the added font. A text takes its
    font when it is made (an axes' title when the axes is), so this runs before a figure is: when
    this module is imported, and at the start of each explorer's drawing.
    """
    if language() != "ko":
        return False
    font = hangul_font()
    if font is None:
        return False
    import matplotlib

    families = list(matplotlib.rcParams["font.family"])
    if font not in families:
        matplotlib.rcParams["font.family"] = [*families, font]
    return True


def plot_text(en: str, ko: str) -> str:
    """Words for a figure: ``ko`` for a Korean learner where a font can draw them, ``en`` otherwise."""
    return ko if korean_figures() else en


korean_figures()  # a notebook's figures made after `from explore.text import plot_text` can show Hangul

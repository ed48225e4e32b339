"""The class report as one self-contained HTML page: inline CSS, charts as inline SVG, no script, no network.

Everything that comes from a submission (code, messages, ids) is escaped: a learner's cell may hold any text.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape

from autograde import messages, similarity
from autograde.insight import MIN_STUDENTS, NEAR_ZERO, PAIRS_SHOWN, Insight, Item
from autograde.insight_text import text
from autograde.mistakes import Mistake

COLOURS = {"full": "#2e7d32", "partial": "#9ccc65", "zero": "#ef6c00", "not_attempted": "#bdbdbd"}
LINES = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans KR", sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.7rem; } h2 { margin-top: 2.5rem; border-bottom: 2px solid #ddd; } h3 { margin-top: 1.5rem; }
table { border-collapse: collapse; margin: .8rem 0; width: 100%; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.flagged td { background: #fff3e0; } .flag { color: #b71c1c; font-weight: 600; }
.note { background: #fffde7; border-left: 4px solid #fbc02d; padding: .6rem .9rem; }
.verdict { background: #e3f2fd; border-left: 4px solid #1976d2; padding: .6rem .9rem; font-weight: 600; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .85rem; }
pre.msg { white-space: pre-wrap; margin: 0; max-height: 12rem; overflow: auto; }
.pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: .8rem; }
td.pair-cell { max-width: 0; width: 60%; }
.pair pre { background: #fafafa; border: 1px solid #ddd; padding: .5rem; overflow-x: auto; margin: .2rem 0; }
.pair mark { background: #ffe082; display: inline-block; width: 100%; }
svg.chart { display: block; margin: .5rem 0 1rem; max-width: 100%; height: auto; }
svg.chart text { font: 12px system-ui, sans-serif; fill: #333; }
details summary { cursor: pointer; color: #1565c0; }
"""


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _table(header: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _td(value: str, num: bool = False) -> str:
    return f"<td class=\"num\">{value}</td>" if num else f"<td>{value}</td>"


# -- charts ------------------------------------------------------------------------------------
def item_chart(assignment: str, items: list[Item], lang: str) -> str:
    """Stacked bars, one per exercise: full marks, partial, zero, not attempted (shares of the class)."""
    label_w, bar_w, row_h, top = 170, 420, 26, 34
    height = top + row_h * len(items) + 10
    parts = [f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" '
             f'height="{height}" viewBox="0 0 {label_w + bar_w + 90} {height}" data-assignment="{escape(assignment)}">',
             f"<title>{escape(text(lang, 'chart_title', assignment=assignment))}</title>"]
    x = label_w
    for key, colour in COLOURS.items():
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="16">{escape(text(lang, "col_" + key))}</text>')
        x += 110
    for row, item in enumerate(items):
        y = top + row * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(item.exercise)}</text>')
        x = float(label_w)
        for key, colour in COLOURS.items():
            share = getattr(item, key)
            if share > 0:
                w = bar_w * share
                parts.append(f'<rect class="seg" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" '
                             f'fill="{colour}"><title>{escape(item.exercise)}: {escape(text(lang, "col_" + key))} '
                             f"{_pct(share)}</title></rect>")
                x += w
        mean = item.mean / item.points if item.points else 0.0
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 15}">{escape(text(lang, "col_mean"))} {_pct(mean)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def progress_chart(assignment: str, series: dict[str, list[float]], numbers: list[int], lang: str) -> str:
    """One line per exercise: its mean score (share of the points) in each run (numbered ``numbers``)."""
    left, width, height, top, legend = 44, 420, 200, 14, 180
    total_h = top + height + 40
    runs = len(numbers)
    xs = [left + (width * i / (runs - 1) if runs > 1 else width / 2) for i in range(runs)]
    y = lambda share: top + height * (1 - share)
    parts = [f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="{left + width + legend}" '
             f'height="{total_h}" viewBox="0 0 {left + width + legend} {total_h}" data-assignment="{escape(assignment)}">',
             f"<title>{escape(text(lang, 'progress_chart', assignment=assignment))}</title>"]
    for tick in (0, 0.5, 1):
        parts.append(f'<line x1="{left}" x2="{left + width}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{_pct(tick)}</text>')
    for i, x in enumerate(xs):
        parts.append(f'<text x="{x:.1f}" y="{top + height + 18}" text-anchor="middle">'
                     f'{escape(text(lang, "col_run"))} {numbers[i]}</text>')
    for n, (exercise, values) in enumerate(series.items()):
        colour = LINES[n % len(LINES)]
        points = " ".join(f"{xs[i]:.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
                     f"<title>{escape(exercise)}</title></polyline>")
        parts.extend(f'<circle cx="{xs[i]:.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>' for i, v in enumerate(values))
        parts.append(f'<rect x="{left + width + 16}" y="{top + 18 * n}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{left + width + 30}" y="{top + 18 * n + 9}">{escape(exercise)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- sections ------------------------------------------------------------------------------------
def items_section(report: Insight, lang: str) -> str:
    out = [f'<h2 id="items">{escape(text(lang, "items"))}</h2>', f"<p>{escape(text(lang, 'items_intro'))}</p>",
           f"<p>{escape(text(lang, 'discrimination_intro', limit=NEAR_ZERO, few=MIN_STUDENTS))}</p>"]
    by_assignment = defaultdict(list)
    for item in report.items:
        by_assignment[item.assignment].append(item)
    header = [text(lang, k) for k in ("col_exercise", "col_points", "col_students", "col_mean", "col_full", "col_partial",
                                      "col_zero", "col_not_attempted", "col_discrimination", "col_flag")]
    for assignment, items in by_assignment.items():
        rows = []
        for i in items:
            flag = text(lang, f"flag_{i.flag}") if i.flag else ""
            warn = i.flag in ("near_zero", "negative")
            r = "—" if i.discrimination is None else f"{i.discrimination:+.2f}"
            rows.append(f'<tr class="{"flagged" if warn else ""}" data-exercise="{escape(i.exercise)}">'
                        + _td(f"<code>{escape(i.exercise)}</code>") + _td(_num(i.points), True) + _td(str(i.students), True)
                        + _td(_num(i.mean), True) + _td(_pct(i.full), True) + _td(_pct(i.partial), True)
                        + _td(_pct(i.zero), True) + _td(_pct(i.not_attempted), True) + _td(r, True)
                        + _td(f'<span class="{"flag" if warn else ""}">{escape(flag)}</span>') + "</tr>")
        out += [f"<h3>{escape(assignment)}</h3>", item_chart(assignment, items, lang), _table(header, rows)]
    return "".join(out)


def _mistake_label(m: Mistake, lang: str) -> tuple[str, str]:
    """(what failed, the hint) as the page shows them."""
    if m.kind == "check":
        known = m.hint_key in messages.HINTS.get(m.exercise, {}) or m.hint_key in messages.GENERIC_HINTS
        hint = messages.hint(lang, m.exercise, m.hint_key) if known else m.hint_key
        return f"<code>{escape(m.what)}</code>", escape(hint)
    return escape(text(lang, f"kind_{m.kind}", what=m.what)), ""


def mistakes_section(report: Insight, lang: str) -> str:
    out = [f'<h2 id="mistakes">{escape(text(lang, "mistakes"))}</h2>', f"<p>{escape(text(lang, 'mistakes_intro'))}</p>"]
    if not report.mistakes:
        out.append(f"<p>{escape(text(lang, 'no_mistakes'))}</p>")
    header = [text(lang, k) for k in ("col_exercise", "col_check", "col_hint", "col_students", "col_share", "col_example")]
    by_assignment = defaultdict(list)
    for m in report.mistakes:
        by_assignment[m.assignment].append(m)
    for assignment, found in by_assignment.items():
        rows = []
        for m in found:
            what, hint = _mistake_label(m, lang)
            rows.append(f'<tr data-exercise="{escape(m.exercise)}" data-hint="{escape(m.hint_key)}">'
                        + _td(f"<code>{escape(m.exercise)}</code>") + _td(what) + _td(hint) + _td(str(m.students), True)
                        + _td(_pct(m.share), True) + _td(f'<pre class="msg">{escape(m.examples.get(lang, m.example))}</pre>')
                        + "</tr>")
        out += [f"<h3>{escape(assignment)}</h3>", _table(header, rows)]
    out += [f'<h3 id="flags">{escape(text(lang, "flags"))}</h3>', f"<p>{escape(text(lang, 'flags_intro'))}</p>"]
    if not report.flags:
        out.append(f"<p>{escape(text(lang, 'no_flags'))}</p>")
    else:
        header = [text(lang, k) for k in ("col_assignment", "col_category", "col_line", "col_students", "col_share")]
        rows = [f'<tr data-category="{escape(f.category)}">' + _td(escape(f.assignment))
                + _td(escape(text(lang, f"cat_{f.category}"))) + _td(f'<pre class="msg">{escape(f.example)}</pre>')
                + _td(str(f.students), True) + _td(_pct(f.share), True) + "</tr>" for f in report.flags]
        out.append(_table(header, rows))
    return "".join(out)


def _cell(source: str, marked: list[int]) -> str:
    lines = source.splitlines() or [""]
    marked_set = set(marked)
    return "<pre>" + "\n".join(f"<mark>{escape(line) or ' '}</mark>" if n in marked_set else escape(line)
                               for n, line in enumerate(lines, 1)) + "</pre>"


def similarity_section(report: Insight, lang: str) -> str:
    out = [f'<h2 id="similarity">{escape(text(lang, "similarity"))}</h2>',
           f'<p class="verdict">{escape(text(lang, "similarity_verdict"))}</p>',
           "<p>" + escape(text(lang, "similarity_intro", k=similarity.K, common=similarity.common_limit(report.students),
                               score=similarity.MIN_SCORE, shared=similarity.MIN_SHARED, shown=PAIRS_SHOWN)) + "</p>"]
    by_assignment = defaultdict(list)
    for p in report.pairs:
        by_assignment[p.assignment].append(p)
    if not report.pairs:
        out.append(f"<p>{escape(text(lang, 'no_pairs'))}</p>")
    header = [text(lang, k) for k in ("col_pair", "col_score", "col_shared", "col_exercises")]
    for assignment, found in by_assignment.items():
        rows = []
        for p in found[:PAIRS_SHOWN]:
            a_cells = report.cells.get((p.a, assignment), {})
            b_cells = report.cells.get((p.b, assignment), {})
            views = ""
            for ex in p.matches:
                la, lb = report.highlight.get((assignment, p.a, p.b, ex), ([], []))
                views += (f"<h4><code>{escape(ex)}</code></h4><div class=\"pair\"><div><b>{escape(p.a)}</b>"
                          f"{_cell(a_cells.get(ex, ''), la)}</div><div><b>{escape(p.b)}</b>{_cell(b_cells.get(ex, ''), lb)}"
                          "</div></div>")
            rows.append(f'<tr class="pair-row" data-a="{escape(p.a)}" data-b="{escape(p.b)}">'
                        + _td(f"{escape(p.a)} · {escape(p.b)}") + _td(_pct(p.score), True) + _td(str(p.shared), True)
                        + '<td class="pair-cell">' + ", ".join(f"<code>{escape(e)}</code>" for e in p.matches)
                        + f"<details><summary>{escape(text(lang, 'side_by_side'))}</summary>{views}</details></td>"
                        + "</tr>")
        out += [f"<h3>{escape(assignment)}</h3>", _table(header, rows)]
    return "".join(out)


def progress_section(report: Insight, lang: str) -> str:
    out = [f'<h2 id="progress">{escape(text(lang, "progress"))}</h2>',
           f"<p>{escape(text(lang, 'progress_intro', folder='reports/_runs/'))}</p>"]
    if len(report.runs) < 2:
        out.append(f'<p class="note">{escape(text(lang, "one_run"))}</p>')
        return "".join(out)
    by_assignment: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    rows_of: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    numbers: dict[str, list[int]] = defaultdict(list)  # the runs in which each assignment was graded
    for p in report.progress:
        by_assignment[p.assignment][p.exercise].append(p.mean_share)
        rows_of[p.assignment][p.exercise].append(f"{_pct(p.mean_share)} / {_pct(p.full)} / {_pct(p.not_attempted)}")
        if p.run not in numbers[p.assignment]:
            numbers[p.assignment].append(p.run)
    legend = f"{text(lang, 'col_mean')} / {text(lang, 'col_full')} / {text(lang, 'col_not_attempted')}"
    for assignment, series in by_assignment.items():
        header = [text(lang, "col_exercise")] + [f"{text(lang, 'col_run')} {n} ({report.runs[n - 1].graded_at[:16]})"
                                                 for n in numbers[assignment]]
        rows = ["<tr>" + _td(f"<code>{escape(ex)}</code>") + "".join(_td(escape(c), True) for c in cells) + "</tr>"
                for ex, cells in rows_of[assignment].items()]
        out += [f"<h3>{escape(assignment)}</h3>", progress_chart(assignment, dict(series), numbers[assignment], lang),
                f"<p><small>{escape(legend)}</small></p>", _table(header, rows)]
    return "".join(out)


def render(report: Insight, lang: str = "en") -> str:
    """The whole page."""
    skipped = ""
    if report.skipped:
        line = text(lang, "skipped", n=len(report.skipped), examples="; ".join(report.skipped[:5]))
        skipped = f'<p class="note">{escape(line)}</p>'

    toc = "".join(f'<li><a href="#{anchor}">{escape(text(lang, key))}</a></li>'
                  for anchor, key in (("items", "items"), ("mistakes", "mistakes"), ("flags", "flags"),
                                      ("similarity", "similarity"), ("progress", "progress")))
    return (f'<!DOCTYPE html>\n<html lang="{escape(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(text(lang, 'title'))}</title><style>{CSS}</style></head><body>"
            f"<h1>{escape(text(lang, 'title'))}</h1>"
            f"<p>{escape(text(lang, 'summary', students=report.students, submissions=report.submissions, when=report.graded_at))}"
            f"</p>{skipped}<nav><b>{escape(text(lang, 'contents'))}</b><ul>{toc}</ul></nav>"
            + items_section(report, lang) + mistakes_section(report, lang) + similarity_section(report, lang)
            + progress_section(report, lang) + f"<footer><hr><p><small>{escape(text(lang, 'footer'))}</small></p></footer>"
            "</body></html>\n")

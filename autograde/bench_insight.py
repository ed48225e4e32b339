"""A synthetic graded class with planted patterns, and the time ``insight`` takes to report on it.

``python -m autograde.bench_insight --students 300`` writes, into a scratch course folder, what
grading would have written for every student and assignment of the course (a report per
submission, an autograded notebook per notebook: the source notebook with the student's cells and
the test cells' outputs), then builds the report and prints how long that took.

The class is drawn at random (seeded), every exercise by each student's ability, except three
planted patterns the report must find:

- ``EVERYBODY_FAILS`` (``mse_loss``): every student forgets to square, the same failing check;
  half of them see it in Korean;
- ``RANDOM`` (``l1_loss``): full marks on a coin toss, whatever the student's ability;
- ``PAIR``: two students hand in the same unusual solutions to 03_backprop under other names, comments
  and layout, which nobody else writes.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
from pathlib import Path

from autograde import course, messages
from autograde.graded_class import REPORTS, released_cell
from autograde.workspace import Workspace

EVERYBODY_FAILS = ("02_losses", "mse_loss")
RANDOM = ("02_losses", "l1_loss")
PAIR = ("pair_a", "pair_b")
PAIR_ASSIGNMENT = "03_backprop"
TAMPERED = ("02_losses", "cross_entropy")  # every 40th student, from the 8th: flagged for tampering here

FORGOT_SQUARE = "return (output - target).mean()"
PAIR_CODE = {  # the same unusual solutions, as the two students wrote them
    "grad_fn_chain": (
        "    found = []\n    cur = tensor.grad_fn\n    while True:\n        if cur is None:\n            break\n"
        "        if len(found) >= depth:\n            break\n        found.append(cur.__class__.__name__)\n"
        "        nxt = cur.next_functions\n        cur = nxt[0][0] if len(nxt) > 0 else None\n    return found\n",
        "    # walk the graph\n    out_names=[]\n    n = tensor.grad_fn\n    while True:\n        if n is None: break\n"
        "        if len(out_names)>=depth: break\n        out_names.append( n.__class__.__name__ )\n"
        "        following = n.next_functions\n        n = following[0][0] if len(following) > 0 else None\n"
        "    return out_names\n"),
    "linear_mse_grads": (
        "    pred = torch.matmul(x, w.t()) + b\n    residual = pred - y\n    count = residual.shape[0] * residual.shape[1]\n"
        "    g = residual * (2.0 / count)\n    gw = torch.matmul(g.t(), x)\n    gb = torch.sum(g, 0)\n    return (gw, gb)\n",
        "    yhat = torch.matmul(x, w.t()) + b   # forward\n    r = yhat - y\n    m = r.shape[0] * r.shape[1]\n\n"
        "    grad = r * (2.0 / m)\n    dw = torch.matmul(grad.t(), x)\n    db = torch.sum(grad, 0)\n    return (dw, db)\n"),
}


def _source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def _meta(cell: dict) -> dict:
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def _solved(source: str) -> str:
    """The reference cell as a student would hand it in: the solution markers gone."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def _with_body(source: str, body: str) -> str:
    """The released cell with the stub replaced by ``body`` (already indented)."""
    stub = released_cell(source)
    at = stub.index("# YOUR CODE HERE")
    start = stub.rfind("\n", 0, at) + 1
    end = stub.index("raise NotImplementedError()", at) + len("raise NotImplementedError()")
    return stub[:start] + body.rstrip("\n") + stub[end:]


def _failure(exercise: str, lang: str, what: str, expected: str, got: str, hint: str) -> dict:
    text = messages.failure(lang, exercise=exercise, what=what, expected=expected, got=got,
                            hint=messages.hint(lang, exercise, hint))
    return {"output_type": "error", "ename": "CheckFailed", "evalue": text,
            "traceback": ["---------------------------------------------------------------------------",
                          f"CheckFailed: {text}"]}


def _passed(exercise: str, lang: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": messages.text(lang, "passed", exercise=exercise, n=3) + "\n"}


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def write_class(root: Path, students: int, seed: int = 0, figures: bool = True) -> Workspace:
    """Write a graded class of ``students`` (the planted pair among them) into ``root``; return its workspace.

    ``figures=False`` leaves out the outputs of the cells that are not tests (the figures): smaller files, same report.
    """
    rng = random.Random(seed)
    ws = Workspace(root=root)
    sources = {nb.path: json.loads(nb.path.read_text(encoding="utf-8")) for nb in course.notebooks(ws.source)}
    if not figures:
        for doc in sources.values():
            for cell in doc["cells"]:
                if cell.get("cell_type") == "code" and not _meta(cell).get("grade"):
                    cell["outputs"] = []
    names = [f"student{i:03d}" for i in range(1, students - 1)] + list(PAIR)
    ability = {s: rng.gauss(0, 1.5) for s in names}
    easiness = {}
    for index, student in enumerate(names):
        lang = "ko" if index % 2 else "en"
        for assignment, notebooks in course.assignments(ws.source).items():
            scores, max_scores, notes, flags = {}, {}, [], []
            for nb in notebooks:
                doc = json.loads(json.dumps(sources[nb.path]))
                doc.setdefault("metadata", {}).setdefault("course", {})["lang"] = lang
                points = {e.name: e.points for e in nb.exercises}
                for cell in doc["cells"]:
                    meta = _meta(cell)
                    name = meta.get("grade_id", "")
                    if meta.get("solution") and not meta.get("grade"):
                        outcome = _outcome(rng, (assignment, name), ability[student], easiness, student)
                        cell["source"] = _student_cell(_source(cell), name, outcome, student)
                        scores[name] = points[name] if outcome in ("right", "pair") else 0.0
                        max_scores[name] = points[name]
                        cell["_outcome"] = outcome
                    elif meta.get("grade") and name.startswith("test_"):
                        exercise = name.removeprefix("test_")
                        outcome = next(c["_outcome"] for c in doc["cells"] if _meta(c).get("grade_id") == exercise)
                        cell["outputs"] = [_test_output(exercise, outcome, lang)]
                for cell in doc["cells"]:
                    cell.pop("_outcome", None)
                target = ws.path("autograded", student, assignment, f"{nb.name}.ipynb")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
            if assignment == TAMPERED[0] and index % 40 == 7:
                _tamper(ws, student, assignment, scores, flags)
            if index % 25 == 3:
                notes.append(f"repaired {assignment}: cells were out of order; put back in the order of the source")
            report = {"digest": f"{rng.getrandbits(64):016x}",
                      "result": {"student": student, "assignment": assignment, "scores": scores,
                                 "max_scores": max_scores, "missing": [], "errors": [], "notes": notes,
                                 "flags": flags, "seconds": 1.0}}
            path = ws.path(REPORTS, student, f"{assignment}.json")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    return ws


def _tamper(ws: Workspace, student: str, assignment: str, scores: dict, flags: list) -> None:
    """As grading does with tampering: the exercise scores 0, its test cell says why, the report flags it."""
    what = "torch.allclose"
    flags.append(f"{assignment}/{TAMPERED[1]}: scored 0 for tampering: {what}")
    scores[TAMPERED[1]] = 0.0
    path = ws.path("autograded", student, assignment, f"{assignment}.ipynb")
    doc = json.loads(path.read_text(encoding="utf-8"))
    for cell in doc["cells"]:
        if _meta(cell).get("grade_id") == f"test_{TAMPERED[1]}":
            text = f"This exercise scores 0: {what}."
            cell["outputs"].append({"output_type": "error", "ename": "GradingError", "evalue": text,
                                    "traceback": [f"GradingError: {text}"]})
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def _outcome(rng: random.Random, exercise: tuple[str, str], ability: float, easiness: dict, student: str) -> str:
    """right, wrong, stub or forgot_square (the planted mistake), or pair (the planted pair's code)."""
    if exercise == EVERYBODY_FAILS:
        return "forgot_square"
    if student in PAIR and exercise[0] == PAIR_ASSIGNMENT and exercise[1] in PAIR_CODE:
        return "pair"
    if exercise == RANDOM:
        return "right" if rng.random() < 0.5 else "wrong"
    easy = easiness.setdefault(exercise, rng.uniform(-0.5, 1.5))
    if rng.random() > _sigmoid(ability + 2.5):
        return "stub"
    return "right" if rng.random() < _sigmoid(2.0 * ability + easy) else "wrong"


def _student_cell(source: str, exercise: str, outcome: str, student: str) -> str:
    if outcome == "right":
        return _solved(source)
    if outcome == "stub":
        return released_cell(source)
    if outcome == "forgot_square":
        return _with_body(source, f"    {FORGOT_SQUARE}\n")
    if outcome == "pair":
        return _with_body(source, PAIR_CODE[exercise][PAIR.index(student)])
    return _with_body(source, "    return 0\n")


def _test_output(exercise: str, outcome: str, lang: str) -> dict:
    if outcome in ("right", "pair"):
        return _passed(exercise, lang)
    if outcome == "stub":
        return _failure(exercise, lang, messages.text(lang, "calling", call=f"{exercise}(...)"), messages.text(lang, "a_result"),
                        "NotImplementedError", "not_implemented")
    if outcome == "forgot_square":
        return _failure(exercise, lang, "mse_loss(a, b)  # (0 + 4 + 0 + 16) / 4", "tensor(5.)", "tensor(-1.)", "mean_all")
    return _failure(exercise, lang, f"{exercise} on the first example", "the reference's result", "0", "compare_reference")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--lang", choices=list(messages.LANGUAGES), default="en")
    parser.add_argument("--keep", type=Path, default=None, help="write the class here and keep it (default: a temp folder)")
    args = parser.parse_args(argv)
    from autograde import insight

    with tempfile.TemporaryDirectory(prefix="insight-bench-") as tmp:
        root = args.keep or Path(tmp)
        start = time.perf_counter()
        ws = write_class(root, args.students)
        written = time.perf_counter() - start
        start, cpu = time.perf_counter(), time.process_time()
        report, paths = insight.build(ws, lang=args.lang)
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
        size = sum(p.stat().st_size for p in paths)
    assignments = len(course.assignments())
    print(f"synthetic class: {args.students} students x {assignments} assignments written in {written:.1f} s")
    print(f"insight: {report.submissions} submissions, {len(report.mistakes)} kinds of mistake, "
          f"{len(report.pairs)} similar pair(s), page and CSVs {size / 1024:.0f} KiB")
    print(f"report built in {took:.2f} s wall clock ({cpu:.2f} s of CPU) for {args.students} students: "
          f"{'under' if took < 10 else 'OVER'} 10 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

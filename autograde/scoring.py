"""Step 3 of grading, one notebook at a time: turn a worker's answer into scores.

This runs beside the run, away from the gradebook. The outputs go into the repaired notebook,
then three rules decide what fails, before nbgrader's ``LimitOutput`` and nbgrader's own rule
for each graded cell (:func:`cell_verdicts`, what ``SaveAutoGrades`` decides) score it; the
grader writes the scores into the gradebook and the executed copy into ``autograded/``:

- an answer that is an error, or that does not hold exactly one result per code cell, scores the
  whole notebook zero (fail closed);
- a test cell passes only on positive evidence (:func:`require_evidence`): its status says it ran
  to the end without an error, whatever it printed or hid;
- tampering scores the exercise zero (:func:`zero_flagged`, the one place that decides it), from
  what reading the code found and what the run-time watch reported.
"""

from __future__ import annotations

from autograde import course, messages, protocol
from autograde.gradebook import exercise_name
from autograde.prepare import Prepared

EVENT_TEXT = {
    "crash": "{exercise} scored 0: {detail}",
    "protocol": "{exercise} scored 0: {detail}",
    "timeout": "{exercise}: {detail}",
    "hung": "{exercise}: {detail}",
    "time_limit": "{exercise}: {detail}",
    "memory": "{exercise}: ran out of memory ({detail})",
    "processes": "{detail}",
}


def describe_events(prepared: Prepared, answer: protocol.Answer) -> None:
    """Turn a worker's events into report lines, and tampering into flags."""
    name = prepared.notebook.name
    with_exercise = {e.kind for e in answer.events if e.exercise}
    for event in answer.events:
        kind, exercise, detail = event.kind, event.exercise, event.detail.strip()
        if kind == "tamper":
            if exercise:
                prepared.flag(exercise, detail)
            else:
                line = f"{name}: code outside the exercises changed what the tests rely on: {detail}"
                if line not in prepared.notes:
                    prepared.notes.append(line)
            continue
        if not exercise and kind in with_exercise:
            continue  # the same trouble, already named for an exercise
        text = EVENT_TEXT.get(kind, "{detail}").format(exercise=exercise or "a cell outside the exercises", detail=detail)
        line = f"{name}: {text}"
        if line not in prepared.notes:
            prepared.notes.append(line)


def _error_output(text: str):
    from nbformat.v4 import new_output

    return new_output("error", ename="GradingError", evalue=text, traceback=[f"GradingError: {text}"])


def zero_flagged(prepared: Prepared) -> None:
    """The one place that decides a tampering zero: every test cell of a flagged exercise shows why, and scores 0.

    Flags come from reading the learner's code (:mod:`autograde.tamper`, before the run) and from
    the run-time watch (:class:`autograde.kernel.Watch`, as ``tamper`` events).
    """
    lang = prepared.lang
    for cell in prepared.nb.cells:
        meta = course.nbgrader_meta(cell)
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        exercise = exercise_name(meta.get("grade_id", ""))
        if exercise in prepared.tampered:
            what = "; ".join(prepared.tampered[exercise])
            reason = messages.text(lang, "grading_tampered", what=what)
            cell.outputs.append(_error_output(messages.text(lang, "grading_poisoned", reason=reason)))


def require_evidence(prepared: Prepared, answer: protocol.Answer) -> None:
    """A test cell passes only on positive evidence: it ran to the end without an error.

    A test cell whose result says otherwise but shows no error (its traceback was hidden, or it
    never ran) gets an error output, so nbgrader scores it zero, and the report says why.
    """
    for index, job_cell, result in zip(prepared.code_cells, prepared.job.cells, answer.cells, strict=True):
        cell = prepared.nb.cells[index]
        if not job_cell.test or result.passed or any(o.get("output_type") == "error" for o in cell.outputs):
            continue
        key = "grading_why_hidden" if result.status == "error" else "grading_why_not_run"
        why = messages.text(prepared.lang, key)
        cell.outputs.append(_error_output(messages.text(prepared.lang, "grading_no_evidence", why=why)))
        prepared.notes.append(f"{prepared.notebook.name}: {job_cell.exercise or 'a test'} scored 0: "
                              f"its test cell gave no evidence that it passed ({messages.text('en', key)})")


def cell_verdicts(nb) -> tuple[tuple[protocol.GradeVerdict, ...], tuple[protocol.CommentVerdict, ...]]:
    """nbgrader's decision for each cell of a scored notebook, as ``SaveAutoGrades`` makes it.

    A graded cell scores by :func:`nbgrader.utils.determine_grade` (an error or a stderr output
    scores 0); a solution cell left as handed out gets the comment "No response.".
    """
    from nbgrader import utils

    grades, comments = [], []
    for cell in nb.cells:
        meta = course.nbgrader_meta(cell)
        if utils.is_grade(cell):
            auto_score, _ = utils.determine_grade(cell)
            grades.append(protocol.GradeVerdict(meta["grade_id"], None if auto_score is None else float(auto_score)))
        if utils.is_solution(cell) or utils.is_task(cell):
            unchanged = meta.get("checksum", None) == utils.compute_checksum(cell) and not utils.is_task(cell)
            comments.append(protocol.CommentVerdict(meta["grade_id"], "No response." if unchanged else None))
    return tuple(grades), tuple(comments)


def score(config, prepared: Prepared, answer: protocol.Answer) -> None:
    """Put the outputs into the notebook and score it: ``prepared.grades`` and ``prepared.comments``.

    An answer that is an error, or that does not hold exactly one result per code cell, scores
    every exercise of the notebook zero (fail closed). ``config``: nbgrader's configuration, or None.
    """
    from nbformat.notebooknode import from_dict
    from nbgrader.preprocessors import LimitOutput

    if answer.error:
        prepared.error = f"{prepared.notebook.name}: could not be run: {answer.error}"
        return
    if len(answer.cells) != len(prepared.code_cells):
        prepared.error = (f"{prepared.notebook.name}: could not be scored: the answer had {len(answer.cells)} "
                          f"cell results for {len(prepared.code_cells)} code cells")
        return
    nb = prepared.nb
    for index, result in zip(prepared.code_cells, answer.cells, strict=True):
        nb.cells[index].outputs = [from_dict(dict(o)) for o in result.outputs]
        nb.cells[index].execution_count = result.execution_count
    describe_events(prepared, answer)
    require_evidence(prepared, answer)
    zero_flagged(prepared)
    nb, _ = LimitOutput(config=config).preprocess(nb, {})
    prepared.nb = nb
    prepared.grades, prepared.comments = cell_verdicts(nb)

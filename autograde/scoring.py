"""Step 3 of grading, one notebook at a time: turn a worker's answer into scores.

This runs beside the run, away from the gradebook. The outputs go into the repaired notebook,
then three rules decide what fails, before nbgrader's ``LimitOutput`` and nbgrader's own rule
for each graded cell (:func:`cell_verdicts`, what ``SaveAutoGrades`` decides) score it; the
grader writes the scores into the gradebook and the executed copy into ``autograded/``:

- an answer that is an error, or that does not hold exactly one result per code cell, scores the
  whole notebook zero (fail closed);
- a test cell passes only on positive evidence (:func:`require_evidence`): its status says it ran
  to the end without an error, whatever it printed or hid;
- a test cell that holds a hidden check (which ones, and for which exercise, comes from the source
  notebook, not from the child) passes only if, besides, the observations its hidden tests
  reported match the reference's (:func:`judge_hidden`, the one place that decides it, through
  :func:`autograde.verdict.verdict`); missing, malformed or mismatching observations score zero;
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


def _shown_error(text: str, name: str = "CheckFailed"):
    from nbformat.v4 import new_output

    return new_output("error", ename=name, evalue=text, traceback=text.splitlines())


def judge_hidden(prepared: Prepared, answer: protocol.Answer) -> None:
    """A test cell that holds a hidden check passes only if the trusted comparison says so.

    For each such cell that ran to the end, the observations the child reported are compared with
    the reference's (:func:`autograde.verdict.verdict`); the cell then shows the verdict as the
    hidden check would have: the success line, or the first mismatch as an error (nbgrader scores
    the cell zero). No observations, or observations of another exercise, score zero and the
    report says why (unless the exercise is already flagged for tampering, which says why).
    """
    from autograde import verdict

    lang, name = prepared.lang, prepared.notebook.name
    for index, job_cell, result in zip(prepared.code_cells, prepared.job.cells, answer.cells, strict=True):
        exercise = job_cell.hidden
        cell = prepared.nb.cells[index]
        if not exercise or not result.passed or any(o.get("output_type") == "error" for o in cell.outputs):
            continue  # scores zero already
        observed = result.observed
        if observed is None or observed.exercise != exercise:
            why = messages.text(lang, "grading_why_no_observations")
            cell.outputs.append(_error_output(messages.text(lang, "grading_no_evidence", why=why)))
            if exercise not in prepared.tampered:
                prepared.notes.append(f"{name}: {exercise} scored 0: its test cell gave no evidence that it passed "
                                      f"({messages.text('en', 'grading_why_no_observations')})")
            continue
        passed, message = verdict.verdict(exercise, observed.items, lang)
        if passed:
            from nbformat.v4 import new_output

            cell.outputs.append(new_output("stream", name="stdout", text=message + "\n"))
        else:
            cell.outputs.append(_shown_error(message))


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
    judge_hidden(prepared, answer)
    zero_flagged(prepared)
    nb, _ = LimitOutput(config=config).preprocess(nb, {})
    prepared.nb = nb
    prepared.grades, prepared.comments = cell_verdicts(nb)

"""Grading one notebook away from the gradebook: the work beside the run, on a worker's machine.

A :class:`autograde.protocol.Task` (the submitted file and what the gradebook knows of the source
notebook) becomes a :class:`autograde.protocol.Verdict` (a score per graded cell, the report's
lines, the graded copy) in three steps: :func:`start` reads, repairs and sanitises the notebook
and builds its job (:mod:`autograde.prepare`); the job runs on a warm worker
(:mod:`autograde.pool`); :func:`finish` turns the answer into scores (:mod:`autograde.scoring`).
Only JSON goes in and out. On a Dask cluster the three run in the Dask worker's task
(:func:`grade`); on one machine :func:`start` and :func:`finish` run in a pool of helper
processes, so the grading process only schedules and writes the gradebook.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import nbformat

from autograde import course, protocol
from autograde.prepare import Prepared, notebook_of, prepare
from autograde.protocol import Answer, Job, Task, Verdict


def start(task_json: str) -> tuple[str | None, str]:
    """Prepare a task: its job (JSON, None when the notebook cannot run) and the state :func:`finish` needs."""
    began = time.process_time()
    task = Task.from_json(task_json)
    try:
        prepared = prepare(task)
    except Exception as error:  # noqa: BLE001 - a notebook the repair cannot handle is that notebook's error
        prepared = Prepared(task.student, task.assignment, notebook_of(task.reference),
                            error=f"{task.notebook}: could not be read: {type(error).__name__}: {error}")
    state = {"task": {**task.__dict__, "content": ""}, "nb": prepared.nb,
             "code_cells": prepared.code_cells, "job": prepared.job.to_json() if prepared.job else None,
             "notes": prepared.notes, "error": prepared.error, "tampered": prepared.tampered,
             "seconds": time.process_time() - began}
    return state["job"], json.dumps(state)


def finish(state_json: str, answer_json: str | None) -> str:
    """Score a prepared task with its job's answer (JSON): the verdict, as JSON."""
    began = time.process_time()
    state = json.loads(state_json)
    task = Task(**state["task"])
    prepared = Prepared(task.student, task.assignment, notebook_of(task.reference),
                        nb=nbformat.from_dict(state["nb"]) if state["nb"] else None,
                        code_cells=state["code_cells"], notes=state["notes"], error=state["error"],
                        tampered=state["tampered"])
    try:
        if prepared.error is None:
            prepared.job = Job.from_json(state["job"])
            answer = Answer.from_json(answer_json, prepared.job)
            from autograde.scoring import score

            score(None, prepared, answer)
    except Exception as error:  # noqa: BLE001 - one notebook must not stop the class
        prepared.error = f"{prepared.notebook.name}: could not be scored: {type(error).__name__}: {error}"
    return verdict_of(task, prepared, state["seconds"] + time.process_time() - began).to_json()


def verdict_of(task: Task, prepared: Prepared, seconds: float) -> Verdict:
    notes, flags = tuple(prepared.notes), tuple(prepared.flag_lines())
    if prepared.error:
        return Verdict(task.id, task.token, notes=notes, flags=flags, error=prepared.error[:protocol.MAX_TEXT],
                       seconds=seconds)
    # What nbformat.writes writes, less its validation (which only logs): the notebook was built here.
    return Verdict(task.id, task.token, prepared.grades, prepared.comments, notes, flags,
                   notebook=nbformat.v4.writes_json(prepared.nb), seconds=seconds)


def grade(task_json: str, run: Callable[[Job], Answer]) -> str:
    """The whole of one task in this process, the job run by ``run``: the verdict, as JSON."""
    job_json, state = start(task_json)
    answer = None
    if job_json is not None:
        job = Job.from_json(job_json)
        answer = run(job).to_json()
    return finish(state, answer)


def warm() -> None:
    """Import what :func:`start` and :func:`finish` need, once per helper process."""
    import nbgrader.preprocessors  # noqa: F401

    from autograde import repair, scoring  # noqa: F401

    course.nbgrader_meta({})


def main() -> None:
    """``python -m autograde.tasks``: a helper process that prepares and scores, one JSON request per line.

    ``{"start": TASK}`` is answered with ``{"job": JOB, "state": STATE}``, ``{"finish": STATE,
    "answer": ANSWER}`` with ``{"verdict": VERDICT}`` (:func:`start`, :func:`finish`).
    """
    import sys

    warm()
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but answers on the answer channel
    for line in sys.stdin:
        request = json.loads(line)
        if "start" in request:
            job, state = start(request["start"])
            reply = {"job": job, "state": state}
        else:
            reply = {"verdict": finish(request["finish"], request.get("answer"))}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()

"""The messages that cross between the grader, a worker and the child that runs a notebook.

Three processes take part in running one notebook: the grader (:mod:`autograde.grading`) builds a
:class:`Job`; a warm worker (:mod:`autograde.worker`) runs it in a forked child
(:mod:`autograde.kernel`), which reports each cell to the worker as :class:`ChildMessage` lines on
a pipe of its own; the worker answers the grader with one :class:`Answer`. Every message is one
JSON line, checked by a validating constructor: right types, sizes within bounds, the job's id and
token, cell indexes in range and in order. Whatever fails a check is a :class:`ProtocolError`,
which the receiver treats as a lost answer (the exercises it affects score zero), never as a
result. Defaults live here and nowhere else.

A test cell counts as passed only on positive evidence: the child reports the cell's ``status``
from IPython's own execution result (``ok`` when it ran to the end without an error), not from
what the cell printed. A test cell that holds a hidden check (:attr:`CellJob.hidden`, read from
the grader's source notebook by :func:`hidden_exercise`) also reports the observations of its
hidden tests (:class:`Observations`, plain data of checked types and sizes); the grader judges
them outside the child (:mod:`autograde.verdict`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, fields, is_dataclass, replace

MAX_SOURCE = 2**20  # characters of one cell's code
MAX_CELLS = 2000  # code cells of one notebook
MAX_MESSAGE = 64 * 2**20  # bytes of one line from a child (streams are cut at 2 MB each; figures are not)
MAX_ANSWER = 256 * 2**20  # bytes of one worker's answer
MAX_TEXT = 4000  # characters of an event's detail or an error
OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error")
STATUSES = ("ok", "error", "not_run")  # how a cell ended: only "ok" is evidence that it ran to the end
EVENT_KINDS = ("crash", "timeout", "hung", "time_limit", "memory", "processes", "tamper", "protocol")
OBSERVATION_KINDS = ("equal", "close", "check", "raises", "raised", "error")
VALUE_TAGS = ("none", "bool", "int", "float", "str", "tuple", "list", "size", "dict", "dtype", "device", "tensor", "object")
MAX_OBSERVATIONS = 5000  # observations of one exercise's hidden tests
MAX_NUMBERS = 2**21  # numbers (tensor values, items) in one exercise's observations
MAX_DEPTH = 10  # nesting of one observed value
DEADLINE_MARGIN = 20.0  # seconds the pool waits beyond the notebook's wall-clock cap for a worker's answer


class ProtocolError(ValueError):
    """A message that is not what the protocol allows (wrong type, size, id, token or order)."""


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise ProtocolError(what)


def _text(value: object, what: str, limit: int = MAX_TEXT) -> str:
    _check(isinstance(value, str), f"{what} must be text, not {type(value).__name__}")
    _check(len(value) <= limit, f"{what} is longer than {limit} characters")
    return value


def _optional_text(value: object, what: str) -> str | None:
    return None if value is None else _text(value, what)


def _number(value: object, what: str, low: float = 0.0) -> float:
    _check(isinstance(value, (int, float)) and not isinstance(value, bool), f"{what} must be a number")
    _check(math.isfinite(value) and value >= low, f"{what} must be a finite number >= {low:g}")
    return float(value)


def _index(value: object, what: str, size: int) -> int:
    _check(isinstance(value, int) and not isinstance(value, bool), f"{what} must be an integer")
    _check(0 <= value < size, f"{what} {value} is out of range (0..{size - 1})")
    return value


def _object(data: object, what: str) -> dict:
    _check(isinstance(data, dict), f"{what} must be a JSON object, not {type(data).__name__}")
    return data


def loads(line: str | bytes, what: str, limit: int = MAX_MESSAGE) -> dict:
    """One JSON object from one line, or :class:`ProtocolError`."""
    _check(len(line) <= limit, f"{what} is larger than {limit} bytes")
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"{what} is not JSON: {error}") from None
    return _object(data, what)


def dumps(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, allow_nan=False)


def plain(value: object) -> object:
    """A protocol dataclass as JSON-able data, like ``dataclasses.asdict`` but without copying the plain
    data inside it (an answer's observed tensors hold many thousand numbers, and are never changed)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [plain(item) for item in value]
    return value


# -- grader -> worker ----------------------------------------------------------------------
@dataclass(frozen=True)
class CellJob:
    """One code cell to run: its code, the exercise it belongs to, and who wrote it."""

    source: str
    exercise: str | None = None  # the exercise whose test cell follows (None after the last test)
    test: bool = False  # a graded test cell
    learner: bool = True  # written by the learner (not locked)
    hidden: str | None = None  # the exercise whose hidden check this test cell holds (from the source notebook)

    def __post_init__(self) -> None:
        _text(self.source, "a cell's source", MAX_SOURCE)
        _optional_text(self.exercise, "a cell's exercise")
        _optional_text(self.hidden, "a cell's hidden check")
        _check(self.hidden is None or self.test, "only a test cell holds a hidden check")
        _check(isinstance(self.test, bool) and isinstance(self.learner, bool), "a cell's test/learner must be true or false")


@dataclass(frozen=True)
class Job:
    """A notebook to run: its code cells and the limits (times in seconds, memory in bytes)."""

    id: str
    token: str  # chosen by the grader for this job; the answer must carry it back
    cells: tuple[CellJob, ...]
    exercises: tuple[str, ...] = ()
    lang: str = "en"
    cell_timeout: float = 10.0  # processor time one cell may use
    cell_wall_timeout: float = 60.0  # wall-clock backstop per cell (sleeping or blocked code)
    submission_timeout: float = 300.0  # processor time the whole notebook may use
    submission_wall_timeout: float = 900.0  # wall-clock backstop for the whole notebook
    memory_limit: int = 3 * 2**30
    cost: float = 1.0  # relative run time, so long notebooks start first

    def __post_init__(self) -> None:
        _text(self.id, "the job id", 1000)
        _text(self.token, "the job token", 200)
        _check(isinstance(self.cells, tuple) and all(isinstance(c, CellJob) for c in self.cells), "cells must be CellJobs")
        _check(len(self.cells) <= MAX_CELLS, f"more than {MAX_CELLS} code cells")
        _check(isinstance(self.exercises, tuple), "exercises must be a tuple")
        for name in self.exercises:
            _text(name, "an exercise name", 200)
        _text(self.lang, "the language", 10)
        for name in ("cell_timeout", "cell_wall_timeout", "submission_timeout", "submission_wall_timeout"):
            _check(_number(getattr(self, name), name) > 0, f"{name} must be positive")
        _check(isinstance(self.memory_limit, int) and self.memory_limit >= 0, "memory_limit must be a whole number >= 0")
        _number(self.cost, "cost")

    def deadline(self) -> float:
        """Seconds the grader waits for this job's answer before it gives the worker up as wedged."""
        return self.submission_wall_timeout + self.cell_wall_timeout + DEADLINE_MARGIN

    def to_json(self) -> str:
        return dumps(plain(self))

    @classmethod
    def from_dict(cls, data: dict) -> Job:
        data = dict(_object(data, "a job"))
        cells = data.pop("cells", None)
        _check(isinstance(cells, list), "a job's cells must be a list")
        known = set(cls.__dataclass_fields__) - {"cells"}
        _check(set(data) <= known, f"a job has unknown fields: {sorted(set(data) - known)}")
        data["exercises"] = tuple(data.get("exercises", ()))
        try:
            return cls(cells=tuple(CellJob(**_object(c, "a cell")) for c in cells), **data)
        except TypeError as error:
            raise ProtocolError(f"a job is malformed: {error}") from None

    @classmethod
    def from_json(cls, line: str | bytes) -> Job:
        return cls.from_dict(loads(line, "a job", MAX_ANSWER))


# -- what the worker reports ------------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    """Something the report should say: a crash, a timeout, tampering, ..."""

    kind: str
    exercise: str | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        _check(self.kind in EVENT_KINDS, f"unknown event kind {self.kind!r}")
        _optional_text(self.exercise, "an event's exercise")
        _text(self.detail, "an event's detail")

    @classmethod
    def from_dict(cls, data: object) -> Event:
        data = _object(data, "an event")
        _check(set(data) <= {"kind", "exercise", "detail"}, "an event has unknown fields")
        return cls(data.get("kind"), data.get("exercise"), data.get("detail", ""))


def output(data: object) -> dict:
    """One nbformat output, checked: its type, and the types of what nbgrader reads from it."""
    data = _object(data, "an output")
    kind = data.get("output_type")
    _check(kind in OUTPUT_TYPES, f"unknown output type {kind!r}")
    if kind == "stream":
        _check(data.get("name") in ("stdout", "stderr") and isinstance(data.get("text"), str), "a malformed stream output")
    elif kind == "error":
        _check(isinstance(data.get("ename"), str) and isinstance(data.get("evalue"), str), "a malformed error output")
        traceback = data.get("traceback")
        _check(isinstance(traceback, list) and all(isinstance(t, str) for t in traceback), "a malformed traceback")
    else:
        _check(isinstance(data.get("data"), dict) and isinstance(data.get("metadata", {}), dict), f"a malformed {kind}")
    return data


HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)
HIDDEN_CALL = re.compile(r"\bhidden\.check\(\s*['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]")


def hidden_exercise(source: str) -> str | None:
    """The exercise whose hidden check a test cell's source holds (between the HIDDEN TESTS marks), if any."""
    for block in HIDDEN_BLOCK.findall(source):
        found = HIDDEN_CALL.search(block)
        if found:
            return found.group(1)
    return None


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_NUMBERS

    def take(self, n: int) -> None:
        self.left -= n
        _check(self.left >= 0, f"the observations hold more than {MAX_NUMBERS} values")


def _plain_number(value: object, what: str) -> None:
    _check((isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))
           or value in ("nan", "inf", "-inf"), f"{what} must be a number")


def _plain_numbers(values: list) -> bool:
    """Are ``values`` all finite floats, or all integers within 64 bits? The common case, checked at C speed;
    False sends them through the check value by value (which says what is wrong, if anything)."""
    kinds = set(map(type, values))
    if kinds == {float}:
        return math.isfinite(sum(values))  # a NaN or an infinity makes the sum one; an overflow only sends them on
    if kinds == {int}:
        return -2**63 < min(values) and max(values) < 2**63
    return not kinds


def _value(data: object, budget: _Budget, depth: int = 0) -> None:
    """An observed value, as :func:`autograde.hidden.encode` writes it: checked tag by tag."""
    _check(depth <= MAX_DEPTH, "an observed value is nested too deep")
    data = _object(data, "an observed value")
    tag = data.get("t")
    _check(tag in VALUE_TAGS, f"unknown kind of value {tag!r}")
    budget.take(1)
    value = data.get("v")
    if tag == "tensor":
        _check(set(data) == {"t", "dtype", "shape", "values"}, "a malformed tensor")
        _text(data["dtype"], "a dtype", 40)
        shape = data["shape"]
        _check(isinstance(shape, list) and len(shape) <= 16 and all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**40 for s in shape), "a malformed shape")
        values = data["values"]
        if values is not None:
            _check(isinstance(values, list) and len(values) == math.prod(shape), "a tensor's values do not fill its shape")
            budget.take(len(values))
            if _plain_numbers(values):
                return
            for v in values:
                _check(isinstance(v, bool) or (isinstance(v, int) and abs(v) < 2**63) or isinstance(v, float)
                       or v in ("nan", "inf", "-inf"), "a tensor value must be a number")
                if isinstance(v, float):
                    _check(math.isfinite(v), "a tensor value must be finite or written as text")
        return
    _check(set(data) <= {"t", "v"}, "an observed value has unknown fields")
    if tag == "none":
        return
    if tag == "bool":
        _check(isinstance(value, bool), "a malformed bool")
    elif tag == "int":
        _check(isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63, "a malformed int")
    elif tag == "float":
        _plain_number(value, "a float")
    elif tag in ("str", "dtype", "device", "object"):
        _text(value, f"a {tag}", MAX_TEXT)
    elif tag == "dict":
        _check(isinstance(value, list), "a malformed dict")
        for pair in value:
            _check(isinstance(pair, list) and len(pair) == 2, "a malformed dict entry")
            _value(pair[0], budget, depth + 1)
            _value(pair[1], budget, depth + 1)
    else:
        _check(isinstance(value, list), f"a malformed {tag}")
        for item in value:
            _value(item, budget, depth + 1)


OBSERVATION_FIELDS = {
    "equal": {"value"}, "close": {"value", "rtol", "atol", "hints"},
    "check": {"ok", "expected", "got", "expected_key"}, "raises": {"ok", "expected", "got", "not_implemented"},
    "raised": {"message"}, "error": {"message"},
}


def observation(data: object, budget: _Budget) -> dict:
    """One observation, checked: its kind, its label and hint, and the fields of its kind."""
    data = _object(data, "an observation")
    kind = data.get("kind")
    _check(kind in OBSERVATION_KINDS, f"unknown kind of observation {kind!r}")
    allowed = {"kind", "what", "hint"} | OBSERVATION_FIELDS[kind]
    _check(set(data) <= allowed, f"an observation has unknown fields: {sorted(set(data) - allowed)}")
    _text(data.get("what"), "an observation's label", 1000)
    _optional_text(data.get("hint"), "an observation's hint")
    if kind in ("equal", "close"):
        _value(data.get("value"), budget)
    if kind == "close":
        _number(data.get("rtol"), "rtol")
        _number(data.get("atol"), "atol")
        hints = data.get("hints", [])
        _check(isinstance(hints, list) and len(hints) <= 10, "hints must be a short list")
        for hint in hints:
            _text(hint, "a hint", 100)
    if kind in ("check", "raises"):
        _check(isinstance(data.get("ok"), bool), "ok must be true or false")
        _optional_text(data.get("expected"), "what was expected")
        _text(data.get("got"), "what came back", MAX_TEXT)
        _optional_text(data.get("expected_key"), "a message key")
        _check(isinstance(data.get("not_implemented", False), bool), "not_implemented must be true or false")
    if kind in ("raised", "error"):
        _text(data.get("message"), "a message", 2 * MAX_TEXT)
    return data


@dataclass(frozen=True)
class Observations:
    """What the hidden tests of one exercise observed of the learner's code, in one test cell."""

    exercise: str
    items: tuple[dict, ...]

    def __post_init__(self) -> None:
        _text(self.exercise, "the observed exercise", 200)
        _check(isinstance(self.items, tuple), "observations must be a tuple")
        _check(len(self.items) <= MAX_OBSERVATIONS, f"more than {MAX_OBSERVATIONS} observations")
        budget = _Budget()
        for item in self.items:
            observation(item, budget)

    @classmethod
    def from_dict(cls, data: object) -> Observations:
        data = _object(data, "observations")
        _check(set(data) == {"exercise", "items"}, "observations have missing or unknown fields")
        items = data["items"]
        _check(isinstance(items, list), "observations' items must be a list")
        return cls(data["exercise"], tuple(items))


@dataclass(frozen=True)
class CellResult:
    """What one code cell gave: its outputs, its execution count, and how it ended (:data:`STATUSES`).

    ``observed``: what its hidden tests observed (a test cell that holds a hidden check only).
    """

    outputs: tuple[dict, ...] = ()
    execution_count: int | None = None
    status: str = "not_run"
    observed: Observations | None = None

    def __post_init__(self) -> None:
        _check(isinstance(self.outputs, tuple), "outputs must be a tuple")
        for o in self.outputs:
            output(o)
        _check(self.execution_count is None or (isinstance(self.execution_count, int)
                                                and not isinstance(self.execution_count, bool)), "a bad execution count")
        _check(self.status in STATUSES, f"unknown cell status {self.status!r}")
        _check(self.observed is None or isinstance(self.observed, Observations), "observed must be Observations")

    @property
    def passed(self) -> bool:
        """Positive evidence that the cell ran to the end without an error."""
        return self.status == "ok" and not any(o.get("output_type") == "error" for o in self.outputs)

    @classmethod
    def from_dict(cls, data: object) -> CellResult:
        data = _object(data, "a cell result")
        _check(set(data) <= {"outputs", "execution_count", "status", "observed"}, "a cell result has unknown fields")
        outputs = data.get("outputs", [])
        _check(isinstance(outputs, list), "outputs must be a list")
        observed = data.get("observed")
        return cls(tuple(outputs), data.get("execution_count"), data.get("status", "not_run"),
                   None if observed is None else Observations.from_dict(observed))


@dataclass(frozen=True)
class Answer:
    """The worker's answer to one job: one result per code cell, or the reason there is none."""

    id: str
    token: str
    cells: tuple[CellResult, ...] = ()
    events: tuple[Event, ...] = ()
    error: str | None = None  # the notebook could not be run at all
    runs: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        _text(self.id, "the answer's id", 1000)
        _text(self.token, "the answer's token", 200)
        _check(all(isinstance(c, CellResult) for c in self.cells), "cells must be CellResults")
        _check(all(isinstance(e, Event) for e in self.events), "events must be Events")
        _optional_text(self.error, "the answer's error")
        _check(isinstance(self.runs, int) and self.runs >= 0, "runs must be a whole number")
        _number(self.seconds, "seconds")

    @classmethod
    def failed(cls, job: Job, error: str) -> Answer:
        return cls(job.id, job.token, error=error[:MAX_TEXT])

    def to_json(self) -> str:
        return dumps(plain(self))

    @classmethod
    def from_json(cls, line: str | bytes, job: Job) -> Answer:
        """The answer in ``line``, checked against ``job``: same id and token, one result per code cell."""
        data = loads(line, "an answer", MAX_ANSWER)
        _check(set(data) <= set(cls.__dataclass_fields__), "an answer has unknown fields")
        cells, events = data.get("cells", []), data.get("events", [])
        _check(isinstance(cells, list) and isinstance(events, list), "an answer's cells and events must be lists")
        answer = cls(data.get("id"), data.get("token"), tuple(CellResult.from_dict(c) for c in cells),
                     tuple(Event.from_dict(e) for e in events), data.get("error"), data.get("runs", 0),
                     data.get("seconds", 0.0))
        answer.check(job)
        return answer

    def check(self, job: Job) -> None:
        _check(self.id == job.id, f"an answer for job {self.id!r} came for job {job.id!r}")
        _check(self.token == job.token, f"an answer for job {job.id!r} carries the wrong token")
        if self.error is None:
            _check(len(self.cells) == len(job.cells),
                   f"the answer has {len(self.cells)} cell results for {len(job.cells)} code cells")


# -- child -> worker, one per line ------------------------------------------------------------
@dataclass(frozen=True)
class ChildMessage:
    """A line from the child: ``start`` (cell ``cell`` begins), ``observed`` (what the hidden tests of
    the running test cell observed), ``cell`` (its result), ``done`` or ``broken``."""

    kind: str
    cell: int | None = None
    result: CellResult | None = None
    events: tuple[Event, ...] = ()
    detail: str = ""
    observed: Observations | None = None

    KINDS = ("start", "observed", "cell", "done", "broken")

    @classmethod
    def parse(cls, line: bytes, token: str, cells: int, job: str | None = None) -> ChildMessage:
        """The message in ``line``, checked: the run's ``token``, a known kind, a cell index below ``cells``;
        observations also name the job (``job``, when given) and hold only checked plain data."""
        data = loads(line, "a message from the child")
        _check(data.get("token") == token, "a message from the child carries the wrong token")
        kind = data.get("kind")
        _check(kind in cls.KINDS, f"unknown message kind {kind!r}")
        if kind == "observed":
            _check(set(data) == {"token", "kind", "cell", "job", "exercise", "items"},
                   "observations have missing or unknown fields")
            _check(job is None or data.get("job") == job, "observations for another job")
            items = data.get("items")
            _check(isinstance(items, list), "observations' items must be a list")
            return cls(kind, _index(data.get("cell"), "cell", cells),
                       observed=Observations(data.get("exercise"), tuple(items)))
        if kind == "start":
            return cls(kind, _index(data.get("cell"), "cell", cells))
        if kind == "cell":
            events = data.get("events", [])
            _check(isinstance(events, list), "events must be a list")
            return cls(kind, _index(data.get("cell"), "cell", cells), CellResult.from_dict(data.get("result")),
                       tuple(Event.from_dict(e) for e in events))
        if kind == "broken":
            return cls(kind, detail=_text(str(data.get("detail", ""))[:MAX_TEXT], "detail"))
        return cls(kind)


def child_line(token: str, kind: str, **fields: object) -> dict:
    """What the child sends (before encoding): ``kind`` and ``fields`` under the run's token."""
    return {"token": token, "kind": kind, **fields}


class MissingObservations(ProtocolError):
    """A test cell that holds a hidden check ran to the end without reporting what its hidden tests observed."""


@dataclass
class Expect:
    """The order the worker accepts a child's messages in: start 0, cell 0, start 1, cell 1, ..., done.

    ``hidden`` (one entry per cell, from the job) names the exercise whose hidden check a test
    cell holds: that cell may report one ``observed`` message for that exercise, before its
    result, and must have done so if it ran to the end (status ``ok``).
    """

    cells: int
    hidden: tuple[str | None, ...] = ()
    next: int = 0  # the next cell to start
    current: int | None = None  # the cell that started and has not reported
    results: dict[int, CellResult] = field(default_factory=dict)
    observed: Observations | None = None  # what the running cell's hidden tests reported
    done: bool = False

    def _hidden(self, cell: int | None) -> str | None:
        return self.hidden[cell] if cell is not None and cell < len(self.hidden) else None

    def accept(self, message: ChildMessage) -> None:
        _check(not self.done, "a message after done")
        if message.kind == "start":
            _check(self.current is None and message.cell == self.next, f"start of cell {message.cell} out of order")
            self.current, self.next, self.observed = message.cell, self.next + 1, None
        elif message.kind == "observed":
            _check(message.cell == self.current, f"observations of cell {message.cell} out of order")
            expected = self._hidden(message.cell)
            _check(expected is not None, f"observations from cell {message.cell}, which holds no hidden check")
            _check(message.observed.exercise == expected,
                   f"observations of {message.observed.exercise!r} from the hidden check of {expected!r}")
            _check(self.observed is None, f"observations of cell {message.cell} reported twice")
            self.observed = message.observed
        elif message.kind == "cell":
            _check(message.cell == self.current, f"result of cell {message.cell} out of order")
            result = message.result
            if self._hidden(message.cell) is not None and result.status == "ok" and self.observed is None:
                raise MissingObservations(f"test cell {message.cell} ran to the end without reporting "
                                          "what its hidden tests observed")
            self.results[message.cell] = replace(result, observed=self.observed)
            self.current, self.observed = None, None
        elif message.kind == "done":
            _check(self.current is None and self.next == self.cells, "done before every cell reported")
            self.done = True


# -- grader -> worker side: one notebook to grade, and the verdict that comes back ---------------
MAX_NOTEBOOK = 64 * 2**20  # characters of the graded notebook a verdict carries back


@dataclass(frozen=True)
class Task:
    """One submitted notebook to grade away from the gradebook: read, repair, sanitise, run, score.

    ``content`` is the submitted file (base64), ``reference`` what the gradebook knows of the
    source notebook (its cells, points, kernelspec and the source notebook of each edition: see
    :func:`autograde.gradebook.reference_of`), ``limits`` the run's limits (:class:`Job`'s fields).
    """

    id: str
    token: str
    student: str
    assignment: str
    notebook: str
    file_name: str
    content: str
    reference: dict
    limits: dict

    def __post_init__(self) -> None:
        _text(self.id, "the task id", 1000)
        _text(self.token, "the task token", 200)
        for name in ("student", "assignment", "notebook", "file_name"):
            _text(getattr(self, name), f"the task's {name}", 1000)
        _text(self.content, "the submitted file", 2 * MAX_NOTEBOOK)
        _object(self.reference, "the task's reference")
        _object(self.limits, "the task's limits")
        _check(set(self.limits) <= set(Job.__dataclass_fields__), "the task's limits have unknown fields")

    @property
    def grade_cells(self) -> dict[str, float]:
        """grade_id -> points: the graded cells a verdict must score, no more, no fewer."""
        return self.reference["grade_cells"]

    def to_json(self) -> str:
        head = dumps({name: getattr(self, name) for name in self.__dataclass_fields__ if name != "reference"})
        return f'{head[:-1]}, "reference": {_reference_json(self.reference)}}}'

    @classmethod
    def from_json(cls, line: str | bytes) -> Task:
        data = loads(line, "a task", 4 * MAX_NOTEBOOK)
        _check(set(data) == set(cls.__dataclass_fields__), "a task's fields are not the protocol's")
        return cls(**data)


_REFERENCES: dict[int, tuple[dict, str]] = {}  # id -> (a reference, its JSON): every task of a notebook shares one


def _reference_json(reference: dict) -> str:
    """A task's reference as JSON, encoded once per reference (the grader never changes one after it is built)."""
    kept = _REFERENCES.get(id(reference))
    if kept is None or kept[0] is not reference:
        if len(_REFERENCES) > 1000:
            _REFERENCES.clear()
        kept = _REFERENCES[id(reference)] = (reference, dumps(reference))
    return kept[1]


@dataclass(frozen=True)
class GradeVerdict:
    """The score of one graded cell (``None``: needs a grader by hand, as nbgrader's ``determine_grade`` says)."""

    name: str
    auto_score: float | None

    def __post_init__(self) -> None:
        _text(self.name, "a grade's cell", 200)
        if self.auto_score is not None:
            _number(self.auto_score, "a grade's score")


@dataclass(frozen=True)
class CommentVerdict:
    """nbgrader's automatic comment on one solution or task cell ("No response." or none)."""

    name: str
    auto_comment: str | None

    def __post_init__(self) -> None:
        _text(self.name, "a comment's cell", 200)
        _optional_text(self.auto_comment, "a comment")


@dataclass(frozen=True)
class Verdict:
    """What grading one notebook concluded, computed beside the run; the grader only writes it down.

    Either ``error`` (the notebook could not be graded: it scores zero) or one grade per graded
    cell of the source notebook, each between 0 and its points; ``notebook`` is the graded copy
    for ``autograded/``, ``notes`` and ``flags`` the report's lines.
    """

    id: str
    token: str
    grades: tuple[GradeVerdict, ...] = ()
    comments: tuple[CommentVerdict, ...] = ()
    notes: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    error: str | None = None
    notebook: str | None = None
    seconds: float = 0.0

    def __post_init__(self) -> None:
        _text(self.id, "the verdict's id", 1000)
        _text(self.token, "the verdict's token", 200)
        _check(isinstance(self.grades, tuple) and all(isinstance(g, GradeVerdict) for g in self.grades),
               "grades must be GradeVerdicts")
        _check(isinstance(self.comments, tuple) and all(isinstance(c, CommentVerdict) for c in self.comments),
               "comments must be CommentVerdicts")
        for what in ("notes", "flags"):
            lines = getattr(self, what)
            _check(isinstance(lines, tuple) and len(lines) <= MAX_CELLS, f"{what} must be a tuple of lines")
            for line in lines:
                _text(line, f"a verdict's {what[:-1]}")
        _optional_text(self.error, "the verdict's error")
        if self.notebook is not None:
            _text(self.notebook, "the graded notebook", MAX_NOTEBOOK)
        _number(self.seconds, "seconds")

    @classmethod
    def failed(cls, task: Task, error: str, notes: tuple[str, ...] = ()) -> Verdict:
        return cls(task.id, task.token, notes=notes, error=error[:MAX_TEXT])

    def to_json(self) -> str:
        return dumps(plain(self))

    @classmethod
    def from_json(cls, line: str | bytes, task: Task) -> Verdict:
        """The verdict in ``line``, checked against ``task``: same id and token, every graded cell scored once."""
        data = loads(line, "a verdict", MAX_ANSWER)
        _check(set(data) <= set(cls.__dataclass_fields__), "a verdict has unknown fields")
        grades, comments = data.get("grades", []), data.get("comments", [])
        notes, flags = data.get("notes", []), data.get("flags", [])
        _check(all(isinstance(v, list) for v in (grades, comments, notes, flags)),
               "a verdict's grades, comments, notes and flags must be lists")
        grades = tuple(GradeVerdict(**_fields(g, "a grade", GradeVerdict)) for g in grades)
        comments = tuple(CommentVerdict(**_fields(c, "a comment", CommentVerdict)) for c in comments)
        verdict = cls(data.get("id"), data.get("token"), grades, comments, tuple(notes), tuple(flags),
                      data.get("error"), data.get("notebook"), data.get("seconds", 0.0))
        verdict.check(task)
        return verdict

    def check(self, task: Task) -> None:
        _check(self.id == task.id, f"a verdict for {self.id!r} came for task {task.id!r}")
        _check(self.token == task.token, f"a verdict for {task.id!r} carries the wrong token")
        if self.error is not None:
            _check(not self.grades, "a failed verdict carries grades")
            return
        points = task.grade_cells
        names = [g.name for g in self.grades]
        _check(len(names) == len(set(names)) and set(names) <= set(points),  # a cell missing stays unscored, as in nbgrader
               f"a verdict for {task.id!r} does not score each graded cell once")
        for grade in self.grades:
            _check(grade.auto_score is None or grade.auto_score <= points[grade.name],
                   f"{grade.name} scored more than its {points[grade.name]:g} points")
        known = set(task.reference["solution_cells"]) | set(task.reference["task_cells"])
        _check(all(c.name in known for c in self.comments), "a verdict comments on a cell that is not a solution")


def _fields(data: object, what: str, kind: type) -> dict:
    data = _object(data, what)
    _check(set(data) == set(kind.__dataclass_fields__), f"{what} has unknown or missing fields")
    return data

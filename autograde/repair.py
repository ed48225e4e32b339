"""Read a learner's submission and put it back into the shape of its source notebook before grading.

Nothing here runs code, writes files or touches the gradebook: ``load_submission`` only reads the
submitted file, and ``repair`` builds a new notebook from two notebooks in memory.

``repair(submitted, template)`` rebuilds the learner's notebook on the skeleton of the source
notebook (the template), so that nbgrader finds every graded cell exactly once:

* The output follows the template's cell order. Template markdown cells and locked cells (the
  ``setup`` cell and every test cell ``test_<name>``) come from the template, hidden tests included.
* Each solution cell (``grade_id`` = the exercise's name) gets the learner's code, never the
  template's. The learner's cell is found (a) by its nbgrader ``grade_id``, else (b) by its
  nbformat cell ``id`` (a student copy keeps the ids of its source), else (c) by its code: a cell
  whose top-level statements define the exercise's name (``def``, ``class``, assignment, import).
  A markdown or raw cell whose text is Python that defines the name counts as code. A cell still
  holding the untouched stub (``raise NotImplementedError()``) counts only when nothing else is
  found. When no code is found the solution cell is left empty, so that a stub cannot undo a
  definition made in another cell.
* When several learner cells hold one exercise, the last one that is not the stub is graded and the
  others are dropped. When one learner cell defines several exercises it fills the position of the
  first of them (in the template's order); the others are left empty.
* A learner's copy of a locked cell (found by ``grade_id`` or ``id``) is compared with the template
  cell without its hidden tests, ignoring trailing whitespace: an edited or deleted one is restored.
  Cells without ``grade_id`` or ``id`` whose text equals a template cell are recognised by that text.
* The template's other code cells (examples the tests may rely on) keep the learner's copy; a
  deleted one is restored from the template.
* The notebook's metadata is the learner's, with the template's ``kernelspec`` and ``course``.
* Learner cells that match no template cell (helpers, scratch work, notes) are kept (without any
  nbgrader metadata, so that grade ids stay unique), in their order,
  right after the output position of the nearest preceding learner cell that was matched (or at the
  start of the notebook when none precedes them). This is simple and predictable; it does not try
  to guess where a cell "belongs".
"""

from __future__ import annotations

import ast
import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograde.workspace import STUB, STUBS

MAX_BYTES = 20 * 2**20
HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
CELL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
IDENTITY = ("grade_id", "grade", "solution", "locked", "points")

TEXT, LOCKED, SOLUTION, CODE = "text", "locked", "solution", "code"


class SubmissionError(ValueError):
    """A submitted file that cannot be graded; the message is one sentence for the grader's report."""


@dataclass
class Loaded:
    """A submission read into memory: the notebook (nbformat v4) and what was done to read it."""

    notebook: NotebookNode
    notes: list[str] = field(default_factory=list)


# --- reading a submitted file -------------------------------------------------------------------


def _mb(size: int) -> str:
    """A size in MB (2**20 bytes), without a needless ``.0``."""
    text = f"{size / 2**20:.1f}"
    return text.removesuffix(".0")


def load_submission(path: Path, max_bytes: int = MAX_BYTES) -> Loaded:
    """Read a submitted notebook without modifying it, upgrading an old nbformat to v4.

    Raises ``SubmissionError`` with one sentence naming the problem: a missing, empty, oversized
    (checked before reading), non-JSON, truncated or non-notebook file, or one handed in as ``.py``.
    """
    return parse_submission(Path(path).name, read_submission(path, max_bytes))


def read_submission(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a submitted notebook, refused (``SubmissionError``) when missing, not a notebook file or too large."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise SubmissionError(f"{name} was not found")
    if path.suffix.lower() != ".ipynb":
        kind = "a Python file (.py)" if path.suffix == ".py" else f"a {path.suffix or 'extension-less'} file"
        raise SubmissionError(f"{name} is {kind}, not a notebook: hand in the .ipynb file saved by Jupyter")
    size = path.stat().st_size
    if size > max_bytes:
        raise SubmissionError(
            f"{name} is {_mb(size)} MB, over the {_mb(max_bytes)} MB limit: clear its outputs "
            "(Edit > Clear Outputs of All Cells), save it and hand it in again"
        )
    return path.read_bytes()


def parse_submission(name: str, raw: bytes) -> Loaded:
    """A submitted notebook from the bytes of the file ``name`` (what :func:`load_submission` read)."""
    text = _decode(name, raw)
    data = _parse_json(name, text)
    return _to_v4(name, text, data)


def _decode(name: str, raw: bytes) -> str:
    """The file's text; an empty file or one that is not UTF-8 is refused."""
    if not raw.strip():
        raise SubmissionError(f"{name} is empty ({len(raw)} bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubmissionError(f"{name} is not a text file, so not a notebook (notebooks are UTF-8 JSON)") from None


def _parse_json(name: str, text: str) -> dict:
    """The JSON object of a notebook; explain truncated JSON, Python code and other non-notebooks."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if _ends_early(text):
            size = len(text.encode())
            raise SubmissionError(
                f"{name} is truncated: its JSON ends early, after {size} bytes, as if saving or uploading it was cut off"
            ) from None
        if _python_tree(text) is not None:
            raise SubmissionError(f"{name} holds Python code, not a notebook: hand in the .ipynb file saved by Jupyter") from None
        where = f"line {e.lineno}, column {e.colno}: {e.msg}"
        raise SubmissionError(f"{name} is not valid JSON ({where}), so it is not a notebook") from None
    if not isinstance(data, dict):
        raise SubmissionError(f"{name} is JSON but not a notebook: it holds a {type(data).__name__}, not an object with cells")
    if "cells" not in data and "worksheets" not in data:
        raise SubmissionError(f"{name} is JSON but not a notebook: it has no cells")
    return data


def _ends_early(text: str) -> bool:
    """True when JSON text stops inside a string or before all its brackets are closed."""
    outside = re.sub(r'"(?:[^"\\]|\\.)*"', "", text)
    if '"' in outside:
        return True
    return outside.count("{") + outside.count("[") > outside.count("}") + outside.count("]")


def _to_v4(name: str, text: str, data: dict) -> Loaded:
    """Let nbformat read the notebook and upgrade it to v4, after checking that its cells are cells."""
    major = data.get("nbformat", 1)
    if "cells" in data:
        _check_cells(name, data)
        text = json.dumps(data)
    try:
        nb = nbformat.convert(nbformat.reader.reads(text), 4)
    except Exception as e:  # nbformat raises several types (NBFormatError, ValidationError, ValueError, KeyError)
        raise SubmissionError(f"{name} could not be read as a notebook (nbformat {major}): {e}") from None
    notes = [f"converted from nbformat {major}"] if major != 4 else []
    return Loaded(nb, notes)


def _check_cells(name: str, data: dict) -> None:
    """Refuse cells nothing can grade; give cells whose metadata was stripped empty metadata."""
    cells = data["cells"]
    if not isinstance(cells, list):
        raise SubmissionError(f"{name} could not be read as a notebook: its cells are not a list")
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise SubmissionError(f"{name} could not be read as a notebook: cell {number} is not a notebook cell")
        source = cell.setdefault("source", "")
        if not (isinstance(source, str) or isinstance(source, list) and all(isinstance(s, str) for s in source)):
            raise SubmissionError(f"{name} could not be read as a notebook: cell {number} has no text")
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
        if cell["cell_type"] == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
    if not isinstance(data.get("metadata"), dict):
        data["metadata"] = {}


def find_notebook(folder: Path, name: str) -> tuple[Path | None, str | None]:
    """The submitted ``<name>.ipynb`` in ``folder``, or None and a sentence naming what is there."""
    folder = Path(folder)
    expected = f"{name}.ipynb"
    if (folder / expected).is_file():
        return folder / expected, None
    if not folder.is_dir():
        return None, f"expected {expected}; there is no folder {folder.name}"
    found = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    if not found:
        return None, f"expected {expected}; the folder is empty"
    return None, f"expected {expected}; found {', '.join(found)}"


def edition_of(nb: NotebookNode) -> str:
    """The course edition a notebook belongs to: ``metadata.course.lang``, else "ko" for Hangul prose, else "en"."""
    lang = (nb.get("metadata", {}).get("course") or {}).get("lang")
    if lang in ("en", "ko"):
        return lang
    prose = "".join(c.get("source", "") for c in nb.get("cells", []) if c.get("cell_type") == "markdown")
    return "ko" if HANGUL.search(prose) else "en"


# --- cell text ------------------------------------------------------------------------------------


def normalized(source: str) -> str:
    """A cell's text with trailing whitespace ignored (on every line and at the end)."""
    return "\n".join(line.rstrip() for line in source.splitlines()).rstrip("\n")


def strip_hidden_tests(source: str) -> str:
    """The cell as learners see it: lines from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` removed."""
    kept, hidden = [], False
    for line in source.split("\n"):
        if "BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


def solution_stub(source: str, stub: str = STUB) -> str:
    """The solution cell as released: each ``### BEGIN SOLUTION`` region replaced by the indented stub."""
    kept, inside = [], False
    for line in source.split("\n"):
        if "BEGIN SOLUTION" in line:
            inside = True
            indent = re.match(r"\s*", line).group(0)
            kept.extend(indent + stub_line for stub_line in stub.split("\n"))
        elif "END SOLUTION" in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def _python_tree(source: str) -> ast.Module | None:
    """The source parsed as Python (IPython ``%magic`` and ``!shell`` lines ignored), or None."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        pass
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


def defined_names(source: str) -> set[str]:
    """Names a cell's top-level code binds: def, class, assignment, import (also inside if/try/with)."""
    tree = _python_tree(source)
    return _bound(tree.body) if tree else set()


def _bound(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody", "handlers"):
                for part in getattr(node, block, []):
                    names |= _bound(part.body if isinstance(part, ast.ExceptHandler) else [part])
    return names


def code_of(cell: NotebookNode) -> str:
    """The Python a cell holds: a code cell's source, or a markdown/raw cell's text (without a ``` fence)."""
    if cell.cell_type == "code":
        return cell.source
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", cell.source, flags=re.DOTALL | re.MULTILINE)
    return "\n".join(block.rstrip("\n") for block in fenced) if fenced else cell.source


def _nbgrader(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}


def _kind(cell: NotebookNode) -> str:
    """What a template cell is: a solution, a locked cell, an example code cell or text."""
    meta = _nbgrader(cell)
    if meta.get("solution"):
        return SOLUTION
    if meta.get("locked") or meta.get("grade"):
        return LOCKED
    return CODE if cell.cell_type == "code" else TEXT


def _ungraded(cell: NotebookNode) -> NotebookNode:
    """A copy of a learner's cell without nbgrader metadata, so that its grade id cannot clash or count."""
    cell = copy.deepcopy(cell)
    cell.get("metadata", {}).pop("nbgrader", None)
    return cell


def _label(cell: NotebookNode) -> str:
    return "test cell" if _nbgrader(cell).get("grade") else "locked cell"


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")


# --- repair ----------------------------------------------------------------------------------------


@dataclass
class Repaired:
    """The rebuilt notebook and what was repaired.

    ``notes``: one sentence per repair, empty when nothing was needed. ``edited_locked``: grade ids of
    locked cells that were changed or deleted (``deleted_locked`` lists the deleted ones) and restored.
    ``found_by_code`` / ``found_by_id``: exercises whose cell had lost its nbgrader metadata.
    ``duplicates``: exercises held by several cells. ``markdown_solutions``: exercises whose code was in
    a markdown or raw cell. ``defined_elsewhere``: exercise -> the exercise whose cell defines it.
    ``missing``: exercises with no code found. ``inserted``: indexes of the learner's own cells kept.
    """

    notebook: NotebookNode
    notes: list[str] = field(default_factory=list)
    edited_locked: list[str] = field(default_factory=list)
    deleted_locked: list[str] = field(default_factory=list)
    found_by_code: list[str] = field(default_factory=list)
    found_by_id: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    markdown_solutions: list[str] = field(default_factory=list)
    defined_elsewhere: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    inserted: list[int] = field(default_factory=list)


def repair(submitted: NotebookNode, template: NotebookNode) -> Repaired:
    """Rebuild ``submitted`` on the cells of ``template`` (a source notebook); neither input is modified.

    See the module's docstring for the rules.
    """
    return _Repair(submitted, template).run()


class _Repair:
    """One repair: learner cells are matched to template cells ("slots"), then the notebook is rebuilt."""

    def __init__(self, submitted: NotebookNode, template: NotebookNode):
        self.submitted = submitted
        self.template = template
        self.slots = list(template.cells)
        self.kinds = [_kind(c) for c in self.slots]
        self.cells = list(submitted.cells)
        self.claims: dict[int, list[int]] = {}  # slot -> learner cells that claim it by grade_id or id
        self.anchor: dict[int, int] = {}  # learner cell -> slot it belongs to (placed, restored or dropped)
        self.chosen: dict[int, int | None] = {}  # solution slot -> learner cell holding its code
        self.dropped: set[int] = set()
        self.claimed_by: dict[int, str] = {}  # learner cell -> "grade_id" or "id", how it claimed a solution slot
        self.how: dict[int, str] = {}  # solution slot -> "grade_id", "id" or "code"
        self.result = Repaired(NotebookNode())

    def run(self) -> Repaired:
        self.claim_by_identity()
        self.claim_by_text()
        self.choose_solutions()
        self.check_reorder()
        self.check_locked()
        self.result.notebook = self.build()
        return self.result

    def note(self, text: str) -> None:
        self.result.notes.append(text)

    # matching

    def claim_by_identity(self) -> None:
        """Claim slots by nbgrader grade_id, else by cell id, where the cell types fit."""
        by_grade_id = {_nbgrader(c).get("grade_id"): s for s, c in enumerate(self.slots) if _nbgrader(c).get("grade_id")}
        by_id = {c.get("id"): s for s, c in enumerate(self.slots) if c.get("id")}
        for i, cell in enumerate(self.cells):
            slot = by_grade_id.get(_nbgrader(cell).get("grade_id"))
            how = "grade_id"
            if slot is None or not self.fits(slot, cell):
                slot, how = by_id.get(cell.get("id")), "id"
            if slot is None or not self.fits(slot, cell):
                continue
            if self.kinds[slot] == SOLUTION:
                if self.usable(i, slot):
                    self.claims.setdefault(slot, []).append(i)
                    self.claimed_by[i] = how
            elif slot not in self.claims:
                self.claims[slot] = [i]
                self.anchor[i] = slot
            elif self.kinds[slot] == LOCKED:
                self.claims[slot].append(i)
                self.anchor[i] = slot
                self.dropped.add(i)

    def fits(self, slot: int, cell: NotebookNode) -> bool:
        """Whether a learner cell can be the copy of a template cell: text for text, code for code."""
        kind = self.kinds[slot]
        if kind in (LOCKED, SOLUTION):
            return True
        return (cell.cell_type == "code") == (kind == CODE)

    def usable(self, i: int, slot: int) -> bool:
        """A learner cell can hold a solution if it is code, or text that is Python defining the exercise."""
        cell = self.cells[i]
        return cell.cell_type == "code" or self.exercise(slot) in defined_names(code_of(cell))

    def exercise(self, slot: int) -> str:
        return _nbgrader(self.slots[slot])["grade_id"]

    def claim_by_text(self) -> None:
        """Recognise unclaimed learner cells whose text equals an unclaimed template cell (not a solution)."""
        free = [s for s, k in enumerate(self.kinds) if k != SOLUTION and s not in self.claims]
        for i, cell in enumerate(self.cells):
            if i in self.anchor or any(i in c for c in self.claims.values()):
                continue
            text = normalized(cell.source)
            for slot in free:
                if self.fits(slot, cell) and cell.cell_type == self.slots[slot].cell_type and text in self.texts(slot):
                    self.claims[slot] = [i]
                    self.anchor[i] = slot
                    free.remove(slot)
                    break

    def texts(self, slot: int) -> set[str]:
        """The texts a learner's untouched copy of a template cell may have (with or without hidden tests)."""
        source = self.slots[slot].source
        return {normalized(source), normalized(strip_hidden_tests(source))}

    # solutions

    def is_stub(self, i: int, slot: int) -> bool:
        """Whether a learner cell still holds nothing but the released stub, in any edition's language (or nothing)."""
        text = normalized(code_of(self.cells[i]))
        source = self.slots[slot].source
        return text == "" or any(text in {normalized(solution_stub(source, stub)), normalized(stub)}
                                 for stub in STUBS.values())

    def choose_solutions(self) -> None:
        """Give every solution slot its learner cell: by grade_id/id, else by code, else a stub, else nothing."""
        solutions = [s for s, k in enumerate(self.kinds) if k == SOLUTION]
        for slot in solutions:
            written = [i for i in self.claims.get(slot, []) if not self.is_stub(i, slot)]
            if written:
                self.take(slot, written[-1], self.claims[slot])
        for slot in solutions:
            if slot not in self.chosen:
                self.choose_by_code(slot)
        self.note_found()

    def candidates(self, slot: int) -> list[int]:
        """Learner cells whose code defines the exercise and that no text, locked or example cell claimed."""
        name = self.exercise(slot)
        return [
            i
            for i, cell in enumerate(self.cells)
            if (i not in self.anchor or self.kinds[self.anchor[i]] == SOLUTION) and name in defined_names(code_of(cell))
        ]

    def choose_by_code(self, slot: int) -> None:
        """Find a slot's code among all learner cells; a stub only when there is nothing else."""
        claimed = self.claims.get(slot, [])
        found = [i for i in self.candidates(slot) if i not in claimed]
        written = [i for i in found if not self.is_stub(i, slot)]
        if written:
            self.take(slot, written[-1], claimed + found)
        elif claimed:
            self.take(slot, claimed[-1], claimed + found)
        elif found:
            self.take(slot, found[-1], found)
        else:
            self.chosen[slot] = None
            self.result.missing.append(self.exercise(slot))
            self.note(f"no code found for {self.exercise(slot)}; its cell is left empty")

    def take(self, slot: int, i: int, candidates: list[int]) -> None:
        """Give ``slot`` the learner cell ``i``; the other candidates of this exercise are dropped."""
        name = self.exercise(slot)
        owner = self.anchor.get(i) if i not in self.dropped else None
        for other in candidates:
            if other != i and other not in self.anchor:
                self.anchor[other] = slot
                self.dropped.add(other)
        if owner is not None and owner != slot:
            self.chosen[slot] = None
            self.result.defined_elsewhere[name] = self.exercise(owner)
            self.note(f"{name} is defined in the cell of {self.exercise(owner)}; its own cell is left empty")
            return
        self.chosen[slot] = i
        self.how[slot] = self.claimed_by.get(i, "code") if i in self.claims.get(slot, []) else "code"
        self.anchor[i] = slot
        self.dropped.discard(i)
        extra = [c for c in candidates if c != i and c in self.dropped and self.anchor[c] == slot]
        if extra:
            self.result.duplicates.append(name)
            self.note(f"{name} appeared in {len(extra) + 1} cells; graded the last one that is not the stub")
        if self.cells[i].cell_type != "code":
            self.result.markdown_solutions.append(name)
            self.note(f"the solution for {name} was a {self.cells[i].cell_type} cell; graded as code")

    def note_found(self) -> None:
        """Note the exercises whose cells had lost their nbgrader metadata."""
        by_code = [self.exercise(s) for s, i in self.chosen.items() if i is not None and self.how.get(s) == "code"]
        by_id = [self.exercise(s) for s, i in self.chosen.items() if i is not None and self.how.get(s) == "id"]
        self.result.found_by_code = sorted(by_code, key=self.order)
        self.result.found_by_id = sorted(by_id, key=self.order)
        if by_id:
            self.note(f"cell metadata was missing; found {', '.join(self.result.found_by_id)} by their cell ids")
        if by_code:
            self.note(f"cell metadata was missing; found {', '.join(self.result.found_by_code)} by their code")

    def order(self, name: str) -> int:
        return next(s for s, c in enumerate(self.slots) if _nbgrader(c).get("grade_id") == name)

    # checks

    def check_reorder(self) -> None:
        """Note when the learner's matched cells were not in the template's order."""
        placed = [self.anchor[i] for i in range(len(self.cells)) if i in self.anchor and i not in self.dropped]
        if any(b < a for a, b in zip(placed, placed[1:])):
            self.note("cells were out of order; put back in the order of the source")

    def check_locked(self) -> None:
        """Locked cells: edited, deleted or duplicated copies are restored; deleted example cells too."""
        for slot, cell in enumerate(self.slots):
            claims = self.claims.get(slot, [])
            if self.kinds[slot] == CODE and not claims:
                self.note(f"the code cell `{_first_line(cell.source)}` was missing; restored from the source")
            if self.kinds[slot] != LOCKED:
                continue
            gid = _nbgrader(cell).get("grade_id", f"cell {slot + 1}")
            if not claims:
                self.result.edited_locked.append(gid)
                self.result.deleted_locked.append(gid)
                self.note(f"{_label(cell)} {gid} was deleted; restored from the source")
                continue
            if len(claims) > 1:
                self.note(f"{_label(cell)} {gid} appeared in {len(claims)} cells; kept one copy of the source")
            if not self.untouched(slot, claims[0]):
                self.result.edited_locked.append(gid)
                self.note(f"{_label(cell)} {gid} was edited; restored from the source")

    def untouched(self, slot: int, i: int) -> bool:
        cell = self.cells[i]
        return cell.cell_type == self.slots[slot].cell_type and normalized(cell.source) in self.texts(slot)

    # building

    def build(self) -> NotebookNode:
        """The output notebook: template cells in order, each followed by the learner cells anchored to it."""
        before: list[int] = []
        after: dict[int, list[int]] = {}
        current = None
        for i in range(len(self.cells)):
            if i in self.anchor:
                current = self.anchor[i]
            else:
                self.result.inserted.append(i)
                (after.setdefault(current, []) if current is not None else before).append(i)
        ids = {c.get("id") for c in self.slots if c.get("id")}
        cells = [self.inserted(i, ids) for i in before]
        for slot in range(len(self.slots)):
            cells.append(self.slot_cell(slot))
            cells.extend(self.inserted(i, ids) for i in after.get(slot, []))
        nb = nbformat.v4.new_notebook(cells=cells)
        nb.metadata = copy.deepcopy(self.submitted.get("metadata", {}))
        for key in ("kernelspec", "course"):  # the kernel grading starts, and the course's own description
            if key in self.template.get("metadata", {}):
                nb.metadata[key] = copy.deepcopy(self.template.metadata[key])
        return nb

    def slot_cell(self, slot: int) -> NotebookNode:
        """The output cell at a template position."""
        kind, template = self.kinds[slot], self.slots[slot]
        claims = self.claims.get(slot, [])
        if kind == TEXT:
            return self.with_id(copy.deepcopy(template), slot)
        if kind == LOCKED:
            learner = self.cells[claims[0]] if claims and self.untouched(slot, claims[0]) else None
            return self.code_cell(slot, template.source, learner)
        if kind == CODE:
            if claims:
                return self.with_id(_ungraded(self.cells[claims[0]]), slot)
            return self.code_cell(slot, template.source, None)
        i = self.chosen.get(slot)
        learner = self.cells[i] if i is not None else None
        return self.code_cell(slot, code_of(learner) if learner else "", learner)

    def code_cell(self, slot: int, source: str, learner: NotebookNode | None) -> NotebookNode:
        """A template position's cell with ``source``; outputs and metadata of the learner's copy if it fits."""
        template = self.slots[slot]
        cell = nbformat.v4.new_code_cell(source=source) if template.cell_type == "code" else copy.deepcopy(template)
        cell.source = source
        cell.metadata = copy.deepcopy(template.get("metadata", {}))
        if learner is not None and all(_nbgrader(learner).get(k) == _nbgrader(template).get(k) for k in IDENTITY):
            cell.metadata = copy.deepcopy(learner.metadata)
        if learner is not None and learner.cell_type == "code" and cell.cell_type == "code":
            cell.outputs = copy.deepcopy(learner.get("outputs", []))
            cell.execution_count = learner.get("execution_count")
        return self.with_id(cell, slot)

    def with_id(self, cell: NotebookNode, slot: int) -> NotebookNode:
        cell["id"] = self.slots[slot].get("id") or f"cell-{slot}"
        return cell

    def inserted(self, i: int, ids: set[str]) -> NotebookNode:
        """A learner's own cell, with its id unless that id is taken, and never graded."""
        cell = _ungraded(self.cells[i])
        cell_id = cell.get("id")
        if not cell_id or not CELL_ID.match(str(cell_id)) or cell_id in ids:
            cell_id = f"learner-{i}"
            while cell_id in ids:
                cell_id += "-"
        cell["id"] = cell_id
        ids.add(cell_id)
        return cell

"""Grading accuracy by mutation testing: does every wrong answer lose its points?

Each reference solution (the solution cells of the source notebooks, copied from ``solutions/``)
is mutated by small edits a learner could make: an operator, a comparison, a constant, a
reduction or its ``dim``, a removed statement, a dropped keyword, two arguments swapped. Each
mutant is graded as if a learner had submitted it (``autograde/trial.py``: the visible checks,
then the hidden tests, run by the engine's kernel). A mutant no test fails is then judged by
:mod:`autograde.oracle`, on many more inputs than the hidden tests: if it behaves like the
reference it is *equivalent* (a correct solution in another form), otherwise it *survived* and
the tests must get stronger.

``python -m autograde.mutants`` (``make accuracy``) grades every mutant and prints the table;
``--sample N`` grades N mutants per exercise, spread evenly (what ``make test`` runs).
"""

from __future__ import annotations

import argparse
import ast
import copy
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from autograde import course, oracle, trial

SWAP_BINOPS = {ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.Div, ast.Add], ast.Div: [ast.Mult, ast.FloorDiv],
               ast.FloorDiv: [ast.Div, ast.Mult], ast.Pow: [ast.Mult], ast.Mod: [ast.FloorDiv],
               ast.MatMult: [ast.Mult]}
SWAP_COMPARE = {ast.Lt: [ast.LtE], ast.LtE: [ast.Lt], ast.Gt: [ast.GtE], ast.GtE: [ast.Gt], ast.Eq: [ast.NotEq],
                ast.NotEq: [ast.Eq], ast.Is: [ast.IsNot], ast.IsNot: [ast.Is], ast.In: [ast.NotIn],
                ast.NotIn: [ast.In]}
SWAP_METHODS = {"mean": ["sum"], "sum": ["mean"], "max": ["min"], "min": ["max"], "argmax": ["argmin"],
                "argmin": ["argmax"], "relu": ["sigmoid"], "max_pool2d": ["avg_pool2d"], "abs": ["neg"],
                "train": ["eval"], "eval": ["train"], "zero_grad": ["__repr__"], "clone": ["detach"],
                "named_parameters": ["named_buffers"], "children": ["modules"], "item": ["float"],
                "logsumexp": ["amax"], "float32": ["float64"], "long": ["int"]}


@dataclass(frozen=True)
class Mutant:
    exercise: str
    number: int
    description: str
    source: str


def _solution_lines(source: str) -> set[int]:
    """Line numbers (1-based) between the SOLUTION markers: only those are mutated."""
    lines, inside = set(), False
    for number, line in enumerate(source.splitlines(), start=1):
        if "### BEGIN SOLUTION" in line:
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif inside:
            lines.add(number)
    return lines


def _in_fstring(tree: ast.AST) -> set[int]:
    return {id(n) for f in ast.walk(tree) if isinstance(f, ast.JoinedStr) for n in ast.walk(f)}


def _edits(node: ast.AST, parent: ast.AST | None) -> Iterator[tuple[str, callable]]:
    """(description, apply) for each mutation of ``node``; apply edits the node or its parent in place."""
    if isinstance(node, ast.BinOp):
        for new in SWAP_BINOPS.get(type(node.op), []):
            yield f"{type(node.op).__name__} -> {new.__name__}", lambda n, p, new=new: setattr(n, "op", new())
        yield "left operand only", lambda n, p: _replace(p, n, n.left)
        yield "right operand only", lambda n, p: _replace(p, n, n.right)
    elif isinstance(node, ast.AugAssign):
        for new in SWAP_BINOPS.get(type(node.op), []):
            yield f"{type(node.op).__name__}= -> {new.__name__}=", lambda n, p, new=new: setattr(n, "op", new())
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        for new in SWAP_COMPARE.get(type(node.ops[0]), []):
            yield f"{type(node.ops[0]).__name__} -> {new.__name__}", lambda n, p, new=new: n.ops.__setitem__(0, new())
    elif isinstance(node, ast.BoolOp):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield f"{type(node.op).__name__} -> {new.__name__}", lambda n, p, new=new: setattr(n, "op", new())
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        yield f"drop {type(node.op).__name__}", lambda n, p: _replace(p, n, n.operand)
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float) and parent is not None:
        value = node.value
        for new in ([value + 1, value - 1] if isinstance(value, int) else [value * 2, value / 2 if value else 1.0]):
            if new != value:
                yield f"constant {value!r} -> {new!r}", lambda n, p, new=new: setattr(n, "value", new)
    elif isinstance(node, ast.Constant) and type(node.value) is bool:
        yield f"{node.value} -> {not node.value}", lambda n, p: setattr(n, "value", not n.value)
    elif isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        for new in SWAP_METHODS.get(name, []):
            yield f"{name}() -> {new}()", lambda n, p, new=new: _rename(n.func, new)
        for index, keyword in enumerate(node.keywords):
            yield f"drop {keyword.arg}=", lambda n, p, index=index: n.keywords.pop(index)
        if len(node.args) >= 2:
            yield "swap the first two arguments", lambda n, p: n.args.__setitem__(slice(0, 2), n.args[1::-1][:2])
        if isinstance(func, ast.Name) and name in {"tuple", "list", "float", "int", "len"} and len(node.args) == 1:
            yield f"drop {name}()", lambda n, p: _replace(p, n, n.args[0])
        if isinstance(func, ast.Attribute) and not node.args and not node.keywords and name in {
                "clone", "detach", "float", "item", "long", "abs", "mean", "sum"}:
            yield f"drop .{name}()", lambda n, p: _replace(p, n, n.func.value)
    elif isinstance(node, ast.comprehension) and node.ifs:
        yield "drop the comprehension's if", lambda n, p: n.ifs.clear()
    elif isinstance(node, ast.Attribute) and node.attr == "T" and parent is not None:
        yield "drop .T", lambda n, p: _replace(p, n, n.value)
    elif isinstance(node, ast.Attribute) and node.attr in {"requires_grad", "training"} and parent is not None:
        yield f"not .{node.attr}", lambda n, p: _replace(p, n, ast.UnaryOp(ast.Not(), n))
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in {"x", "y", "target", "output"}:
        other = {"x": "y", "y": "x", "target": "output", "output": "target"}[node.id]
        yield f"{node.id} -> {other}", lambda n, p, other=other: setattr(n, "id", other)


def _rename(func: ast.AST, new: str) -> None:
    if isinstance(func, ast.Attribute):
        func.attr = new
    else:
        func.id = new


def _replace(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for field, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
            return
        if isinstance(value, list):
            for index, item in enumerate(value):
                if item is old:
                    value[index] = new
                    return
    raise LookupError("node not found in its parent")


def _statements(tree: ast.AST, lines: set[int]) -> Iterator[tuple[int, int]]:
    """(node index, statement index) of each statement inside the solution that can be removed."""
    nodes = list(ast.walk(tree))
    for index, node in enumerate(nodes):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list):
                for position, statement in enumerate(body):
                    if isinstance(statement, ast.stmt) and statement.lineno in lines:
                        yield index, field, position


def generate(exercise: str, source: str) -> list[Mutant]:
    """Every distinct mutant of the solution cell ``source`` (comments and layout are not kept)."""
    tree = ast.parse(source)
    lines = _solution_lines(source)
    original = ast.unparse(tree)
    seen, mutants = {original}, []

    def add(description: str, mutated: ast.AST) -> None:
        text = ast.unparse(ast.fix_missing_locations(mutated))
        if text not in seen:
            seen.add(text)
            mutants.append(Mutant(exercise, len(mutants), description, text))

    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    nodes = list(ast.walk(tree))
    skip = _in_fstring(tree)
    for index, node in enumerate(nodes):
        if getattr(node, "lineno", None) not in lines or id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and isinstance(parents.get(id(node)), ast.Expr):
            continue  # a docstring
        for number, (description, _) in enumerate(_edits(node, parents.get(id(node)))):
            mutated = copy.deepcopy(tree)
            twin = list(ast.walk(mutated))[index]
            twin_parents = {id(c): n for n in ast.walk(mutated) for c in ast.iter_child_nodes(n)}
            _, apply = list(_edits(twin, twin_parents.get(id(twin))))[number]
            try:
                apply(twin, twin_parents.get(id(twin)))
            except (LookupError, IndexError):
                continue
            add(f"line {node.lineno - min(lines) + 1}: {description}", mutated)
    for index, field, position in _statements(tree, lines):
        mutated = copy.deepcopy(tree)
        body = getattr(list(ast.walk(mutated))[index], field)
        removed = body[position]
        if len(body) == 1:
            body[position] = ast.Pass()
        else:
            del body[position]
        add(f"line {removed.lineno - min(lines) + 1}: remove `{ast.unparse(removed).splitlines()[0][:40]}`", mutated)
    return mutants


def all_mutants(sample: int | None = None) -> dict[str, list[Mutant]]:
    """Exercise -> its mutants (``sample`` of them, spread evenly, if given)."""
    result = {}
    for nb in course.notebooks():
        for exercise, source in trial.solution_sources(nb):
            mutants = generate(exercise, source)
            if sample is not None and len(mutants) > sample:
                step = len(mutants) / sample
                mutants = [mutants[int(i * step)] for i in range(sample)]
            result[exercise] = mutants
    return result


@dataclass
class Row:
    exercise: str
    mutants: int = 0
    equivalent: int = 0
    visible: int = 0
    hidden: int = 0
    survived: int = 0

    @property
    def killed_share(self) -> float:
        wrong = self.mutants - self.equivalent
        return 1.0 if wrong == 0 else (self.visible + self.hidden) / wrong


def _namespace(nb: course.Notebook) -> dict:
    """What the notebook's locked setup cell imports, for building a mutant outside a kernel."""
    namespace: dict = {}
    for cell in trial.cells_of(nb):
        if cell.kind == "given":
            exec(compile(cell.source, "setup", "exec"), namespace)  # noqa: S102 - the course's own cell
            return namespace
    return namespace


def judge(nb: course.Notebook, mutant: Mutant) -> str | None:
    """The oracle's verdict on a mutant no test failed: a difference it found, or None (equivalent)."""
    namespace = dict(_namespace(nb))
    try:
        exec(compile(mutant.source, f"mutant {mutant.exercise} {mutant.number}", "exec"), namespace)  # noqa: S102
        return oracle.differs_any(mutant.exercise, namespace[mutant.exercise])
    except Exception as error:  # noqa: BLE001
        return f"the oracle could not run it: {type(error).__name__}: {error}"


def evaluate(sample: int | None = None) -> tuple[list[Row], list[tuple[Mutant, str]]]:
    """Grade every mutant; return the table and the survivors, each with the difference found."""
    mutants = all_mutants(sample)
    notebooks = course.notebooks()
    requests = [trial.Try(nb, {e.name: [m.source for m in mutants[e.name]] for e in nb.exercises}, nb.lang)
                for nb in notebooks]
    answers = trial.run(requests)
    rows, survivors = [], []
    for nb, verdicts in zip(notebooks, answers):
        for exercise in nb.exercises:
            row = Row(exercise.name)
            for mutant, verdict in zip(mutants[exercise.name], verdicts.get(exercise.name, [])):
                row.mutants += 1
                if verdict == "visible":
                    row.visible += 1
                elif verdict in ("hidden", "crashed"):
                    row.hidden += 1
                else:
                    difference = judge(nb, mutant)
                    if difference is None:
                        row.equivalent += 1
                    else:
                        row.survived += 1
                        survivors.append((mutant, difference))
            rows.append(row)
    return rows, survivors


def table(rows: list[Row]) -> str:
    head = f"{'exercise':22} {'mutants':>7} {'equiv.':>6} {'visible':>7} {'hidden':>6} {'survived':>8} {'killed':>7}"
    lines = [head, "-" * len(head)]
    total = Row("total")
    for row in rows:
        lines.append(f"{row.exercise:22} {row.mutants:7} {row.equivalent:6} {row.visible:7} {row.hidden:6} "
                     f"{row.survived:8} {row.killed_share:7.0%}")
        for field in ("mutants", "equivalent", "visible", "hidden", "survived"):
            setattr(total, field, getattr(total, field) + getattr(row, field))
    lines.append("-" * len(head))
    lines.append(f"{'total':22} {total.mutants:7} {total.equivalent:6} {total.visible:7} {total.hidden:6} "
                 f"{total.survived:8} {total.killed_share:7.0%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograde.mutants", description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=None, help="mutants per exercise (default: all)")
    parser.add_argument("--exercise", action="append", help="only these exercises (repeatable)")
    args = parser.parse_args(argv)
    rows, survivors = evaluate(args.sample)
    if args.exercise:
        rows = [r for r in rows if r.exercise in args.exercise]
    print(table(rows))
    for mutant, difference in survivors:
        print(f"\nsurvived: {mutant.exercise} #{mutant.number} ({mutant.description}): {difference}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())

"""Read the learner's cells for code that goes after the grader instead of the exercise.

The checks run in the same interpreter as the learner's code, so the learner's code could
defeat them. :func:`scan` looks at the source before anything runs and names what it finds;
:class:`autograde.kernel.Watch` catches the same things at run time, whatever the spelling.
Either way the exercise scores zero and the report flags it.

What counts (in a cell the learner wrote):

- importing the reference solutions (``solutions``) or the grader (``autograde``), also through
  ``__import__`` / ``importlib.import_module`` with a literal name; in 01_network also notebook 1's
  ``Net`` as the later notebooks get it (``given``: ``extra``, see autograde/given.py);
- assigning to, or deleting, an attribute of ``builtins``, ``sys``, the grader's modules, or
  the names the locked cells imported from it (``Checker``), or ``setattr`` on them;
- rebinding a name the locked cells imported from the grader (``class Checker: ...``);
- reaching into ``sys.modules`` or the garbage collector's object lists;
- redirecting the standard streams (``contextlib.redirect_stderr``, ``os.dup2``, closing fd 1/2).

Patching ``torch.allclose`` and friends is left to the run-time watch, which knows exactly which
functions the tests use (a learner may legitimately set ``torch.backends`` flags).
"""

from __future__ import annotations

import ast

GRADER_MODULES = ("solutions", "autograde")
GUARDED_ROOTS = {"builtins", "__builtins__", "sys", "autograde", "hidden", "checks", "messages"}
GC_LOOKUPS = {"get_objects", "get_referrers", "get_referents"}


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def scan(source: str, grader_names: frozenset[str] | set[str] = frozenset(), extra: tuple[str, ...] = ()) -> list[str]:
    """What in ``source`` goes after the grader, one short phrase each (empty if nothing).

    ``extra``: more packages a learner cell must not import here (``given`` in 01_network).
    """

    def _grader_module(name: str) -> bool:
        return name.split(".")[0] in (*GRADER_MODULES, *extra)

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # it will fail when it runs; nothing to flag
    guarded = GUARDED_ROOTS | set(grader_names)
    found: list[str] = []

    def add(text: str) -> None:
        if text not in found:
            found.append(text)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _grader_module(alias.name):
                    add(f"imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if node.module and _grader_module(node.module) and node.level == 0:
                add(f"imports {node.module}")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func) or ""
            first = node.args[0] if node.args else None
            literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
            if name.split(".")[-1] in {"__import__", "import_module"} and literal and _grader_module(literal):
                add(f"imports {literal}")
            elif name in {"setattr", "delattr"} and first is not None and (_dotted(first) or "").split(".")[0] in guarded:
                add(f"changes {_dotted(first)} with {name}()")
            elif name.split(".")[-1] in {"redirect_stderr", "redirect_stdout"}:
                add(f"redirects the standard streams ({name})")
            elif name in {"os.dup2", "dup2"} or (
                    name in {"os.close", "close"} and isinstance(first, ast.Constant) and first.value in (1, 2)):
                add(f"redirects the standard streams ({name})")
            elif name.startswith("gc.") and name.split(".")[-1] in GC_LOOKUPS:
                add(f"searches the interpreter's objects ({name})")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Attribute):
                        dotted = _dotted(leaf)
                        if dotted and dotted.split(".")[0] in guarded:
                            add(f"replaces {dotted}")
                    elif isinstance(leaf, ast.Name) and leaf.id in grader_names and isinstance(leaf.ctx, (ast.Store, ast.Del)):
                        add(f"redefines {leaf.id}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in grader_names:
            add(f"redefines {node.name}")
        if isinstance(node, ast.Attribute) and _dotted(node) == "sys.modules":
            add("reaches into sys.modules")
    return found


def grader_names(locked_sources: list[str]) -> set[str]:
    """Names the locked cells bind by importing from the grader (``from autograde.checks import Checker``)."""
    names = set()
    for source in locked_sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "autograde":
                names.update(alias.asname or alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update((alias.asname or alias.name).split(".")[0] for alias in node.names
                             if alias.name.split(".")[0] == "autograde")
    return names

"""The student environment: the student copy of the notebooks and the runtime they import, and nothing else.

``python -m autograde student-env DIR`` writes

- the student copy of one edition's notebooks into ``DIR`` (solutions and hidden tests removed
  by nbgrader; a notebook already there is kept, so a learner's work is never overwritten);
- the student runtime into ``DIR/.runtime/``: a pip-installable folder holding only the course
  modules those notebooks import, followed through their own imports (``autograde.checks`` and
  what it imports, ``explore``, ``given``), plus the JupyterLab pieces a student uses
  (``autograde.lab_language``, ``autograde.student_lab``). Never ``solutions``, never
  ``autograde.hidden``, never an instructor tool: :func:`runtime_modules` refuses to build a
  runtime that would reach them.

``--graded`` writes the runtime alone and leaves ``given`` out: in a graded class the notebooks
come from nbgrader's exchange, and ``given`` comes with the assignments after 01_network
(``python -m autograde release``), once 01_network is due. ``make lab``, Binder's postBuild and
the ``Dockerfile`` all build with this one command.
"""

from __future__ import annotations

import ast
import json
import shutil
import tomllib
from pathlib import Path

import nbformat

from autograde import course, editions

RUNTIME = ".runtime"  # inside DIR; a dot folder, so JupyterLab's file browser does not show it
PACKAGES = ("autograde", "explore", "given")  # the course packages a student module may come from
FORBIDDEN = ("solutions", "autograde.hidden")  # never in a student environment, whatever imports them
LAB = ("autograde.lab_language", "autograde.student_lab")  # the server extension and the Lab set-up
DIST = "pytorch-nn-course-student"


def module_file(name: str, repo: Path = course.REPO) -> Path | None:
    """The source file of course module ``name`` in ``repo`` (a package's ``__init__.py``), or None."""
    base = repo.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imports_of(source: str, package: str | None = None) -> set[str]:
    """The course modules ``source`` imports, anywhere in it (functions included).

    ``from autograde import hidden`` names the module ``autograde.hidden`` when it is one;
    ``package`` resolves relative imports.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and package:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if module_file(f"{base}.{alias.name}"))
    return {name for name in found if name.split(".")[0] in (*PACKAGES, "solutions")}


def notebook_imports(paths: list[Path]) -> set[str]:
    """The course modules the code cells of these notebooks import."""
    found: set[str] = set()
    for path in paths:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
                found |= imports_of("\n".join(lines))
    return found


def runtime_modules(roots: set[str], repo: Path = course.REPO) -> set[str]:
    """``roots`` and every course module they import, with their parent packages; refuses the forbidden ones."""
    todo, seen = list(roots), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name.startswith(tuple(f"{f}." for f in FORBIDDEN)) or name in FORBIDDEN:
            raise RuntimeError(f"the student environment would hold {name}: a student module imports it "
                               f"({', '.join(sorted(roots))} and what they import)")
        path = module_file(name, repo)
        if path is None:
            raise RuntimeError(f"the student environment needs {name}, which the course does not have")
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        package = name if path.name == "__init__.py" else ".".join(parts[:-1])
        todo.extend(imports_of(path.read_text(encoding="utf-8"), package))
    return seen


def write_runtime(target: Path, modules: set[str], repo: Path = course.REPO) -> list[Path]:
    """Write ``modules`` and a ``pyproject.toml`` that installs them into ``target`` (emptied first)."""
    if target.exists():
        shutil.rmtree(target)
    written = []
    for name in sorted(modules):
        source = module_file(name, repo)
        path = target / source.relative_to(repo)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        written.append(path)
    project = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    packages = sorted({name.rsplit(".", 1)[0] if module_file(name, repo).name != "__init__.py" else name
                       for name in modules})
    toml = target / "pyproject.toml"
    deps = [d for d in project["dependencies"] if d != "nbgrader"]
    toml.write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{DIST}"\nversion = "{project["version"]}"\n'
        'description = "What the course student notebooks import (written by python -m autograde student-env)."\n'
        f'requires-python = "{project["requires-python"]}"\ndependencies = {json.dumps(deps)}\n\n'
        f"[tool.setuptools]\npackages = {json.dumps(packages)}\n",
        encoding="utf-8",
    )
    return [*written, toml]


def build(dest: Path, edition: str = "en", graded: bool = False) -> tuple[list[Path], list[Path]]:
    """Write the student environment into ``dest``; return (notebooks, runtime files)."""
    from autograde.workspace import release, scratch_workspace, student_copy

    source = editions.EDITIONS[edition]
    with scratch_workspace(source) as ws:
        released = release(ws)
        # The fresh release, not the notebooks in dest (a learner's own may import anything); the
        # editions' code cells are identical (tests/test_editions.py), so one edition's imports are all's.
        roots = notebook_imports(released) | set(LAB)
        written, kept = ([], []) if graded else student_copy(Path(dest), source, released)
    notebooks = written + kept
    modules = runtime_modules(roots)
    if graded:
        modules = {m for m in modules if m.split(".")[0] != "given"}
    runtime = write_runtime(Path(dest) / RUNTIME, modules)
    return sorted(notebooks), runtime

"""The package's shape, checked by reading its source with ``ast`` (nothing is imported).

Rules:

- Only ``rnncli/cli/`` talks to the terminal: it alone imports typer or rich, calls ``print`` (without a
  ``file=`` of its own) or ``warnings.warn``, or touches ``sys.stdout`` / ``sys.stderr``. The library
  returns values and raises; the command line writes them.
- ``rnncli/cli/`` is the top: nothing else imports it (but ``rnncli/__main__.py``, which starts it).
- ``rnncli/core/`` imports no task.
- A task package ``rnncli/tasks/<name>/`` depends on no other task and not on ``rnncli.cli``, directly or
  through the modules it imports: so not on the registry (``rnncli/tasks/__init__.py``), which imports
  every task. ``rnncli.core``, and top-level modules of ``rnncli/tasks/`` that lead to no task, are fine.
- No import cycles between rnncli modules.
- No function longer than ``MAX_FUNCTION_LINES`` lines.

How imports are counted. Every ``import`` statement counts, wherever it stands: at module level, inside
``if TYPE_CHECKING:`` (an annotation that needs a module depends on it), or inside a function (a lazy
import). For the layering rules a lazy import is as much a dependency as any other: it runs the moment
the function does. For cycles lazy imports count too: a lazy import makes a cycle legal for Python's
import order but leaves two modules that cannot be understood, tested or moved apart, which is what the
rule is about; a real need to defer an import (torch, matplotlib) never needs a cycle. An import names
one module: ``from a.b import c`` depends on ``a.b.c`` when that is a module, else on ``a.b``. The parent
packages that Python runs on the way are not counted as edges: a package's ``__init__.py`` runs before
any of its modules whatever they import, so counting it would make every package a cycle with its
children; what an ``__init__.py`` itself imports is checked as any module's is.

How a function's length is counted: the lines of its body, from the first statement after the docstring
to the last line of the function, leaving out blank lines and lines that hold only a comment. The
signature does not count (a Typer command declares its options there, one per line), nor does the
docstring. Nested functions count towards the function that holds them (the reader scrolls through
them) and are checked on their own as well.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections import deque
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rnncli"
MAX_FUNCTION_LINES = 40
TERMINAL_LIBRARIES = ("typer", "rich")


@dataclass(frozen=True)
class Import:
    source: str  # importing module, e.g. rnncli.core.training
    target: str  # imported module, e.g. rnncli.core.errors or torch
    path: str  # file relative to the repository root
    line: int
    lazy: bool  # inside a function


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _sources() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute name of ``from ...x import y``'s module part."""
    if not node.level:
        return node.module or ""
    is_package = _sources()[module].name == "__init__.py"
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = _resolve(module, node)
    known = _sources()
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]


def _walk_with_scope(node: ast.AST, lazy: bool = False):
    """Every node below ``node``, with whether it stands inside a function."""
    for child in ast.iter_child_nodes(node):
        yield child, lazy
        inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from _walk_with_scope(child, inner)


@cache
def _imports() -> list[Import]:
    found = []
    for module, path in _sources().items():
        for node, lazy in _walk_with_scope(_tree(path)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found += [
                    Import(module, target, _relative(path), node.lineno, lazy)
                    for target in dict.fromkeys(_targets(module, node))
                ]  # once per statement
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _task_of(module: str) -> str | None:
    """``language_model`` for ``rnncli.tasks.language_model.x``; None outside a task package."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[:2] == ["rnncli", "tasks"] and (PACKAGE / "tasks" / parts[2]).is_dir():
        return parts[2]
    return None


def _report(broken: list[str], rule: str) -> str:
    return f"{len(broken)} break(s) of the rule '{rule}':\n" + "\n".join(broken)


def _where(imp: Import) -> str:
    return f"{imp.path}:{imp.line}: imports {imp.target}" + (" (inside a function)" if imp.lazy else "")


# --- the terminal ------------------------------------------------------------------------------------


def _terminal_writes(path: Path) -> list[tuple[int, str]]:
    """(line, what) for each print, sys.stdout, sys.stderr or warnings.warn in a file."""
    found = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            target = next((kw.value for kw in node.keywords if kw.arg == "file"), None)
            if target is None:  # print(..., file=sys.stderr) is caught below, by its sys.stderr
                found.append((node.lineno, "print() to stdout"))
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
            and node.attr in ("stdout", "stderr", "__stdout__", "__stderr__")
        ):
            found.append((node.lineno, f"sys.{node.attr}"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "warn"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "warnings"
        ):
            found.append((node.lineno, "warnings.warn() (Python prints it on stderr, past --quiet)"))
        elif isinstance(node, ast.ImportFrom) and node.module == "sys":
            found += [
                (node.lineno, f"from sys import {alias.name}")
                for alias in node.names
                if alias.name in ("stdout", "stderr", "__stdout__", "__stderr__")
            ]
    return found


def test_only_the_command_line_writes_to_the_terminal():
    broken = [
        f"{_relative(path)}:{line}: {what}"
        for module, path in _sources().items()
        if not _within(module, "rnncli.cli")
        for line, what in _terminal_writes(path)
    ]
    assert not broken, _report(broken, "only rnncli/cli writes to stdout or stderr")


def test_only_the_command_line_imports_typer_or_rich():
    broken = [
        _where(imp)
        for imp in _imports()
        if not _within(imp.source, "rnncli.cli") and any(_within(imp.target, library) for library in TERMINAL_LIBRARIES)
    ]
    assert not broken, _report(broken, "only rnncli/cli imports typer or rich")


# --- layers ------------------------------------------------------------------------------------------


def test_nothing_imports_the_command_line_but_the_entry_point():
    broken = [
        _where(imp)
        for imp in _imports()
        if _within(imp.target, "rnncli.cli")
        and not _within(imp.source, "rnncli.cli")
        and imp.source != "rnncli.__main__"
    ]
    assert not broken, _report(broken, "nothing outside rnncli/cli imports rnncli.cli")


def test_core_imports_no_task():
    broken = [
        _where(imp) for imp in _imports() if _within(imp.source, "rnncli.core") and _within(imp.target, "rnncli.tasks")
    ]
    assert not broken, _report(broken, "rnncli/core imports no task")


def _module_graph() -> dict[str, set[str]]:
    """Which rnncli modules each rnncli module imports."""
    known = _sources()
    edges: dict[str, set[str]] = {}
    for imp in _imports():
        if imp.target in known and imp.target != imp.source:
            edges.setdefault(imp.source, set()).add(imp.target)
    return edges


def _chain(edges: dict[str, set[str]], start: str, wanted) -> list[str] | None:
    """The shortest chain of imports from ``start`` to a module ``wanted`` accepts (``start`` included)."""
    came_from: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        if wanted(module):
            chain = [module]
            while came_from[chain[-1]] is not None:
                chain.append(came_from[chain[-1]])
            return chain[::-1]
        for nxt in sorted(edges.get(module, ())):
            if nxt not in came_from:
                came_from[nxt] = module
                queue.append(nxt)
    return None


def test_a_task_depends_on_no_other_task_nor_on_the_command_line():
    edges, broken = _module_graph(), []
    for imp in _imports():
        task = _task_of(imp.source)
        if task is None or imp.target not in _sources() or _within(imp.target, f"rnncli.tasks.{task}"):
            continue

        def foreign(module: str, task: str = task) -> bool:
            return _task_of(module) not in (None, task) or _within(module, "rnncli.cli")

        chain = _chain(edges, imp.target, foreign)
        if chain is not None:
            broken.append(_where(imp) + ("" if len(chain) == 1 else ", which leads to " + " -> ".join(chain[1:])))
    assert not broken, _report(
        broken, "a task package depends on no other task and not on rnncli.cli, directly or through what it imports"
    )


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (or a module importing itself), by Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in edges.get(node, ()):
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycles():
    edges = _module_graph()
    broken = []
    for group in _cycles(edges):
        # one loop through the group, shortest first, each step shown with the line that makes it
        members, first = set(group), group[0]
        inner = {module: edges.get(module, set()) & members for module in group}
        loops = [_chain(inner, nxt, first.__eq__) for nxt in inner[first]]
        loop = [first, *min((found for found in loops if found), key=len)]
        links = [
            next(_where(imp) for imp in _imports() if (imp.source, imp.target) == step)
            for step in zip(loop, loop[1:], strict=False)
        ]
        broken.append(f"cycle through {len(group)} modules ({', '.join(group)}):\n  " + "\n  ".join(links))
    assert not broken, _report(broken, "no import cycles between rnncli modules")


# --- function length ---------------------------------------------------------------------------------


def _code_lines(path: Path) -> set[int]:
    """Line numbers that hold code: not blank, not only a comment."""
    text = path.read_text(encoding="utf-8")
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            continue
        lines.update(range(token.start[0], token.end[0] + 1))
    return lines


def _body_start(func: ast.FunctionDef | ast.AsyncFunctionDef) -> int | None:
    body = func.body
    if ast.get_docstring(func, clean=False) is not None:
        body = body[1:]
    return body[0].lineno if body else None


def function_lengths() -> list[tuple[str, int, str, int]]:
    """(file, line, function, length) for every function of the package."""
    found = []
    for path in _sources().values():
        code = _code_lines(path)
        for node in ast.walk(_tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = _body_start(node)
                length = 0 if start is None else len([n for n in range(start, node.end_lineno + 1) if n in code])
                found.append((_relative(path), node.lineno, node.name, length))
    return sorted(found)


def test_no_function_is_longer_than_forty_lines():
    broken = [
        f"{path}:{line}: {name}() has {length} lines"
        for path, line, name, length in function_lengths()
        if length > MAX_FUNCTION_LINES
    ]
    assert not broken, _report(
        broken,
        f"no function longer than {MAX_FUNCTION_LINES} lines (body, without docstring, blank or comment-only lines)",
    )


def test_a_task_names_entry_points_in_its_own_package():
    """``entry("module", "function")`` in a task's TASK is an import by name: it must stay inside the task."""
    broken = []
    for init in sorted((PACKAGE / "tasks").glob("*/__init__.py")):
        own = f"rnncli.tasks.{init.parent.name}"
        for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "entry":
                module, function = (arg.value for arg in node.args)
                path = ROOT / (module.replace(".", "/") + ".py")
                if not module.startswith(own + ".") or not path.is_file():
                    broken.append(f"{_relative(init)}:{node.lineno}: entry({module!r}) is not a module of {own}")
                elif f"def {function}(" not in path.read_text(encoding="utf-8"):
                    broken.append(f"{_relative(init)}:{node.lineno}: {module} has no function {function}")
    assert not broken, _report(broken, "a task's entry points are its own modules' functions")


MAX_COMMAND_LINES = 15


def test_every_command_is_a_request_and_one_library_call():
    """A command (a function of rnncli/cli wrapped in ``user_errors``) is options in, one call, the result out."""
    commands = set()
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Name) and d.id == "user_errors" for d in node.decorator_list
            ):
                commands.add((_relative(path), node.name))
    assert len(commands) >= 5, f"found only {sorted(commands)}: are commands still wrapped in user_errors?"
    broken = [
        f"{path}:{line}: {name}() has {length} lines"
        for path, line, name, length in function_lengths()
        if (path, name) in commands and length > MAX_COMMAND_LINES
    ]
    assert not broken, _report(broken, f"no command body longer than {MAX_COMMAND_LINES} lines")


if __name__ == "__main__":  # the list of long functions, longest first
    for path, line, name, length in sorted(function_lengths(), key=lambda row: -row[3]):
        if length > MAX_FUNCTION_LINES:
            print(f"{length:4d}  {path}:{line}  {name}")

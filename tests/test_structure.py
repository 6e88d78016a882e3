"""The package's shape: no import circles, small modules, short functions.

The rules of the package's layout, read off the source with `ast`, so a change that
breaks one fails here with the modules or functions named:
- no import circle among brace's modules, counting every import: at module level,
  under `if TYPE_CHECKING:` and inside functions (a circle hidden in a function is
  still a circle in the design);
- no module over 400 lines, and the controller module under 300;
- no function over 60 lines. A Typer command's signature is its option table, so for a
  function decorated with `@*.command` or `@*.callback`, or registered by calling one
  (`app.command("push")(push.push_command)`), the count starts at the body's first
  statement.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Set
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "brace"

MODULE_LINES = 400
FUNCTION_LINES = 60
CONTROLLER = "brace.server.control.controller"
CONTROLLER_LINES = 300


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))


def _resolve(name: str) -> str | None:
    """The most specific brace module that `import name` runs, or None if not brace's."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _base(module: str, node: ast.ImportFrom) -> str:
    """The absolute name a `from ... import` statement in `module` imports from."""
    if not node.level:
        return node.module or ""
    package = module.split(".")
    if MODULES[module].name != "__init__.py":
        package.pop()
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])])


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The brace modules one import statement in `module` runs."""
    if isinstance(node, ast.Import):
        return {t for alias in node.names if (t := _resolve(alias.name))}
    base = _base(module, node)
    return {t for alias in node.names if (t := _resolve(f"{base}.{alias.name}") or _resolve(base))}


def imports_in(module: str, tree: ast.Module) -> set[str]:
    """The brace modules `tree` (the source of `module`) imports anywhere, not itself."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found |= _targets(module, node)
    found.discard(module)
    return found


def imports(module: str) -> set[str]:
    return imports_in(module, _tree(module))


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _cycle(graph: dict[str, set[str]], members: list[str]) -> list[str]:
    """One closed path through a component's first module, for the failure message."""
    inside = set(members)
    start = members[0]
    paths: dict[str, list[str]] = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in sorted(graph[node] & inside):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    return members


def cycles() -> list[str]:
    """Each set of modules that import each other: one circle through them, then every
    import among them (what has to change to break it)."""
    graph = {module: imports(module) for module in MODULES}
    found = []
    for members in _components(graph):
        inside = [f"{a} -> {b}" for a in members for b in sorted(graph[a] & set(members))]
        found.append(
            " -> ".join(_cycle(graph, members)) + "\n    imports among them: " + ", ".join(inside)
        )
    return found


@dataclass(frozen=True)
class Function:
    module: str
    name: str
    line: int
    lines: int


def _is_command_maker(node: ast.expr) -> bool:
    """`app.command(...)`, `app.command`, `app.callback(...)`: what turns a function into
    a Typer command, as a decorator or called on it."""
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Attribute) and target.attr in ("command", "callback")


def _aliases(module: str, tree: ast.Module) -> dict[str, str]:
    """Local name -> brace module, for `from brace.cli import push as push_cli`."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = _base(module, node)
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    found[alias.asname or alias.name] = f"{base}.{alias.name}"
    return found


def registered_commands(module: str, tree: ast.Module) -> set[tuple[str, str]]:
    """(module, function) of each Typer command `tree` registers by a call rather than a
    decorator: `app.command("push")(push_cli.push_command)`."""
    aliases = _aliases(module, tree)
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _is_command_maker(node.func) and node.args):
            continue
        given = node.args[0]
        if isinstance(given, ast.Name):
            found.add((module, given.id))
        elif (
            isinstance(given, ast.Attribute)
            and isinstance(given.value, ast.Name)
            and given.value.id in aliases
        ):
            found.add((aliases[given.value.id], given.attr))
    return found


COMMANDS = {command for module in MODULES for command in registered_commands(module, _tree(module))}


def length(
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    module: str = "",
    commands: Set[tuple[str, str]] = frozenset(),
) -> int:
    """A function's lines from `def` (a Typer command's: from its body) to its end."""
    command = (
        any(_is_command_maker(d) for d in node.decorator_list) or (module, node.name) in commands
    )
    first = node.body[0].lineno if command else node.lineno
    return (node.end_lineno or node.lineno) - first + 1


def functions(module: str) -> Iterator[Function]:
    """Every function and method in `module` with its length as the rules count it."""
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield Function(module, node.name, node.lineno, length(node, module, COMMANDS))


def _lines(module: str) -> int:
    return len(MODULES[module].read_text().splitlines())


def test_the_rules_see_the_whole_package() -> None:
    assert "brace.server.control.controller" in MODULES
    assert "brace.store" in MODULES
    assert "brace.store" in imports("brace.cli.common")


def test_no_import_circles() -> None:
    found = cycles()
    assert not found, "import circles:\n" + "\n".join(found)


def test_no_module_over_the_limit() -> None:
    over = [f"{name}: {_lines(name)} lines" for name in MODULES if _lines(name) > MODULE_LINES]
    assert not over, f"modules over {MODULE_LINES} lines:\n" + "\n".join(over)


def test_the_controller_is_the_loop_only() -> None:
    assert _lines(CONTROLLER) < CONTROLLER_LINES


def test_no_function_over_the_limit() -> None:
    over = [
        f"{f.module}:{f.line} {f.name}: {f.lines} lines"
        for module in MODULES
        for f in functions(module)
        if f.lines > FUNCTION_LINES
    ]
    assert not over, f"functions over {FUNCTION_LINES} lines:\n" + "\n".join(over)


# The rules' own reading of source, on small examples.


def _graph_of(edges: dict[str, set[str]]) -> list[list[str]]:
    return _components({node: set(targets) for node, targets in edges.items()})


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        pytest.param({"a": {"b"}, "b": set()}, [], id="a-line"),
        pytest.param({"a": {"b"}, "b": {"a"}}, [["a", "b"]], id="two"),
        pytest.param(
            {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}},
            [["a", "b", "c"]],
            id="three-and-a-bystander",
        ),
        pytest.param(
            {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}},
            [["a", "b"], ["c", "d"]],
            id="two-separate",
        ),
    ],
)
def test_components(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert _graph_of(edges) == expected


def test_a_circle_is_reported_as_a_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert _cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]


def test_imports_inside_functions_and_type_checking_count() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from brace.store import Store\n"
        "def f() -> None:\n"
        "    from . import errors\n"
        "    from .server.control import controller\n"
        "    import brace.logs\n"
        "    import json\n"
    )
    found = imports_in("brace.polling", ast.parse(source))
    assert found == {
        "brace.store",
        "brace.errors",
        "brace.server.control.controller",
        "brace.logs",
    }


def test_a_typer_command_is_counted_from_its_body() -> None:
    source = (
        "@app.command()\n"
        "def push(\n"
        "    a: int = 1,\n"
        "    b: int = 2,\n"
        ") -> None:\n"
        "    x = 1\n"
        "    return None\n"
        "def plain(\n"
        "    a: int,\n"
        ") -> None:\n"
        "    return None\n"
    )
    lengths = {
        node.name: length(node)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef)
    }
    assert lengths == {"push": 2, "plain": 4}


def test_a_command_registered_by_a_call_is_counted_from_its_body() -> None:
    app = ast.parse(
        "from brace.cli import push as push_cli\n"
        "from brace.cli import server\n"
        'app.command("push")(push_cli.push_command)\n'
        "app.callback()(main)\n"
        "server.other(push_cli.helper)\n"
    )
    commands = registered_commands("brace.cli.app", app)
    assert commands == {("brace.cli.push", "push_command"), ("brace.cli.app", "main")}
    source = ast.parse("def push_command(\n    a: int = 1,\n) -> None:\n    return None\n")
    node = source.body[0]
    assert isinstance(node, ast.FunctionDef)
    assert length(node, "brace.cli.push", commands) == 1
    assert length(node, "brace.cli.server", commands) == 4


def test_the_top_level_commands_are_known() -> None:
    assert ("brace.cli.push", "push_command") in COMMANDS
    assert ("brace.cli.serve", "server_command") in COMMANDS

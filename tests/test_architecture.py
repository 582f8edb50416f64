"""The house's rules, read from the source (docs/architecture.md): imports point down the layers,
no import cycle (imports inside functions included), nothing under db/ knows Streamlit, and no
module grows past ~500 lines without saying why at its top."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("db", "dashboard", "pages", "migrations")

# Lower layers first. A module may import from a lower layer, or from its own layer's package when
# that makes no cycle; files and ops sit side by side and do not import each other.
LAYERS = (
    ("db.core",),
    ("db.domain", "migrations"),
    ("db.files", "db.ops"),
    ("db.tools",),
    ("dashboard",),
    ("pages",),
)
LONG_MODULE = 500


def modules(root: Path) -> dict[str, Path]:
    """Every module of the project under `root`, by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: Iterable[str]) -> set[str]:
    """The project modules `path` imports anywhere in it (inside functions too)."""
    known = set(known)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from db.ops import stats` imports the module db.ops.stats; `from db.core.engine
            # import transaction` the module db.core.engine.
            names = [
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def graph(root: Path) -> dict[str, set[str]]:
    mods = modules(root)
    edges = {name: imports(path, mods) - {name} for name, path in mods.items()}
    # A package's __init__ is imported on the way to its modules; it carries no edges of its own here.
    return {name: {dep for dep in deps if not _is_parent(dep, name)} for name, deps in edges.items()}


def _is_parent(package: str, module: str) -> bool:
    return module.startswith(package + ".")


def layer_of(module: str) -> tuple[int, str] | None:
    for rank, group in enumerate(LAYERS):
        for prefix in group:
            if module == prefix or module.startswith(prefix + "."):
                return rank, prefix
    return None


def wrong_way(edges: dict[str, set[str]]) -> list[str]:
    """Imports that point up the layers, or across between files and ops."""
    found = []
    for module, deps in sorted(edges.items()):
        mine = layer_of(module)
        for dep in sorted(deps):
            theirs = layer_of(dep)
            if mine is None or theirs is None:
                continue
            if theirs[0] > mine[0] or (theirs[0] == mine[0] and theirs[1] != mine[1]):
                found.append(f"{module} imports {dep}")
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in edges.get(node, ()):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_imports_point_down_the_layers():
    assert wrong_way(graph(ROOT)) == []


def test_no_import_cycle_even_through_imports_inside_functions():
    assert cycles(graph(ROOT)) == []


def test_nothing_under_db_imports_streamlit():
    offenders = []
    for path in sorted((ROOT / "db").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name == "streamlit" or name.startswith("streamlit.") for name in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_long_modules_say_why_at_their_top():
    unexplained = []
    for package in ("db", "dashboard", "pages"):
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = path.read_text().splitlines()
            if len(lines) > LONG_MODULE and "Longer than" not in "\n".join(lines[:15]):
                unexplained.append(f"{path.relative_to(ROOT)} ({len(lines)} lines)")
    assert unexplained == []


# The checks themselves, on small made-up trees: each finds what it is for.


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, body in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
    return tmp_path


def test_the_check_finds_a_cycle_hidden_in_a_function(tmp_path):
    # The shape found in issue 16: the benchmark imported the dashboard's render helper, which
    # imported the benchmark back from inside a function.
    root = _tree(
        tmp_path,
        {
            "db/__init__.py": "",
            "db/bench.py": "from dashboard import render_bench\n",
            "dashboard/__init__.py": "",
            "dashboard/render_bench.py": "def start():\n    from db.bench import free_port\n",
        },
    )
    edges = graph(root)
    assert cycles(edges) == [["dashboard.render_bench", "db.bench"]]


def test_the_check_finds_an_import_up_the_layers(tmp_path):
    root = _tree(
        tmp_path,
        {
            "db/__init__.py": "",
            "db/domain/__init__.py": "",
            "db/domain/projects.py": "def f():\n    from db.files import storage\n",
            "db/files/__init__.py": "",
            "db/files/storage.py": "",
            "db/ops/__init__.py": "",
            "db/ops/health.py": "from db.files.storage import x\n",
        },
    )
    assert wrong_way(graph(root)) == [
        "db.domain.projects imports db.files.storage",
        "db.ops.health imports db.files.storage",
    ]


@pytest.mark.parametrize("module", ["db.core.engine", "db.domain.access", "db.ops.stats", "pages.review"])
def test_every_layer_has_a_home(module):
    assert layer_of(module) is not None


# Screens write through one helper, dashboard.ui.run_write, which also clears cached reads and sends
# the session's next reads to the primary (a replica may not have the write yet). Nothing else in
# pages/ or dashboard/ opens a transaction, save where there is no signed-in screen to write from.
OPENS_A_TRANSACTION = {"transaction", "system_transaction"}
OLD_WRITE_HELPERS = {"write", "act", "unit"}  # dashboard.ui's helpers before run_write
MAY_OPEN_A_TRANSACTION = {
    ("dashboard/ui.py", "run_write"): "the one write helper",
    ("dashboard/ui.py", "resolve_visitor"): "the session gate, before anyone is signed in",
    ("dashboard/background.py", "refresh_totals_forever"): "a background thread, no browser session",
    ("dashboard/background.py", "index_text_forever"): "a background thread, no browser session",
    ("dashboard/auth_routes.py", "sign_in"): "an HTTP route, outside any Streamlit session",
    ("dashboard/auth_routes.py", "revoke_token"): "an HTTP route, outside any Streamlit session",
    ("dashboard/file_routes.py", "_locate"): "an HTTP route, outside any Streamlit session",
    ("dashboard/file_routes.py", "locate"): "an HTTP route, outside any Streamlit session",
    ("dashboard/api/security.py", "_resolve"): "the API's token check, before anyone is named",
    ("dashboard/api/security.py", "writing"): "the API's unit of work, as the token's user",
}


def writes_around_the_helper(root: Path) -> list[str]:
    """Each place in pages/*.py and dashboard/*.py that opens a transaction itself (or names the old
    write helpers) outside the functions MAY_OPEN_A_TRANSACTION allows: `file:line name`."""
    found = []
    for path in sorted([*(root / "pages").glob("*.py"), *(root / "dashboard").rglob("*.py")]):
        name = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(), name)
        banned, ui_modules = set(OPENS_A_TRANSACTION), {"dashboard.ui"}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name in OPENS_A_TRANSACTION or (
                        node.module == "dashboard.ui" and alias.name in OLD_WRITE_HELPERS
                    ):
                        banned.add(alias.asname or alias.name)
                    if node.module == "dashboard" and alias.name == "ui":
                        ui_modules.add(alias.asname or "ui")
            elif isinstance(node, ast.Import):
                ui_modules.update(a.asname for a in node.names if a.name == "dashboard.ui" and a.asname)
        for node, functions in _with_functions(tree, ()):
            used = None
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in banned:
                used = node.id
            elif isinstance(node, ast.Attribute) and (
                node.attr in OPENS_A_TRANSACTION
                or (node.attr in OLD_WRITE_HELPERS and ast.unparse(node.value) in ui_modules)
            ):
                used = ast.unparse(node)
            if used and not any((name, f) in MAY_OPEN_A_TRANSACTION for f in functions):
                found.append(f"{name}:{node.lineno} {used}")
    return found


def _with_functions(node: ast.AST, functions: tuple[str, ...]) -> Iterable[tuple[ast.AST, tuple[str, ...]]]:
    """Every node under `node`, with the names of the functions it is in (outermost first)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        functions = (*functions, node.name)
    yield node, functions
    for child in ast.iter_child_nodes(node):
        yield from _with_functions(child, functions)


def test_screens_write_only_through_the_one_helper():
    assert writes_around_the_helper(ROOT) == []


def test_the_check_finds_writes_around_the_helper(tmp_path):
    # The shapes found in issue 16: the review screen's bulk decisions and the upload handed ingest
    # a unit of work of their own, and a notice opened a transaction itself.
    root = _tree(
        tmp_path,
        {
            "pages/review.py": (
                "import streamlit as st\n"
                "from dashboard import ui\n"
                "from dashboard.ui import unit, write as save\n"
                "ingest.approve_files(unit(), ingest_ids=ids)\n"
                "save(lambda conn: None, 'Saved.')\n"
                "ui.act(lambda u: None, 'Done.')\n"
                "st.write('text is fine'); left.write('so is this')\n"
            ),
            "pages/upload.py": (
                "from db.core import engine\n"
                "from db.core.engine import transaction as tx\n"
                "with tx(actor_id=1) as conn: pass\n"
                "with engine.system_transaction() as conn: pass\n"
            ),
            "dashboard/ui.py": (
                "from functools import partial\n"
                "from db.core.engine import transaction\n"
                "def run_write(action):\n    with transaction(actor_id=1) as conn:\n        action(conn)\n"
                "def admin_view_notice():\n    make = partial(transaction, actor_id=1)\n"
            ),
        },
    )
    assert writes_around_the_helper(root) == [
        "dashboard/ui.py:7 transaction",
        "pages/review.py:4 unit",
        "pages/review.py:5 save",
        "pages/review.py:6 ui.act",
        "pages/upload.py:3 tx",
        "pages/upload.py:4 engine.system_transaction",
    ]

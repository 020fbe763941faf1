"""The packages split out of the core (loaders, metrics, limits, io, registry) and ``engine.estimate`` keep their shape:
no import cycle (imports inside functions count), no private name imported across modules, no
module over 600 lines and no function over 100; all of uqcore/ and the dashboard (app.py, ui/, pages/)
keep tighter limits (modules <= 500 lines, functions <= 80) so each can be read whole. Every module
of uqcore/ sits in one of the layers below and imports only from its own layer or lower ones; at
most 14 files directly in uqcore/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OWNED = sorted([*(ROOT / "uqcore" / "models" / "loaders").glob("*.py"), *(ROOT / "uqcore" / "metrics").glob("*.py"),
                ROOT / "uqcore" / "limits.py", ROOT / "uqcore" / "io.py", ROOT / "uqcore" / "models" / "registry.py",
                ROOT / "uqcore" / "engine" / "estimate.py"])


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every ``import`` / ``from ... import`` anywhere in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
    return found


def _uqcore_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in (ROOT / "uqcore").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for module, names in _imports(path):
            for target in [module, *(f"{module}.{n}" for n in names)]:
                if target in modules and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def test_no_import_cycle_through_the_owned_modules():
    graph = _uqcore_graph()
    owned = {_module_name(p) for p in OWNED}

    def reaches(start: str, goal: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == goal:
                    return path + [nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None

    for name in owned:
        for nxt in graph[name]:
            back = reaches(nxt, name)
            # a package importing its own submodules (and those importing siblings) is not a cycle
            if back and not all(m == name or m.startswith(name + ".") for m in back):
                pytest.fail(f"import cycle: {name} -> {' -> '.join(back)}")


@pytest.mark.parametrize("path", OWNED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_imports_and_small_units(path):
    for module, names in _imports(path):
        if module.startswith("uqcore"):
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{path.name} imports private {private} from {module}"
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 600, f"{path.name} has {len(text.splitlines())} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= 100, f"{path.name}:{node.name} is {length} lines"


# Size limits for the whole core, so each module and function can be read whole: no module under
# uqcore/ over MAX_MODULE_LINES lines, no function (methods and nested functions included) over MAX_FUNCTION_LINES.
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
# Functions allowed over the limit, as "path:function". An entry that is no longer over the limit
# fails the test, so the list never allows more than it must.
OVERSIZE_ALLOWED: set[str] = set()


def _oversize_units() -> tuple[list[str], set[str]]:
    """(modules over the line limit as "path (N lines)", functions over it as "path:name")."""
    modules, functions = [], set()
    dashboard = [ROOT / "app.py", *(ROOT / "ui").glob("*.py"), *(ROOT / "pages").glob("*.py")]
    for path in sorted([*(ROOT / "uqcore").rglob("*.py"), *dashboard]):
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            modules.append(f"{rel} ({len(text.splitlines())} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    functions.add(f"{rel}:{node.name}")
    return modules, functions


def test_no_module_or_function_over_the_size_limits():
    modules, functions = _oversize_units()
    assert not modules, f"modules over {MAX_MODULE_LINES} lines: {modules}"
    assert functions <= OVERSIZE_ALLOWED, (
        f"functions over {MAX_FUNCTION_LINES} lines: {sorted(functions - OVERSIZE_ALLOWED)}")
    stale = sorted(OVERSIZE_ALLOWED - functions)
    assert not stale, f"no longer over {MAX_FUNCTION_LINES} lines, remove from OVERSIZE_ALLOWED: {stale}"


def test_estimate_stays_readable():
    """``engine.estimate.estimate`` is the call's outline (at most 80 lines); the work is in helpers."""
    tree = ast.parse((ROOT / "uqcore" / "engine" / "estimate.py").read_text(encoding="utf-8"))
    (node,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "estimate"]
    assert node.end_lineno - node.lineno + 1 <= 80


# The layers of uqcore/, bottom-up (docs/ARCHITECTURE.md): each imports only downwards, so a layer can be
# understood alone. A module belongs to the first entry whose name is the module or a package above
# it; it may import from its own layer and below.
LAYERS: list[list[str]] = [
    ["uqcore", "uqcore.errors", "uqcore.lazy", "uqcore.limits", "uqcore.io", "uqcore.progress", "uqcore.hardware",
     "uqcore.metrics", "uqcore.scoring",
     "uqcore.plots", "uqcore.scenes"],
    ["uqcore.engine"],
    ["uqcore.models"],
    ["uqcore.distributed"],
    ["uqcore.calibration"],
    ["uqcore.datasets"],
    ["uqcore.training"],
    ["uqcore.student"],
    ["uqcore.paper"],
    ["uqcore.commands"],
    ["uqcore.cli", "uqcore.__main__"],
]
# Imports that still run up a layer, as "importer -> imported". An entry that no longer exists fails
# the test, so the list only shrinks. Empty now: the student's head is the engine's
# (engine.student_head) and its files the models layer's (models.student_files); uqcore.student
# keeps only distillation, which nothing below it imports.
UPWARD_ALLOWED: set[str] = set()
MAX_TOP_LEVEL_FILES = 14


def _layer(module: str) -> int:
    best = None
    for i, names in enumerate(LAYERS):
        for name in names:
            below = module.startswith(name + ".") and name != "uqcore"  # the top package: its __init__ only
            if (module == name or below) and (best is None or len(name) > len(best[1])):
                best = (i, name)
    assert best is not None, f"{module} is in no layer of LAYERS"
    return best[0]


def test_every_module_imports_only_its_layer_or_lower():
    upward = set()
    for name, targets in _uqcore_graph().items():
        for target in targets:
            if _layer(target) > _layer(name):
                upward.add(f"{name} -> {target}")
    assert upward <= UPWARD_ALLOWED, f"imports that run up a layer: {sorted(upward - UPWARD_ALLOWED)}"
    stale = sorted(UPWARD_ALLOWED - upward)
    assert not stale, f"no longer imported, remove from UPWARD_ALLOWED: {stale}"


def test_top_level_stays_small():
    files = sorted(p.name for p in (ROOT / "uqcore").glob("*.py"))
    assert len(files) <= MAX_TOP_LEVEL_FILES, f"{len(files)} files directly in uqcore/: {files}"


def test_architecture_names_every_module():
    """docs/ARCHITECTURE.md names every module of uqcore/: by its path, or by its name in its package's row."""
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if line.startswith("|")]
    missing = []
    for path in sorted((ROOT / "uqcore").rglob("*.py")):
        rel = path.relative_to(ROOT / "uqcore").as_posix()
        if path.name == "__init__.py" or f"`{rel}`" in doc:
            continue
        package = rel.rsplit("/", 1)[0] + "/" if "/" in rel else None
        named = [f"`{path.stem}`", f"`{path.stem}.", f"`{path.stem} ", rel]
        if not (package and any(f"`{package}" in row and any(n in row for n in named) for row in rows)):
            missing.append(rel)
    assert not missing, f"modules docs/ARCHITECTURE.md does not name: {missing}"


def test_dataclasses_are_built_with_keywords():
    """A dataclass of uqcore/ or the dashboard is never built from more than two positional arguments
    (a reordered field would silently swap values)."""
    files = [*(ROOT / "uqcore").rglob("*.py"), ROOT / "app.py", *(ROOT / "ui").glob("*.py"), *(ROOT / "pages").glob("*.py")]
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in files}
    dataclasses = {node.name for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                   and any("dataclass" in ast.unparse(d) for d in node.decorator_list)}
    positional = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and len(node.args) > 2:
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name in dataclasses:
                    positional.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert not positional, f"dataclasses built from positional arguments: {positional}"


def test_test_modules_do_not_import_each_other():
    """Shared test code lives in support modules (tests/support.py, tests/tiny_models.py,
    tests/app/browser/browser_support.py, ...) and fixtures in conftest.py; no test module imports another
    test module or a conftest (imports inside functions included)."""
    offending = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for module, names in _imports(path):
            targets = [module, *(f"{module}.{n}" for n in names)]
            if any(t.startswith("tests.") and t.rsplit(".", 1)[-1].startswith(("test_", "conftest")) for t in targets):
                offending.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not offending, offending


def test_tests_mirror_the_package():
    """Every uqcore subpackage's tests are in the tests/ folder of the same name, and
    tests/ has no folder that is not a subpackage (the dashboard's tests are tests/app, the training
    scripts' tests/training); top-level test modules are the top-level modules' and the checkout's."""
    packages = {p.name for p in (ROOT / "uqcore").iterdir() if (p / "__init__.py").exists()}
    folders = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders - {"app"} <= packages, f"test folders with no uqcore package: {sorted(folders - packages - {'app'})}"
    tested = packages & folders
    assert len(tested) >= 12, f"only {sorted(tested)} have a mirrored test folder"
    for folder in tested:
        for path in (ROOT / "tests" / folder).glob("test_*.py"):
            imported = {t for m, names in _imports(path) for t in [m, *(f"{m}.{n}" for n in names)]
                        if t.startswith("uqcore.")}
            own = ("uqcore.cli", "uqcore.commands") if folder == "commands" else (f"uqcore.{folder}",)
            assert not imported or any(m.startswith(own) for m in imported) or folder == "training", (
                f"{path.relative_to(ROOT)} imports none of uqcore.{folder}: {sorted(imported)}")

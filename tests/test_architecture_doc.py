"""docs/ARCHITECTURE.md is exact: every file it cites exists, and every Python name it cites resolves.

What counts as cited (text between backticks):
* a path (it has a ``/``, or is a bare file name such as ``cli.py`` or ``paper_values.csv``): relative to the checkout (``uqcore/...``,
  ``tests/...``, ``docs/...``, ``ui/...``) or to ``uqcore/`` (``models/registry.py``,
  ``datasets/__init__``); a bare file name must be a file somewhere in the checkout (the files a run
  writes, ``NOT_IN_CHECKOUT``, aside);
* a dotted name (``models.registry.bundled_assets``, ``Scorer.compute``, ``figures.colour_map``, or
  the callee of a call such as ``metrics.sparsification(level="mean")``): a module of ``uqcore`` /
  ``ui`` (as written, or below ``uqcore.<package>``) is imported and the rest looked up with
  ``getattr``; a first part that is a class of ``uqcore`` / ``ui`` is that class (its attributes,
  dataclass fields, annotations or ``self.<name>`` assignments);
* a code name of one word (with an underscore or a capital letter: ``lazy_exports``,
  ``StudentHead``, ``n_failed``): it occurs in the code of uqcore/, ui/, pages/ or app.py as a
  module, a name, an attribute, a parameter or a string (row keys, card keys).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
CODE = [*(ROOT / "uqcore").rglob("*.py"), *(ROOT / "ui").glob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]
# Paths the text names that exist only in a built wheel or a run's output folder, never in the checkout.
NOT_IN_CHECKOUT = {"uqcore/assets", "build/lib/uqcore", "scores/", "run.json", "units.jsonl", "summary.json",
                   "disagreements.csv", "results_per_image.csv", "runs/sr/ens.N"}
FILE_SUFFIXES = (".py", ".json", ".jsonl", ".csv", ".md", ".toml", ".txt", ".sh")
# Third-party modules the text cites by their usual alias.
ALIASES = {"st": "streamlit", "nn": "torch.nn", "ray": "ray"}
# A card's sections and their keys (uqcore.models.card: a model's and a student head's), cited as measured.eval etc.
_CARD = importlib.import_module("uqcore.models.card")
CARD_SECTIONS = {section: _CARD.MODEL_SECTIONS[section] | _CARD.STUDENT_SECTIONS[section] for section in _CARD.SECTIONS}
DOTTED = re.compile(r"[A-Za-z_]\w*(?:[.:][A-Za-z_]\w*)+")
WORD = re.compile(r"[A-Za-z_]\w*")


def cited(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def _is_path(token: str) -> bool:
    if token.startswith("-") or " " in token or "<" in token:
        return False
    return "/" in token or token.endswith(FILE_SUFFIXES)


def path_problem(token: str) -> str | None:
    if token in NOT_IN_CHECKOUT:
        return None
    if "/" not in token:  # a bare file name: somewhere in the checkout
        hits = [p for p in ROOT.rglob(token) if ".venv" not in p.parts and ".git" not in p.parts]
        return None if hits else f"no file {token} anywhere in the checkout"
    for base in (ROOT, ROOT / "uqcore"):
        for candidate in (token, token.rstrip("/"), f"{token}.py"):
            if "*" in candidate:
                if list(base.glob(candidate)):
                    return None
            elif (base / candidate).exists():
                return None
    return f"no path {token} (from the checkout or from uqcore/)"


@cache
def _classes() -> dict[str, list[tuple[str, ast.ClassDef]]]:
    """Class name -> [(module, class node)] for the top-level classes of uqcore/ and ui/."""
    out: dict[str, list[tuple[str, ast.ClassDef]]] = {}
    for path in CODE:
        if path.parent.name == "pages" or path.name == "app.py":
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                out.setdefault(node.name, []).append((module, node))
    return out


@cache
def _code_words() -> frozenset[str]:
    words: set[str] = {path.stem for path in CODE}  # module names (``ray_workers``)
    for path in CODE:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Name):
                words.add(node.id)
            elif isinstance(node, ast.Attribute):
                words.add(node.attr)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                words.add(node.name)
            elif isinstance(node, ast.arg):
                words.add(node.arg)
            elif isinstance(node, ast.keyword) and node.arg:
                words.add(node.arg)
            elif isinstance(node, ast.alias):
                words.add(node.asname or node.name.rsplit(".", 1)[-1])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                words.update(WORD.findall(node.value))
    return frozenset(words)


def _import(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _class_has(node: ast.ClassDef, cls: type, attr: str) -> bool:
    if hasattr(cls, attr) or attr in getattr(cls, "__dataclass_fields__", {}):
        return True
    if any(attr in getattr(base, "__annotations__", {}) for base in cls.__mro__):
        return True
    for sub in ast.walk(node):  # an instance attribute set in a method: self.<attr> = ...
        if isinstance(sub, ast.Attribute) and sub.attr == attr and isinstance(sub.value, ast.Name) \
                and sub.value.id == "self" and isinstance(sub.ctx, ast.Store):
            return True
    return False


def _resolves(parts: list[str], prefix: str) -> bool:
    for i in range(len(parts), 0, -1):
        module = _import(prefix + ".".join(parts[:i]))
        if module is None:
            continue
        obj = module
        for part in parts[i:]:
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True
    return False


def name_problem(token: str) -> str | None:
    parts = re.split(r"[.:]", token)
    if parts[0] in CARD_SECTIONS and len(parts) == 2:  # a card's key, e.g. measured.eval
        return None if parts[1] in CARD_SECTIONS[parts[0]] else f"{token}: no such key in a card's {parts[0]}"
    if parts[0] in ALIASES:
        if importlib.util.find_spec(ALIASES[parts[0]].split(".")[0]) is None:
            return None  # an optional dependency that is not installed here
        return None if _resolves([ALIASES[parts[0]], *parts[1:]], "") else f"{token}: no such name"
    if parts[0] in _classes() and len(parts) == 2:
        for module, node in _classes()[parts[0]]:
            cls = getattr(importlib.import_module(module), parts[0])
            if _class_has(node, cls, parts[1]):
                return None
        return f"{token}: class {parts[0]} has no {parts[1]}"
    packages = sorted(p.name for p in (ROOT / "uqcore").iterdir() if (p / "__init__.py").exists())
    for prefix in ["", "uqcore.", "ui.", *(f"uqcore.{p}." for p in packages)]:
        if _resolves(parts, prefix):
            return None
    return f"{token}: no module of uqcore / ui with that name"


def problems(text: str) -> list[str]:
    """Every cited path that does not exist and every cited name that does not resolve."""
    found = []
    for token in dict.fromkeys(cited(text)):
        if _is_path(token):
            problem = path_problem(token)
        elif (m := DOTTED.match(token)) and (m.end() == len(token) or token[m.end()] in "(="):
            problem = name_problem(m.group(0))
        elif WORD.fullmatch(word := token.removesuffix("()").removesuffix("=")) and \
                ("_" in word or any(c.isupper() for c in word)):
            problem = None if word in _code_words() else f"{token}: not a name anywhere in the code"
        else:
            problem = None
        if problem:
            found.append(problem)
    return found


def test_every_cited_path_and_name_exists():
    assert problems(DOC.read_text(encoding="utf-8")) == []


def test_the_check_catches_what_does_not_exist():
    planted = ("`models/base.py` `uqcore/no_such_module.py` `tests/no_such_test.py` `docs/NO_SUCH.md` `nowhere.py` "
               "`models.registry.bundled_assets` `models.registry.no_such_function` `Scorer.compute` "
               "`Scorer.no_such_method` `engine.no_such_module.thing` `figures.colour_map` `figures.no_such_figure` "
               "`lazy_exports` `no_such_helper_name` `UQModel.parameter_count` `UQModel.parameters_count` "
               "`measured.eval` `measured.no_such_entry`")
    found = problems(planted)
    bad = ["models/base.py", "uqcore/no_such_module.py", "tests/no_such_test.py", "docs/NO_SUCH.md", "nowhere.py",
           "models.registry.no_such_function", "Scorer.no_such_method", "engine.no_such_module.thing",
           "figures.no_such_figure", "no_such_helper_name", "UQModel.parameters_count", "measured.no_such_entry"]
    assert len(found) == len(bad), found
    for name in bad:
        assert any(name in p for p in found), (name, found)

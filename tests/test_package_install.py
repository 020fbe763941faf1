"""``pip install .`` gives a working package outside the checkout.

The wheel is built offline from a copy of the checkout's sources (``pip wheel --no-deps
--no-build-isolation``: the venv's setuptools, pinned in requirements.txt; a copy, so no ``build/``
is left in the checkout and a stale one cannot leak removed modules into the wheel), installed with
``pip install --no-deps --target`` into a temporary folder, and used from another directory with
only that folder on ``PYTHONPATH`` (the venv supplies the dependencies).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
import torch
from packaging.requirements import Requirement

import uqcore
from uqcore.models.registry import ASSETS, bundled_assets

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "uqcore", "assets")  # what the build reads
# the distributions the core imports (uqcore/: torch, numpy, scipy, skimage, PIL, safetensors, tqdm,
# pandas, plotly, spandrel) and the optional parts, by extra
CORE = {"torch", "numpy", "scipy", "scikit-image", "pillow", "safetensors", "tqdm", "pandas", "plotly", "spandrel"}
EXTRAS = {"app": {"streamlit"}, "ray": {"ray"}, "onnx": {"onnx", "onnx2torch"}, "hf": {"transformers"},
          "paper": {"kaleido"}}
ESTIMATE = dict(method="noise", layer="body.3", strength=0.05, samples=3, seed=0)

INSTALLED_RUN = """
import json, sys, torch, uqcore
from uqcore.models.registry import MODELS_DIR, SAMPLES_DIR
model = uqcore.load_model("srresnet")
x = torch.rand((1, 3, 12, 12), generator=torch.Generator().manual_seed(0))
est = uqcore.estimate(model, x, **json.loads(sys.argv[1]))
print(json.dumps({"file": uqcore.__file__, "models": str(MODELS_DIR), "samples": str(SAMPLES_DIR),
                  "variance": est.variance.double().sum().item(), "prediction": est.prediction.double().sum().item(),
                  "shape": list(est.variance.shape), "zoo": uqcore.list_models()}))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "UQCORE_MODEL_DIRS")}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1", "OMP_NUM_THREADS": "1", **extra}


def _copy_sources(src: Path, names=SOURCES) -> Path:
    src.mkdir()
    for name in names:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    return src


def _build(src: Path, out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out)], check=True, env=_env(), cwd=src.parent, timeout=240)
    (found,) = out.glob("uqcore-*.whl")
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    return _build(_copy_sources(tmp / "src"), tmp / "dist")


def _module_level_imports() -> set[str]:
    """Third-party top-level names that some uqcore module imports at module level (not lazily)."""
    found = set()
    for path in (ROOT / "uqcore").rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"uqcore", "__future__"}


def _dist_info(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        (path,) = [n for n in zf.namelist() if n.endswith(f".dist-info/{name}")]
        return zf.read(path).decode()


def test_checkout_reads_its_own_assets():
    # no uqcore/assets in a checkout: the registry falls back to the checkout's assets/
    assert not (ROOT / "uqcore" / "assets").exists()
    assert bundled_assets() == ASSETS == ROOT / "assets"


def test_wheel_declares_dependencies_extras_and_command(wheel):
    meta = Parser().parsestr(_dist_info(wheel, "METADATA"))
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    core = {r.name.lower() for r in reqs if r.marker is None}
    assert CORE <= core
    # whatever uqcore imports at module level is a core dependency (found by the distribution that provides it)
    provides = importlib.metadata.packages_distributions()
    imported = {dist.lower() for name in _module_level_imports() for dist in provides[name]}
    assert {"torch", "numpy"} <= imported <= core
    assert set(meta.get_all("Provides-Extra")) >= {*EXTRAS, "all"}
    for extra, names in EXTRAS.items():
        have = {r.name.lower() for r in reqs if r.marker is not None and r.marker.evaluate({"extra": extra})}
        assert names <= have, extra
        assert not have & core, f"{extra} repeats a core dependency"
    # lower bounds, not pins, and each admits the version requirements.txt pins (the tested set)
    lines = [s for s in (ROOT / "requirements.txt").read_text().splitlines() if s.strip() and not s.startswith("#")]
    pins = {r.name.lower(): r for r in map(Requirement, lines)}
    for r in reqs:
        if r.name == "uqcore":
            continue
        assert "==" not in str(r.specifier), r
        assert r.name.lower() in pins, f"{r.name}: declared but not in requirements.txt, so never tested"
        pinned = next(iter(pins[r.name.lower()].specifier)).version
        assert r.specifier.contains(pinned), f"{r} excludes requirements.txt's {pinned}"
    assert "uqcore = uqcore.cli:main" in _dist_info(wheel, "entry_points.txt").splitlines()


def test_wheel_carries_every_bundled_asset(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    files = [p for sub in ("models", "samples") for p in (ROOT / "assets" / sub).rglob("*")
             if p.is_file() and not p.name.startswith(".")]
    assert any(p.suffix == ".safetensors" for p in files) and any(p.parent.name == "sr" for p in files)
    missing = [str(p.relative_to(ROOT)) for p in files if f"uqcore/{p.relative_to(ROOT).as_posix()}" not in names]
    assert not missing
    assert not any("__pycache__" in n or n.startswith(("assets/", "build/")) for n in names)
    assert "uqcore/paper/paper_values.csv" in names  # the paper's published numbers (data, not code)


def test_installed_wheel_runs_outside_the_checkout(wheel, tmp_path, monkeypatch):
    # the app tests' tiny zoo may be on UQCORE_MODEL_DIRS in this process; the wheel knows the bundled zoo only
    monkeypatch.delenv("UQCORE_MODEL_DIRS", raising=False)
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, env=_env(), timeout=120)
    env = _env(PYTHONPATH=str(site))
    done = subprocess.run([sys.executable, "-c", INSTALLED_RUN, json.dumps(ESTIMATE)], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    # imported from the installed copy, reading the weights and samples the wheel carries
    assert Path(got["file"]).resolve().is_relative_to(site.resolve())
    assert Path(got["models"]).resolve() == (site / "uqcore" / "assets" / "models").resolve()
    assert (Path(got["samples"]) / "sr").is_dir()
    assert set(got["zoo"]) == set(uqcore.list_models())
    # the same model as the checkout's: same estimate, same seed
    model = uqcore.load_model("srresnet")
    x = torch.rand((1, 3, 12, 12), generator=torch.Generator().manual_seed(0))
    est = uqcore.estimate(model, x, **ESTIMATE)
    assert got["shape"] == list(est.variance.shape) == [12 * model.scale] * 2
    assert got["variance"] == pytest.approx(est.variance.double().sum().item(), rel=1e-6)
    assert got["prediction"] == pytest.approx(est.prediction.double().sum().item(), rel=1e-6)
    # the console command pip wrote from the entry point
    command = site / "bin" / "uqcore"
    helped = subprocess.run([str(command), "--help"], cwd=elsewhere, env=env, capture_output=True, text=True,
                            timeout=60)
    assert helped.returncode == 0, helped.stderr[-2000:]
    assert helped.stdout.startswith("usage: uqcore ") and "evaluate" in helped.stdout


def test_a_removed_module_does_not_ship_from_an_earlier_build(tmp_path):
    # pip builds in the source tree (build/lib); setup.py empties build/lib/uqcore first
    src = _copy_sources(tmp_path / "src", [n for n in SOURCES if n != "assets"])
    for sub in ("models", "samples"):
        (src / "assets" / sub).mkdir(parents=True)
        (src / "assets" / sub / "README.md").write_text("placeholder\n")
    gone = "uqcore/removed_later.py"  # a module the sources have at the first build only
    (src / gone).write_text('"""Removed after the first build."""\n')
    with zipfile.ZipFile(_build(src, tmp_path / "first")) as zf:
        assert gone in zf.namelist() and "uqcore/assets/models/README.md" in zf.namelist()
    (src / gone).unlink()
    assert (src / "build" / "lib" / gone).is_file()  # the earlier build's copy is still there
    with zipfile.ZipFile(_build(src, tmp_path / "second")) as zf:
        assert gone not in zf.namelist() and "uqcore/__init__.py" in zf.namelist()

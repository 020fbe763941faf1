"""uqcore.limits owns every UQCORE_* variable and parses them one way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import uqcore
from uqcore import limits
from uqcore.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
NUMBERS = {  # variable -> (reader, default, 0 allowed as "no limit")
    "UQCORE_MAX_PIXELS": (limits.max_pixels, 16_000_000, False),
    "UQCORE_MAX_SAMPLES": (limits.sample_limit, 1024, False),
    "UQCORE_MAX_REQUEST_MB": (lambda: limits.max_request_bytes() // 1024**2, 6144, False),
    "UQCORE_MAX_MODEL_BYTES": (limits.max_model_bytes, 2 * 1024**3, True),
    "UQCORE_CPU_MAX_PIXELS": (limits.cpu_max_pixels, 512 * 512, True),
}


@pytest.mark.parametrize("name", NUMBERS)
def test_numbers_parse_one_way(name, monkeypatch):
    read, default, zero_ok = NUMBERS[name]
    monkeypatch.delenv(name, raising=False)
    assert read() == default
    monkeypatch.setenv(name, "")
    assert read() == default
    monkeypatch.setenv(name, " 2e3 ")
    assert read() == 2000
    monkeypatch.setenv(name, "lots")
    with pytest.raises(InputError, match=f"{name}='lots' is not a number"):
        read()
    monkeypatch.setenv(name, "-5")
    with pytest.raises(InputError, match=f"{name} must be"):
        read()
    monkeypatch.setenv(name, "0")
    if zero_ok:
        assert read() == 0  # 0 = no limit
    else:
        with pytest.raises(InputError, match=f"{name} must be positive"):
            read()


def test_switch_and_folders(monkeypatch, tmp_path):
    monkeypatch.delenv("UQCORE_ALLOW_LOCAL_MODELS", raising=False)
    assert limits.allow_local_models() is True
    assert limits.allow_local_models(loopback=False) is False  # safe by default beyond loopback
    monkeypatch.setenv("UQCORE_ALLOW_LOCAL_MODELS", "1")
    assert limits.allow_local_models(loopback=False) is True   # an explicit opt-in
    for raw, want in [("0", False), ("false", False), ("off", False), ("1", True), ("yes", True), ("", True)]:
        monkeypatch.setenv("UQCORE_ALLOW_LOCAL_MODELS", raw)
        assert limits.allow_local_models() is want, raw
    monkeypatch.setenv("UQCORE_ALLOW_LOCAL_MODELS", "maybe")
    with pytest.raises(InputError, match="UQCORE_ALLOW_LOCAL_MODELS='maybe' is not a switch"):
        limits.allow_local_models()

    monkeypatch.delenv("UQCORE_MODEL_DIRS", raising=False)
    assert limits.extra_model_dirs() == []
    monkeypatch.delenv("UQCORE_FACTORY_MODULES", raising=False)
    assert limits.factory_modules() == ["uqcore.models"]
    monkeypatch.setenv("UQCORE_FACTORY_MODULES", " mypkg.nets, tests.models ,")
    assert limits.factory_modules() == ["mypkg.nets", "tests.models"]
    monkeypatch.setenv("UQCORE_FACTORY_MODULES", "mypkg/nets")
    with pytest.raises(InputError, match="UQCORE_FACTORY_MODULES: 'mypkg/nets' is not a dotted module name"):
        limits.factory_modules()
    monkeypatch.setenv("UQCORE_MODEL_DIRS", f"{tmp_path}{__import__('os').pathsep}{tmp_path / 'b'}")
    assert limits.extra_model_dirs() == [tmp_path, tmp_path / "b"]
    from uqcore.models.registry import model_dirs

    assert model_dirs()[1:] == [tmp_path, tmp_path / "b"]


def test_loaders_read_their_limits_from_the_environment(tmp_path, monkeypatch):
    from spandrel.architectures.Compact import Compact

    from uqcore.models.loaders import load_user_model

    path = tmp_path / "c.safetensors"
    save_file(Compact(num_feat=4, num_conv=1, upscale=2).state_dict(), str(path))
    monkeypatch.setenv("UQCORE_CPU_MAX_PIXELS", "0")  # no limit: the wrapper refuses nothing
    model = load_user_model(path)
    assert model.module.max_pixels == 0
    uqcore.estimate(model, torch.rand(1, 3, 12, 14), method="transform", samples=2, device="cpu")
    monkeypatch.setenv("UQCORE_CPU_MAX_PIXELS", "100")
    with pytest.raises(InputError, match="limited to 100"):
        uqcore.estimate(load_user_model(path), torch.rand(1, 3, 12, 14), method="transform", device="cpu")
    monkeypatch.setenv("UQCORE_MAX_MODEL_BYTES", "100")
    with pytest.raises(InputError, match="above the .* MB limit"):
        load_user_model(path)
    monkeypatch.setenv("UQCORE_MAX_MODEL_BYTES", "0")  # no limit
    assert load_user_model(path).scale == 2


def _py_files():
    for folder in ("uqcore", "pages", "ui"):
        yield from (ROOT / folder).rglob("*.py")
    yield ROOT / "app.py"


def test_only_limits_reads_uqcore_variables():
    known = set(limits.VARIABLES)
    for path in _py_files():
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        assert set(re.findall(r"UQCORE_[A-Z_]+", text)) <= known, path
        if path.name != "limits.py" or path.parent.name != "uqcore":
            reads = [line for line in text.splitlines() if "UQCORE_" in line and ("environ" in line or "getenv" in line)]
            assert not reads, (path, reads)


def test_readme_lists_every_variable():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert set(re.findall(r"UQCORE_[A-Z_]+", readme)) == set(limits.VARIABLES)


def test_loopback_addresses():
    for address in ("localhost", "127.0.0.1", "127.0.1.1", "::1", "[::1]", "LOCALHOST"):
        assert limits.is_loopback(address), address
    for address in ("", None, "0.0.0.0", "::", "192.168.1.5", "myhost.example.org"):
        assert not limits.is_loopback(address), address


def test_model_upload_limit_is_the_model_size_limit_in_bytes(monkeypatch):
    monkeypatch.setenv("UQCORE_MAX_MODEL_BYTES", "1000")
    assert limits.model_upload_mb(2048) == 1            # shown rounded up to whole MB
    assert limits.model_upload_bytes(2048) == 1000      # enforced to the byte
    monkeypatch.setenv("UQCORE_MAX_MODEL_BYTES", str(3 * 2**30))
    assert limits.model_upload_bytes(2048) == 2048 * 2**20 and limits.model_upload_mb(2048) == 2048  # the server cap
    monkeypatch.setenv("UQCORE_MAX_MODEL_BYTES", "0")   # no model limit: the server cap
    assert limits.model_upload_bytes(100) == 100 * 2**20


def test_the_dashboard_listens_on_loopback_by_default():
    # `streamlit run app.py` reads .streamlit/config.toml: without server.address Streamlit binds
    # every interface, and server paths / factories would then be off only by the page's check
    import tomllib

    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))["server"]
    assert limits.is_loopback(server.get("address")), server.get("address")

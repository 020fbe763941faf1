"""Every ``UQCORE_*`` environment variable: read here, parsed one way, nowhere else.

| variable                    | default  | meaning                                                        |
|-----------------------------|----------|----------------------------------------------------------------|
| ``UQCORE_MAX_PIXELS``       | 16e6     | decoded image size (also the decompression-bomb guard); > 0     |
| ``UQCORE_MAX_SAMPLES``      | 1024     | samples per ``estimate`` call; > 0                             |
| ``UQCORE_MAX_REQUEST_MB``   | 6144     | estimated peak memory of one ``estimate`` call (MiB); > 0      |
| ``UQCORE_MAX_MODEL_BYTES``  | 2 GiB    | size of a user's model file / HF weights (bytes); 0 = no limit |
| ``UQCORE_CPU_MAX_PIXELS``   | 512×512  | per-image input of own-model wrappers on CPU; 0 = no limit      |
| ``UQCORE_MODEL_DIRS``       | (none)   | extra folders of model cards, ``os.pathsep``-separated          |
| ``UQCORE_ALLOW_LOCAL_MODELS`` | (auto) | dashboard: 1 = server paths and factories on, 0 = uploads only; |
|                             |          | unset = on only while the server listens on loopback             |
| ``UQCORE_FACTORY_MODULES``  | uqcore.models | dashboard: module prefixes (comma-separated) whose          |
|                             |          | ``module:factory`` callables may be loaded; checked before import |

Numbers are read with :func:`env_number` (a float, e.g. ``1e6``; negative values are refused,
and 0 only where the table says "0 = no limit"); switches with :func:`env_flag` (1/true/yes/on,
0/false/no/off). An unusable value raises an ``InputError`` naming the variable. Values are read
on every call, so a changed environment takes effect without a restart.

Requests over a limit are refused up front with an ``InputError`` saying which limit and how
to get under it; nothing is half-run. Dashboard uploads: Streamlit's ``server.maxUploadSize``
(``.streamlit/config.toml``, 2048 MB) is the server's hard cap for any file; under it, model
checkpoints are limited by ``UQCORE_MAX_MODEL_BYTES`` (:func:`model_upload_mb`) and images,
depth maps, calibrations and student heads by :data:`IMAGE_UPLOAD_MB` (each uploader tells the
browser its limit and the app checks the size again).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from uqcore.errors import InputError

DEFAULT_MAX_PIXELS = 16_000_000
DEFAULT_SAMPLE_LIMIT = 1024
DEFAULT_MAX_REQUEST_MB = 6144
DEFAULT_MAX_MODEL_BYTES = 2 * 1024**3
DEFAULT_CPU_MAX_PIXELS = 512 * 512
IMAGE_UPLOAD_MB = 50  # dashboard uploads other than model checkpoints (images, depth maps, JSON, heads)

# name -> what it bounds (README lists the same names; a test keeps the two in step)
VARIABLES: dict[str, str] = {
    "UQCORE_MAX_PIXELS": "decoded image size in pixels",
    "UQCORE_MAX_SAMPLES": "samples per estimate call",
    "UQCORE_MAX_REQUEST_MB": "estimated peak memory of one estimate call (MiB)",
    "UQCORE_MAX_MODEL_BYTES": "size of a user's model file (bytes; 0 = no limit)",
    "UQCORE_CPU_MAX_PIXELS": "per-image input of own models on CPU (0 = no limit)",
    "UQCORE_MODEL_DIRS": "extra folders of model cards (os.pathsep-separated)",
    "UQCORE_ALLOW_LOCAL_MODELS": "dashboard server paths and factories: 1 on, 0 off (unset: on only on loopback)",
    "UQCORE_FACTORY_MODULES": "module prefixes the dashboard may load factories from (default uqcore.models)",
}
DEFAULT_FACTORY_MODULES = ("uqcore.models",)  # the checkout's own architectures
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _raw(name: str) -> str:
    if name not in VARIABLES:  # a typo here would silently read nothing
        raise KeyError(f"{name} is not a UQCORE_* variable known to uqcore.limits")
    return os.environ.get(name, "")


def env_number(name: str, default: float, *, zero_is_no_limit: bool = False) -> float:
    """The number in environment variable ``name``, or ``default`` when it is unset or empty.

    Negative values are refused; 0 is refused too unless ``zero_is_no_limit`` (then 0 means
    "no limit" to the caller).

    >>> env_number("UQCORE_MAX_SAMPLES", 1024)  # unset in the doctest environment
    1024
    """
    raw = _raw(name).strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a number") from None
    if value != value or value < 0 or (value == 0 and not zero_is_no_limit):
        rule = ">= 0 (0 = no limit)" if zero_is_no_limit else "positive"
        raise InputError(f"{name} must be {rule}, got {raw}")
    return value


def env_flag(name: str, default: bool) -> bool:
    """The switch in environment variable ``name`` (1/true/yes/on or 0/false/no/off)."""
    raw = _raw(name).strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise InputError(f"{name}={raw!r} is not a switch; use 1 or 0")


def max_pixels() -> int:
    """Decoded image size limit (``UQCORE_MAX_PIXELS``)."""
    return int(env_number("UQCORE_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def sample_limit() -> int:
    """Samples per ``estimate`` call (``UQCORE_MAX_SAMPLES``); not ``samples="auto"``'s stop cap
    (``max_samples=``, :data:`uqcore.engine.request.DEFAULT_MAX_SAMPLES`)."""
    return int(env_number("UQCORE_MAX_SAMPLES", DEFAULT_SAMPLE_LIMIT))


def max_request_bytes() -> int:
    """Estimated peak memory of one ``estimate`` call, in bytes (``UQCORE_MAX_REQUEST_MB``)."""
    return int(env_number("UQCORE_MAX_REQUEST_MB", DEFAULT_MAX_REQUEST_MB) * 1024**2)


def max_model_bytes() -> int:
    """Model file size limit in bytes (``UQCORE_MAX_MODEL_BYTES``); 0 = no limit."""
    return int(env_number("UQCORE_MAX_MODEL_BYTES", DEFAULT_MAX_MODEL_BYTES, zero_is_no_limit=True))


def cpu_max_pixels() -> int:
    """Per-image input limit of own-model wrappers on CPU (``UQCORE_CPU_MAX_PIXELS``); 0 = no limit."""
    return int(env_number("UQCORE_CPU_MAX_PIXELS", DEFAULT_CPU_MAX_PIXELS, zero_is_no_limit=True))


def model_upload_mb(server_mb: int) -> int:
    """The dashboard's limit for a model checkpoint upload, in MB: ``UQCORE_MAX_MODEL_BYTES``
    rounded up to whole MB, but never above the server's hard cap ``server_mb``
    (``server.maxUploadSize``), which is also the limit when the model-size limit is 0 (none)."""
    limit = max_model_bytes()
    return int(server_mb) if not limit else max(1, min(int(server_mb), -(-limit // 2**20)))


def model_upload_bytes(server_mb: int) -> int:
    """The exact byte limit a model checkpoint upload is loaded under: ``UQCORE_MAX_MODEL_BYTES``
    (not rounded up to MB as :func:`model_upload_mb` shows it), at most ``server_mb`` MB."""
    limit, cap = max_model_bytes(), int(server_mb) * 2**20
    return cap if not limit else min(cap, limit)


def extra_model_dirs() -> list[Path]:
    """Extra folders of model cards (``UQCORE_MODEL_DIRS``, ``os.pathsep``-separated)."""
    return [Path(p) for p in _raw("UQCORE_MODEL_DIRS").split(os.pathsep) if p]


def is_loopback(address: str | None) -> bool:
    """Whether a server bound to ``address`` is reachable from this machine only: "localhost" or
    a loopback IP. Empty (Streamlit's default: every interface), 0.0.0.0, another IP or a host
    name is not."""
    host = (address or "").strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allow_local_models(loopback: bool = True) -> bool:
    """Whether the dashboard may load models from server paths and ``module:factory`` specs:
    ``UQCORE_ALLOW_LOCAL_MODELS`` when it is set (1 / 0), otherwise only when the server listens
    on ``loopback`` alone (:func:`is_loopback` of ``server.address``). Uploads are always allowed.
    The Python API and the CLI are not limited: they run as the user."""
    return env_flag("UQCORE_ALLOW_LOCAL_MODELS", bool(loopback))


def factory_modules() -> list[str]:
    """The module prefixes the dashboard may load ``module:factory`` callables from
    (``UQCORE_FACTORY_MODULES``, comma-separated; default :data:`DEFAULT_FACTORY_MODULES`). A
    prefix allows the module itself and its submodules (``mypkg`` allows ``mypkg.nets``)."""
    raw = _raw("UQCORE_FACTORY_MODULES")
    prefixes = [p.strip() for p in raw.split(",") if p.strip()]
    for p in prefixes:
        if not all(part.isidentifier() for part in p.split(".")):
            raise InputError(f"UQCORE_FACTORY_MODULES: {p!r} is not a dotted module name (e.g. mypkg.nets)")
    return prefixes or list(DEFAULT_FACTORY_MODULES)


def check_request_memory(estimated_bytes: int, what: str) -> None:
    """Refuse a request whose estimated peak memory exceeds ``UQCORE_MAX_REQUEST_MB``."""
    limit = max_request_bytes()
    if estimated_bytes > limit:
        raise InputError(
            f"{what} needs about {_size(estimated_bytes)}, more than the limit of {_size(limit)}; "
            "crop or downscale the image (or raise UQCORE_MAX_REQUEST_MB)"
        )


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.1f} MiB"

"""Request limits that keep a small shared machine responsive, configurable by environment.

| variable                  | default | what it bounds                                            |
|---------------------------|---------|-----------------------------------------------------------|
| ``UQCORE_MAX_PIXELS``     | 16e6    | decoded image size (also the decompression-bomb guard)    |
| ``UQCORE_MAX_SAMPLES``    | 1024    | samples per ``estimate`` call                             |
| ``UQCORE_MAX_REQUEST_MB`` | 6144    | estimated peak memory of one ``estimate`` call            |

Requests over a limit are refused up front with an ``InputError`` saying which limit and how
to get under it; nothing is half-run. The dashboard's upload size is capped separately by
``.streamlit/config.toml`` (``server.maxUploadSize``).
"""

from __future__ import annotations

import os

from uqcore.errors import InputError


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise InputError(f"{name}={raw!r} is not a number") from exc
    if value <= 0:
        raise InputError(f"{name} must be positive, got {raw}")
    return value


def max_pixels() -> int:
    return int(_env_number("UQCORE_MAX_PIXELS", 16_000_000))


def max_samples() -> int:
    return int(_env_number("UQCORE_MAX_SAMPLES", 1024))


def max_request_bytes() -> int:
    return int(_env_number("UQCORE_MAX_REQUEST_MB", 6144) * 1024**2)


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

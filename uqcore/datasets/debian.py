"""The one place Debian packages are fetched and unpacked for data (``python -m uqcore data``).

Nothing is fetched from the web: ``apt-get download`` uses the configured apt mirror, and
``dpkg-deb -x`` unpacks. A package already downloaded (``<debs>/<package>_*.deb``) or unpacked (its
``marker`` path exists) is not fetched again.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path


def unpack_debs(packages: Sequence[str], debs: Path, into: Path, marker: str | None = None,
                per_package: bool = False) -> Path:
    """Download ``packages`` into ``debs`` and unpack them into ``into`` (each into its own
    ``into/<package>/`` with ``per_package``); skipped where ``into[/<package>]/<marker>`` exists.
    Returns ``into``."""
    debs, into = Path(debs), Path(into)
    debs.mkdir(parents=True, exist_ok=True)
    for pkg in packages:
        target = into / pkg if per_package else into
        if marker is not None and list(target.glob(marker)):
            continue
        if not list(debs.glob(f"{pkg}_*.deb")):
            subprocess.run(["apt-get", "download", pkg], cwd=debs, check=True)
        deb = sorted(debs.glob(f"{pkg}_*.deb"))[-1]
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
    return into

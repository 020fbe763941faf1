"""Progress reporting, one protocol for the whole core.

Every long call that reports progress (``estimate``, ``evaluate``, ``sweep``, ``calibrate``,
``distributed.run_job``, the paper run) takes a :data:`Progress` callback: ``progress(done, total)``
with ``done`` the units finished so far (samples, images, settings, estimates) out of ``total``.
:class:`ProgressBar` is the command line's bar over such a callback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

Progress = Callable[[int, int], None]
"""``progress(done, total)``: ``done`` of ``total`` units finished."""


class ProgressBar:
    """A tqdm bar on stderr, used as a context manager; the bar itself is a :data:`Progress`
    (``bar(done, total)``)."""

    def __init__(self, total: int, desc: str, unit: str = "est") -> None:
        from tqdm import tqdm  # lazy: the engine imports this module for Progress only

        self.bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.close()

    def __call__(self, done: int, total: int) -> None:
        if total != self.bar.total:  # on workers a sweep counts settings, not estimates
            self.bar.reset(total=total)
        self.bar.update(done - self.bar.n)

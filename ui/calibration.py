"""The session's current calibration (calibrated error bars): fitted on Compare or loaded from a JSON file,
applied on Explore only to the model and method setting it was fitted for.

One calibration at a time lives in ``st.session_state`` (it cannot go into the URL; a page change
keeps it). Explore asks :func:`interval_view` for the maps and numbers of the estimate it shows;
a calibration of another model or setting is refused there with the core's reason
(:meth:`uqcore.calibration.kinds.Calibration.mismatch`), never silently applied.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

import uqcore
from uqcore.engine import methods
from uqcore.calibration.kinds import Calibration
from ui import session

KEY = "current_calibration"


def current() -> tuple[Calibration, str] | None:
    """(calibration, where it came from) or None."""
    return st.session_state.get(KEY)


def keep(cal: Calibration, origin: str) -> None:
    st.session_state[KEY] = (cal, origin)


def forget() -> None:
    st.session_state.pop(KEY, None)


def load_upload(name: str, data: bytes) -> Calibration:
    """A calibration JSON file's bytes -> Calibration (InputError with the reason otherwise)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (Path(name).name or "calibration.json")
        path.write_bytes(data)
        return uqcore.load_calibration(path)


def json_text(cal: Calibration) -> str:
    """What ``cal.save`` writes (the download offered on Compare)."""
    return json.dumps(cal.to_dict(), indent=1, allow_nan=False)


def estimate_args(model: uqcore.UQModel, setting: dict[str, Any]) -> dict[str, Any]:
    """method, layer, strength, samples, seed exactly as Explore passes them to ``estimate`` for
    the current setting, so a calibration fitted with them applies there."""
    spec = methods.spec(setting["method"])
    drawn = session.samples_to_draw(model, setting)
    return dict(method=setting["method"], layer=setting["layer"] if spec.needs_layer else None,
                strength=setting["strength"] if spec.needs_layer else None,
                samples="auto" if setting.get("auto") and drawn > 0 else max(drawn, 1), seed=int(setting["seed"]))


def describe(cal: Calibration) -> str:
    """One line for the page: kind, level, model, setting, calibration images."""
    images = ", ".join(cal.images[:6]) + (f" and {len(cal.images) - 6} more" if len(cal.images) > 6 else "")
    return (f"**{cal.kind}** at level **{cal.level:g}** for model **{cal.model.get('name', '?')}** "
            f"({cal.describe_setting()}), fitted on {len(cal.images)} image(s): {images}")


@dataclass
class IntervalView:
    """What Explore adds for a matching calibration: the interval width map [H, W] (output
    units), the "outside the interval" map (fraction of the pixel's channels outside; NaN where
    the ground truth is invalid; None without ground truth), the metrics-row values (coverage,
    interval_width, ence, ence_calibrated; only interval_width without ground truth) and whether
    the image was one of the calibration images."""

    calibration: Calibration
    width: np.ndarray
    outside: np.ndarray | None
    values: dict[str, float] = field(default_factory=dict)
    in_sample: bool = False


def interval_view(model: uqcore.UQModel, est: Any, target: Any, input_name: str) -> tuple[IntervalView | None,
                                                                                            str | None]:
    """(view, None) when the current calibration applies to ``est`` of ``model``; (None, reason)
    when it does not; (None, None) when there is none."""
    kept = current()
    if kept is None:
        return None, None
    cal = kept[0]
    reason = cal.mismatch(model, estimate=est)
    if reason is not None:
        return None, reason
    width = cal.width(est, model=model, target=target).numpy()  # relative depth: aligned to the target
    in_sample = Path(input_name).stem in set(cal.images)
    if target is None:
        return (
            IntervalView(
                calibration=cal,
                width=width,
                outside=None,
                values={"interval_width": float(width.mean())},
                in_sample=in_sample,
            ),
            None,
        )
    outside = cal.outside(model, est, target)
    return (
        IntervalView(
            calibration=cal,
            width=width,
            outside=outside if outside.shape == width.shape else None,
            values=cal.score(model, est, target),
            in_sample=in_sample,
        ),
        None,
    )

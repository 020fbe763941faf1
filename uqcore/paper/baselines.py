"""Whose baselines a table's training-required columns are, read from the model cards.

The paper trained separate MC-dropout / ensemble / likelihood baselines for each SR model (fine-
tuned from it). A baseline model here belongs to the SR model it was initialised from (``--init
…/X.safetensors`` in its card's training commands) or, failing that, the one its name starts
with (``srresnet-ens`` -> ``srresnet``). Where a table shows another model's baselines, the
report labels those columns plainly as that model's baselines."""

from __future__ import annotations

import re
from typing import Any

from uqcore.paper.values import METHOD_LABELS

_INIT = re.compile(r"--init\s+\S*?([A-Za-z0-9_.-]+?)\.safetensors")


def owner(name: str, card: dict[str, Any] | None) -> str:
    """The SR model a baseline model was made for (see the module docstring)."""
    found = _INIT.findall(str((card or {}).get("training", "")))
    if found:
        return found[0]
    return name.split("-", 1)[0]


def foreign(report: Any, table: str) -> dict[str, str]:
    """{method: baseline model} of ``table``'s columns whose baseline model belongs to another model.
    ``report.baselines`` are the SR tables' baseline models: a depth table's MC-dropout samples its own model."""
    rows = (getattr(report, "tables", None) or {}).get(table) or []
    if rows and rows[0].get("task") not in (None, "sr"):
        return {}
    return {meth: model for meth, model in report.baselines.items()
            if owner(model, report.cards.get(model)) != table}


def caption(report: Any, table: str) -> str:
    """One caption sentence naming the columns that are another model's baselines ("" if none)."""
    other = foreign(report, table)
    if not other:
        return ""
    owners = sorted({owner(m, report.cards.get(m)) for m in other.values()})
    models = ", ".join(f"`{m}`" for m in dict.fromkeys(other.values()))
    labels = ", ".join(dict.fromkeys(METHOD_LABELS.get(m, m) for m in sorted(other)))
    return (f" **The training-required columns ({labels}) are {' / '.join(owners)}'s baselines** "
            f"({models}), scored on their own predictions: not baselines made for `{table}` (the paper fine-tuned "
            "separate baselines from each model), so they compare methods across models here.")

"""Whose baselines a table's training-required columns are, read from the model cards, and which
table shows them.

The paper trained separate MC-dropout / ensemble / likelihood baselines for each SR model (fine-
tuned from it). A baseline model here belongs to the SR model it was initialised from (``--init
…/X.safetensors`` in its card's training commands) or, failing that, the one its name starts
with (``srresnet-ens`` -> ``srresnet``). A table shows only its own model's baselines
(:func:`owns`): scoring one network's uncertainty against another network's error compares
nothing the paper compares. The caption of a table without them says why (:func:`caption`)."""

from __future__ import annotations

import re
from typing import Any

from uqcore.paper.student import head_cards
from uqcore.paper.values import METHOD_LABELS, STUDENT, TRAINING_FREE

_INIT = re.compile(r"--init\s+\S*?([A-Za-z0-9_.-]+?)\.safetensors")


def owner(name: str, card: dict[str, Any] | None) -> str:
    """The SR model a baseline model was made for (see the module docstring)."""
    found = _INIT.findall(str((card or {}).get("training", "")))
    if found:
        return found[0]
    return name.split("-", 1)[0]


def owns(report: Any, table: str, model: str) -> bool:
    """Whether ``table`` shows the baseline columns of ``model`` (made for the table's model)."""
    return owner(model, report.cards.get(model)) == table


def foreign(report: Any, table: str) -> dict[str, str]:
    """{method: baseline model} of ``table``'s columns whose baseline model belongs to another model
    (empty for tables built by the paper run, which keeps them out; a guard for older reports).
    ``report.baselines`` are the SR tables' baseline models: a depth table's MC-dropout samples its own model."""
    rows = (getattr(report, "tables", None) or {}).get(table) or []
    if rows and rows[0].get("task") not in (None, "sr"):
        return {}
    shown = {r.get("method") for r in rows} if rows else set(report.baselines)
    return {meth: model for meth, model in report.baselines.items()
            if meth in shown and not owns(report, table, model)}


def missing(report: Any, table: str) -> dict[str, str]:
    """{method: baseline model} of the baselines left out of ``table`` (made for another model)."""
    return {meth: model for meth, model in report.baselines.items() if not owns(report, table, model)}


def _third_party(card: dict[str, Any] | None) -> str:
    """The training data of a model trained elsewhere ("" for one trained here)."""
    training = (card or {}).get("training")
    if isinstance(training, dict) and "not retrained here" in str(training.get("by", "")):
        return str(training.get("data", "")).split(" (")[0] or "its own"
    return ""


def caption(report: Any, table: str) -> str:
    """Caption sentences: which training-required columns a table leaves out and why ("" if none)."""
    gone = missing(report, table)
    if not gone:
        return ""
    owners = sorted({owner(m, report.cards.get(m)) for m in gone.values()})
    labels = ", ".join(dict.fromkeys(METHOD_LABELS.get(m, m) for m in sorted(gone)))
    models = ", ".join(f"`{m}`" for m in dict.fromkeys(gone.values()))
    text = (f" **No training-required columns ({labels})**: the bundled baselines ({models}) were made from "
            f"{' / '.join(owners)}, and scored here they would compare another network's uncertainty with this "
            "network's error.")
    if len(gone) < len(report.baselines):
        return text
    data = _third_party(report.cards.get(table))
    if data:
        return text + (f" `{table}` was trained elsewhere on {data}, which is not here, so no baseline can be trained "
                       "from it: this table has only training-free and student columns.")
    return text + (f" No baselines have been fine-tuned from `{table}` yet, so this table shows only its own "
                   "training-free (and student) columns.")


def training_seconds(report: Any, model: str, method: str, samples: int) -> float | None:
    """CPU seconds spent training what a column needs beyond the network itself, from the cards:
    0 for a training-free column, the student head's distillation, a baseline model's training
    runs (an ensemble of ``samples`` members: its first ``samples`` members' runs); None where
    the card does not say."""
    if method in TRAINING_FREE:
        return 0.0
    if method == STUDENT:
        training = (head_cards([model]).get(model) or {}).get("training") or {}
        return _seconds(training.get("seconds"))
    training = (report.cards.get(model) or {}).get("training")
    if not isinstance(training, dict):
        return None
    runs = training.get("runs") or []
    if method == "ensemble" and len(runs) > int(samples):
        return _seconds(sum(float(r.get("train_seconds") or 0) for r in runs[:int(samples)]))
    return _seconds(training.get("total_train_seconds"))


def _seconds(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

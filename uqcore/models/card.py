"""Model cards: what loading needs, where the weights come from, and what was measured on them.

A card is JSON with three sections (a bundled model's ``assets/models/<name>.json``, a student
head's ``<head>.json``)::

    {"name": "srresnet",
     "config":     {"task": "sr", "scale": 4, "architecture": "srresnet", "arch_kwargs": {...},
                    "weights": "srresnet.safetensors", "output": "mean", "probe_size": [32, 32], ...},
     "provenance": {"description": "...", "origin": {...}, "training": {...}},
     "measured":   {"eval": {"command": "python -m uqcore quality --write", "date": "2026-12-06", ...},
                    "recommended": {...}, "selection": {...}}}

* ``config``: what loading and running the model needs (:data:`MODEL_CONFIG`);
* ``provenance``: origin, licence, the training runs and data, the description (:data:`MODEL_PROVENANCE`);
* ``measured``: numbers; each entry is a dict naming the ``command`` that wrote it and the ``date``
  (:data:`MODEL_MEASURED`). Each entry has one writer: :func:`ModelCard.set_measured` is how a
  command records one.

Writers (one per section or entry): ``config`` / ``provenance`` of the models trained here
:mod:`uqcore.training.cards` (``python -m uqcore card``; ``select`` and ``install-ensemble`` call it
after installing weights), of imported ones :mod:`uqcore.models.upscalerjs`; ``measured.eval`` /
``metrics`` / ``forward_time`` / ``unseen_check`` / ``uq_check`` / ``explore_seconds`` and a head's
``quality``: ``python -m uqcore quality``; ``recommended`` / ``tolerability``: ``recommend``;
``selection``: ``select``; a head card's ``config`` / ``provenance``: ``distill``.

A student head's card (``"kind": "uqcore-student-head"``) has the same three sections with its own
keys (:data:`STUDENT_SECTIONS`; the head's :class:`~uqcore.engine.student_head.HeadConfig` is
``config.head_config``). :meth:`ModelCard.flat` is the one-level dict the rest of the package reads
(``uqcore.model_card(name)``, ``UQModel.card``; a student's ``config`` key is its head config there).
A flat card (the format before sections; a user's own card) is read too: each key goes to its
section by the same tables. Any key of neither table is an :class:`~uqcore.errors.InputError`
naming the card's path.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uqcore.errors import InputError

STUDENT_KIND = "uqcore-student-head"
SECTIONS = ("config", "provenance", "measured")
MODEL_SECTIONS: dict[str, frozenset[str]] = {
    "config": frozenset({
        "task", "scale", "architecture", "arch_kwargs", "weights", "output", "probe_size", "in_channels",
        "input_range", "depth_kind", "members", "parameters", "parameters_note", "explore_crop",
        "explore_crop_note", "cpu_max_pixels", "stride", "size_requirements"}),
    "provenance": frozenset({"description", "origin", "training", "import"}),
    "measured": frozenset({
        "eval", "metrics", "forward_time", "degradation_check", "unseen_check", "uq_check", "explore_seconds",
        "explore_seconds_whole_sample", "tolerability", "recommended", "selection"}),
}
STUDENT_SECTIONS: dict[str, frozenset[str]] = {
    "config": frozenset({"head", "head_config", "model", "task", "teacher", "features"}),
    "provenance": frozenset({"settings", "training", "command", "trained_as", "ablations", "source"}),
    "measured": frozenset({"selection", "quality"}),
}
MODEL_REQUIRED = ("task", "architecture", "weights")
STUDENT_REQUIRED = ("head", "head_config")
TASKS = ("sr", "depth", "image")


def today() -> str:
    """The date a measurement is recorded with (UTC, ISO)."""
    return _dt.datetime.now(_dt.timezone.utc).date().isoformat()


@dataclass
class ModelCard:
    """A validated card (module docstring). ``kind`` is ``"model"`` or :data:`STUDENT_KIND`;
    ``path`` is where it was read from (None for one built in memory)."""

    name: str
    config: dict[str, Any]
    provenance: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, Any] = field(default_factory=dict)
    kind: str = "model"
    path: Path | None = None

    def __post_init__(self) -> None:
        self.validate()

    # -- reading --------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, doc: Any, path: str | Path | None = None) -> ModelCard:
        """A card from its JSON (sectioned, or flat: every key sorted into its section)."""
        where = _where(path)
        if not isinstance(doc, dict):
            raise InputError(f"{where}: a model card is a JSON object, got {type(doc).__name__}")
        kind = STUDENT_KIND if doc.get("kind") == STUDENT_KIND else "model"
        tables = STUDENT_SECTIONS if kind == STUDENT_KIND else MODEL_SECTIONS
        if "provenance" in doc or "measured" in doc or (kind == "model" and "config" in doc):
            sections = _sectioned(doc, kind, where)
        else:
            sections = _from_flat(doc, kind, tables, where)
        name = doc.get("name") if kind == "model" else (doc.get("name") or sections["config"].get("model") or "")
        p = Path(path) if path is not None else None
        return cls(name=name, kind=kind, path=p, **sections)

    @classmethod
    def read(cls, path: str | Path) -> ModelCard:
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"cannot read model card {path}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"model card {path} is not valid JSON: {exc}") from None
        return cls.from_dict(doc, path)

    # -- checking -------------------------------------------------------------------------------
    def validate(self) -> None:
        """InputError (naming the card's path) for an unknown key, a missing required one, a
        measured entry without its command and date, or a malformed loading field."""
        where = _where(self.path)
        tables = STUDENT_SECTIONS if self.kind == STUDENT_KIND else MODEL_SECTIONS
        for section in SECTIONS:
            values = getattr(self, section)
            if not isinstance(values, dict):
                raise InputError(f"{where}: section {section!r} must be an object")
            unknown = sorted(set(values) - tables[section])
            if unknown:
                raise InputError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} in {section!r}; "
                                 f"known: {', '.join(sorted(tables[section]))}")
        required = STUDENT_REQUIRED if self.kind == STUDENT_KIND else MODEL_REQUIRED
        missing = [k for k in required if k not in self.config]
        if missing:
            raise InputError(f"{where}: config lacks {', '.join(missing)}")
        for key, entry in self.measured.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("command"), str) or not entry["command"] \
                    or not isinstance(entry.get("date"), str):
                raise InputError(f"{where}: measured.{key} must be an object naming the 'command' that wrote it "
                                 "and the 'date'")
        if self.kind == "model":
            self._validate_model(where)

    def _validate_model(self, where: str) -> None:
        c = self.config
        if not isinstance(self.name, str) or not self.name:
            raise InputError(f"{where}: a model card needs a 'name'")
        if c["task"] not in TASKS:
            raise InputError(f"{where}: config.task must be one of {', '.join(TASKS)}, got {c['task']!r}")
        weights = c["weights"]
        if not (isinstance(weights, str) or (isinstance(weights, list) and weights
                                             and all(isinstance(w, str) for w in weights))):
            raise InputError(f"{where}: config.weights must be a file name or a list of them")
        if not isinstance(c.get("arch_kwargs", {}), dict):
            raise InputError(f"{where}: config.arch_kwargs must be an object")
        if not isinstance(c.get("scale", 1), int) or c.get("scale", 1) < 1:
            raise InputError(f"{where}: config.scale must be a positive integer")
        probe = c.get("probe_size", [32, 32])
        if not (isinstance(probe, (list, tuple)) and len(probe) == 2 and all(isinstance(v, int) for v in probe)):
            raise InputError(f"{where}: config.probe_size must be [height, width]")

    # -- views and writing -----------------------------------------------------------------------
    def flat(self) -> dict[str, Any]:
        """One level: name (or kind), then config, provenance and measured keys (what
        ``model_card`` returns and ``UQModel.card`` holds; a student's head config is ``config``)."""
        head = {"name": self.name} if self.kind == "model" else {"kind": self.kind}
        config = dict(self.config)
        if self.kind == STUDENT_KIND:
            config = {("config" if k == "head_config" else k): v for k, v in config.items()}
        return {**head, **config, **self.provenance, **self.measured}

    def to_dict(self) -> dict[str, Any]:
        head = {"name": self.name} if self.kind == "model" else {"kind": self.kind}
        return {**head, "config": self.config, "provenance": self.provenance, "measured": self.measured}

    def save(self, path: str | Path | None = None) -> Path:
        """Write the sectioned JSON (to ``path``, default where it was read from)."""
        self.validate()
        target = Path(path) if path is not None else self.path
        if target is None:
            raise InputError("this card was not read from a file: give save() a path")
        target.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        self.path = target
        return target

    def set_measured(self, key: str, value: dict[str, Any], command: str, date: str | None = None) -> None:
        """Record one measurement: ``value`` plus the ``command`` that made it and the ``date``."""
        entry = {k: v for k, v in value.items() if k not in ("command", "date")}
        self.measured[key] = {"command": command, "date": date or today(), **entry}
        self.validate()


def _where(path: str | Path | None) -> str:
    return f"model card {path}" if path is not None else "model card"


def _sectioned(doc: dict[str, Any], kind: str, where: str) -> dict[str, dict[str, Any]]:
    allowed = {"config", "provenance", "measured", "name", "kind"}
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise InputError(f"{where}: unknown top-level key(s) {', '.join(map(repr, unknown))}; a card has "
                         "name (or kind), config, provenance and measured")
    return {s: dict(doc.get(s) or {}) for s in SECTIONS}


def _from_flat(doc: dict[str, Any], kind: str, tables: dict[str, frozenset[str]], where: str
               ) -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    skip = {"name", "kind"}
    for key, value in doc.items():
        if key in skip:
            continue
        if kind == STUDENT_KIND and key == "config":
            key = "head_config"
        home = next((s for s in SECTIONS if key in tables[s]), None)
        if home is None:
            raise InputError(f"{where}: unknown key {key!r}; a card's keys are "
                             + "; ".join(f"{s}: {', '.join(sorted(tables[s]))}" for s in SECTIONS))
        sections[home][key] = value
    return sections


def looks_like_card(doc: Any) -> bool:
    """Whether a JSON document is meant as a model card (a folder may hold other JSON files)."""
    if not isinstance(doc, dict):
        return False
    if isinstance(doc.get("config"), dict) and "name" in doc:
        return True
    return {"name", "task", "architecture", "weights"} <= doc.keys()


def read_card(path: str | Path) -> ModelCard:
    """:meth:`ModelCard.read`."""
    return ModelCard.read(path)

"""The paper's published numbers and the names of its columns (Mi et al., AAAI 2022, Tables 1-2).

The paper's method columns are spelled out here (and only here in the paper run): the order of
its tables, which methods it counts as training-free / training-required, and its columns."""

from __future__ import annotations

import csv
from pathlib import Path

from uqcore.engine import methods
from uqcore.scoring.scorer import LEVELS

METRIC_ROWS = tuple(f"AUSE {lv}" for lv in LEVELS) + tuple(f"Corr {lv}" for lv in LEVELS) + ("NLL",)
# The unnormalised AUSE (curves in the error's units, uqcore.metrics): our rows beside the paper's
# AUSE, which does not say which convention it uses (the Discussion measures which is closer).
RAW_AUSE_ROWS = tuple(f"AUSE raw {lv}" for lv in LEVELS)


def paper_row(label: str) -> str:
    """The paper's row a table row is compared with ("AUSE raw pixel" -> "AUSE pixel")."""
    return label.replace("AUSE raw ", "AUSE ")
# The paper's column order; labels from the method table.
# The paper's column order; labels from the method table. Two likelihood columns stand for the
# paper's one LLM column: ``llm`` (the stop-gradient head on a frozen trunk) and ``llm_joint``
# (mean and log-variance trained together); both are compared with the paper's LLM (paper_method).
LLM_JOINT = "llm_joint"
METHOD_ORDER = ("transform", "student", "dropout", "noise", "mc_dropout1", "mc_dropout2", "ensemble", "llm",
                LLM_JOINT)
METHOD_LABELS = {**{m: methods.label(m) for m in METHOD_ORDER if m != LLM_JOINT}, LLM_JOINT: "LLM joint"}
TRAINING_FREE = ("transform", "dropout", "noise")
TRAINING_REQUIRED = ("mc_dropout1", "mc_dropout2", "ensemble", "llm", LLM_JOINT)
# Our columns that the paper has under another name.
_PAPER_METHOD = {LLM_JOINT: "llm"}


def paper_method(method: str) -> str:
    """The paper's column name of one of ours (``llm_joint`` -> ``llm``; the rest are the paper's)."""
    return _PAPER_METHOD.get(method, method)
# The two methods the tolerability sweeps tune (noise std / dropout rate), by name.
NOISE, DROPOUT, TRANSFORM = "noise", "dropout", "transform"
SWEPT = (NOISE, DROPOUT)
MC_DROPOUT = methods.variant("mc_dropout1").engine
LLM = "llm"
# The one-pass student (uqcore.student): a column beside its teacher wherever the model has a head.
STUDENT = "student"
assert set(SWEPT) == set(methods.SWEEP_METHODS) and set(TRAINING_FREE) == set(methods.TRAINING_FREE)
# Sample counts per engine method (full run and --quick).
SR_SAMPLES = {"transform": (4, 8), "dropout": (8, 32), "noise": (8, 32), "mc_dropout": (8, 32), "ensemble": (4, 8),
              "llm": (1,), "student": (1,)}
DEPTH_SAMPLES = {"transform": (2,), "dropout": (2, 8), "noise": (2, 8), "mc_dropout": (2, 8), "student": (1,)}
QUICK_SR_SAMPLES = {"transform": (4,), "dropout": (8,), "noise": (8,), "mc_dropout": (8,), "ensemble": (4,), "llm": (1,),
                    "student": (1,)}
QUICK_DEPTH_SAMPLES = {"transform": (2,), "dropout": (2,), "noise": (2,), "mc_dropout": (2,), "student": (1,)}
# The SR tables: the training-free columns (on every SR model) and the baselines (separate models).
SR_TRAINING_FREE = ("transform", "dropout", "noise")
# (the Settings field naming the baseline's model, its engine variants, their table columns)
SR_BASELINES = (("mcdrop_model", ("mc_dropout1", "mc_dropout2"), ("mc_dropout1", "mc_dropout2")),
                ("ensemble_model", ("ensemble",), ("ensemble",)),
                ("llm_model", ("llm",), ("llm",)),
                ("llm_joint_model", ("llm",), (LLM_JOINT,)))
DEPTH_METHODS = ("transform", "dropout", "noise", "mc_dropout1", "mc_dropout2")
DEPTH_REQUIRED = ("mc_dropout1", "mc_dropout2")

# -- the paper's published numbers ------------------------------------------------------------------
# Table 1 (SRGAN, SRresnet) and Table 2 (FCRN) of the paper, transcribed verbatim. Columns are
# (method, samples); the likelihood head (LLM) is sampling-free ("0" samples in the paper), keyed
# here by the 1 sample we request from the engine.
PAPER_SR_COLUMNS: tuple[tuple[str, int], ...] = (
    ("transform", 4), ("transform", 8), ("dropout", 8), ("dropout", 32), ("noise", 8), ("noise", 32),
    ("mc_dropout1", 8), ("mc_dropout1", 32), ("mc_dropout2", 8), ("mc_dropout2", 32),
    ("ensemble", 4), ("ensemble", 8), ("llm", 1),
)
PAPER_DEPTH_COLUMNS: tuple[tuple[str, int], ...] = (
    ("transform", 2), ("dropout", 2), ("dropout", 8), ("noise", 2), ("noise", 8),
    ("mc_dropout1", 2), ("mc_dropout1", 8), ("mc_dropout2", 2), ("mc_dropout2", 8),
)
# The numbers themselves are data: paper_values.csv beside this module (table, row, one value per
# column), transcribed verbatim from Tables 1 (SRGAN, SRresnet) and 2 (FCRN).
PAPER_VALUES_FILE = Path(__file__).with_name("paper_values.csv")


def _paper_values() -> dict[str, dict[str, tuple[float, ...]]]:
    out: dict[str, dict[str, tuple[float, ...]]] = {}
    with PAPER_VALUES_FILE.open(newline="") as f:
        for table, row, values in list(csv.reader(f))[1:]:
            out.setdefault(table, {})[row] = tuple(float(v) for v in values.split())
    return out


_PAPER_VALUES = _paper_values()
PAPER_TABLE_NAMES = {"srgan": "Table 1 (SRGAN)", "srresnet": "Table 1 (SRresnet)", "fcrn": "Table 2 (FCRN)"}


def _paper_tables() -> dict[str, dict[tuple[str, int], dict[str, float]]]:
    out: dict[str, dict[tuple[str, int], dict[str, float]]] = {}
    for name, rows in _PAPER_VALUES.items():
        cols = PAPER_DEPTH_COLUMNS if name == "fcrn" else PAPER_SR_COLUMNS
        out[name] = {col: {row: rows[row][j] for row in METRIC_ROWS} for j, col in enumerate(cols)}
    return out


# PAPER_TABLES[table][(method, samples)][row label] -> published value
PAPER_TABLES = _paper_tables()


def paper_column(table: str, method: str, samples: int) -> dict[str, float] | None:
    """The paper's values ({row label: value}) of our column (method, samples) in ``table``, or None."""
    return PAPER_TABLES.get(table, {}).get((paper_method(method), int(samples)))


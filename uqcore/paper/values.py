"""The paper's published numbers and the names of its columns (Mi et al., AAAI 2022, Tables 1-2).

The paper's method columns are spelled out here (and only here in the paper run): the order of
its tables, which methods it counts as training-free / training-required, and its columns."""

from __future__ import annotations

from uqcore.engine import methods
from uqcore.scoring.scorer import LEVELS

METRIC_ROWS = tuple(f"AUSE {lv}" for lv in LEVELS) + tuple(f"Corr {lv}" for lv in LEVELS) + ("NLL",)
# The paper's column order; labels from the method table.
METHOD_ORDER = ("transform", "student", "dropout", "noise", "mc_dropout1", "mc_dropout2", "ensemble", "llm")
METHOD_LABELS = {m: methods.label(m) for m in METHOD_ORDER}
TRAINING_FREE = ("transform", "dropout", "noise")
TRAINING_REQUIRED = ("mc_dropout1", "mc_dropout2", "ensemble", "llm")
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
# (the Settings field naming the baseline's model, its columns)
SR_BASELINES = (("mcdrop_model", ("mc_dropout1", "mc_dropout2")), ("ensemble_model", ("ensemble",)),
                ("llm_model", ("llm",)))
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
_PAPER_VALUES: dict[str, dict[str, tuple[float, ...]]] = {
    "srgan": {  # Table 1, "SRGAN model: Super Resolution"
        "AUSE mean": (0.006, 0.006, 0.013, 0.013, 0.016, 0.016, 0.008, 0.009, 0.007, 0.007, 0.018, 0.020, 0.035),
        "AUSE patch": (0.021, 0.022, 0.029, 0.030, 0.040, 0.039, 0.029, 0.029, 0.025, 0.025, 0.033, 0.033, 0.044),
        "AUSE block": (0.023, 0.023, 0.032, 0.031, 0.044, 0.043, 0.030, 0.029, 0.028, 0.028, 0.033, 0.033, 0.042),
        "AUSE pixel": (0.128, 0.121, 0.154, 0.141, 0.173, 0.162, 0.141, 0.131, 0.137, 0.129, 0.152, 0.144, 0.137),
        "Corr mean": (0.931, 0.930, 0.884, 0.882, 0.774, 0.780, 0.942, 0.943, 0.938, 0.936, 0.692, 0.694, 0.484),
        "Corr patch": (0.765, 0.770, 0.722, 0.731, 0.590, 0.598, 0.748, 0.755, 0.734, 0.741, 0.674, 0.677, 0.565),
        "Corr block": (0.757, 0.767, 0.717, 0.730, 0.579, 0.592, 0.735, 0.747, 0.698, 0.710, 0.651, 0.664, 0.588),
        "Corr pixel": (0.367, 0.394, 0.323, 0.376, 0.245, 0.288, 0.339, 0.390, 0.330, 0.379, 0.290, 0.326, 0.393),
        "NLL": (17.910, 9.332, 4.889, 4.804, 4.899, 4.791, 6.804, 6.013, 6.365, 5.541, 11.520, 5.994, 1.320),
    },
    "srresnet": {  # Table 1, "SRresnet model: Super Resolution"
        "AUSE mean": (0.044, 0.044, 0.042, 0.043, 0.067, 0.066, 0.041, 0.047, 0.036, 0.039, 0.073, 0.066, 0.036),
        "AUSE patch": (0.045, 0.044, 0.048, 0.047, 0.055, 0.055, 0.046, 0.045, 0.040, 0.041, 0.066, 0.066, 0.037),
        "AUSE block": (0.047, 0.045, 0.049, 0.048, 0.062, 0.061, 0.048, 0.046, 0.041, 0.042, 0.073, 0.070, 0.031),
        "AUSE pixel": (0.164, 0.153, 0.165, 0.155, 0.190, 0.181, 0.163, 0.152, 0.150, 0.144, 0.194, 0.185, 0.133),
        "Corr mean": (0.340, 0.359, 0.401, 0.404, 0.056, 0.055, 0.408, 0.379, 0.527, 0.512, 0.016, 0.048, 0.622),
        "Corr patch": (0.501, 0.520, 0.508, 0.518, 0.371, 0.385, 0.535, 0.545, 0.547, 0.542, 0.323, 0.361, 0.648),
        "Corr block": (0.462, 0.486, 0.498, 0.509, 0.358, 0.370, 0.505, 0.521, 0.531, 0.529, 0.274, 0.286, 0.673),
        "Corr pixel": (0.237, 0.269, 0.258, 0.303, 0.172, 0.216, 0.264, 0.309, 0.288, 0.322, 0.184, 0.206, 0.393),
        "NLL": (107.243, 43.071, 5.155, 4.955, 4.941, 4.788, 8.430, 7.221, 8.018, 6.688, 13.559, 7.906, 1.422),
    },
    "fcrn": {  # Table 2, "FCRN model: Depth Estimation"
        "AUSE mean": (0.051, 0.044, 0.041, 0.046, 0.041, 0.062, 0.062, 0.060, 0.062),
        "AUSE patch": (0.106, 0.109, 0.092, 0.108, 0.091, 0.127, 0.126, 0.122, 0.125),
        "AUSE block": (0.056, 0.057, 0.047, 0.053, 0.045, 0.065, 0.065, 0.063, 0.065),
        "AUSE pixel": (0.165, 0.168, 0.135, 0.167, 0.134, 0.208, 0.193, 0.207, 0.193),
        "Corr mean": (0.596, 0.630, 0.677, 0.651, 0.708, 0.473, 0.471, 0.469, 0.469),
        "Corr patch": (0.324, 0.306, 0.409, 0.312, 0.411, 0.258, 0.268, 0.266, 0.269),
        "Corr block": (0.354, 0.354, 0.449, 0.364, 0.447, 0.215, 0.220, 0.220, 0.221),
        "Corr pixel": (0.208, 0.182, 0.284, 0.188, 0.288, 0.075, 0.134, 0.076, 0.134),
        "NLL": (8.634, 8.443, 4.889, 3.526, 1.006, 12.365, 9.842, 12.503, 9.866),
    },
}
PAPER_TABLE_NAMES = {"srgan": "Table 1 (SRGAN)", "srresnet": "Table 1 (SRresnet)", "fcrn": "Table 2 (FCRN)"}


def _paper_tables() -> dict[str, dict[tuple[str, int], dict[str, float]]]:
    out: dict[str, dict[tuple[str, int], dict[str, float]]] = {}
    for name, rows in _PAPER_VALUES.items():
        cols = PAPER_DEPTH_COLUMNS if name == "fcrn" else PAPER_SR_COLUMNS
        out[name] = {col: {row: rows[row][j] for row in METRIC_ROWS} for j, col in enumerate(cols)}
    return out


# PAPER_TABLES[table][(method, samples)][row label] -> published value
PAPER_TABLES = _paper_tables()


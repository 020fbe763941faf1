"""``python -m uqcore reproduce``: the paper's Tables 1-2 and Fig. 4 on the bundled models.

Mi et al., "Training-Free Uncertainty Estimation for Dense Regression: Sensitivity as a
Surrogate", AAAI 2022. One command runs, on the bundled models and eval sets, and writes the
markdown report named by ``--out`` (the command's default is ``docs/RESULTS.md``, relative to the
working directory), ``<stem>_rows.csv`` / ``<stem>_sweeps.csv`` / ``<stem>_per_image.csv`` (one row
per model, table, column and test image: :mod:`~uqcore.paper.per_image`) next to it and the
``fig4_*.png`` tolerability plots in ``--figures`` (default ``figures/`` next to ``--out``).
It writes nowhere else.

Modules: :mod:`~uqcore.paper.values` (the published numbers and the paper's columns),
:mod:`~uqcore.paper.report` (settings and the report), :mod:`~uqcore.paper.run` (splits, sweeps,
tables; scored by :class:`uqcore.scoring.scorer.Scorer`), :mod:`~uqcore.paper.intervals` (calibrated
error bars), :mod:`~uqcore.paper.figures`,
:mod:`~uqcore.paper.discussion`, :mod:`~uqcore.paper.markdown`; the command is :mod:`uqcore.commands.reproduce`.

Steps:

1. **Split.** Each eval set (``assets/samples/sr``: HR images; ``assets/samples/depth``:
   RGB + 16-bit depth scenes) is split into a *calibration* split and a *test* split by a
   seeded permutation (``numpy.random.default_rng(seed).permutation``; the first
   ``--sr-calibration`` / ``--depth-calibration`` images of the permutation are the
   calibration split). SR images are first centre-cropped to at most ``--sr-crop`` pixels
   per side (then to a multiple of the scale) and bicubic-downscaled to make the input
   (:func:`uqcore.datasets.folders.make_lr`).
2. **Tolerability sweeps** (Fig. 4 analog) on the calibration split, for each SR model
   (``srresnet``, ``srgan``) and the depth model (``fcrn``), for infer-noise and
   infer-dropout: :func:`uqcore.sweep` over ~4 layers spread from early to late
   (:func:`uqcore.engine.layers.default_layers`) x a few strengths. The setting used on the test
   split is :func:`uqcore.datasets.sweep.recommend` with ``--tolerance`` (default 5 % relative loss
   increase): the highest pixel correlation among settings whose loss after perturbation is
   at most 5 % above the unperturbed loss. If no setting qualifies, the setting with the
   smallest loss increase is used (and the report says so).
3. **Tables** on the test split: Table 1 analog for each SR model (infer-transformation 4 / 8,
   infer-dropout and infer-noise 8 / 32 at the chosen settings, MC-drop1 / MC-drop2 8 / 32 with
   ``srresnet-mcdrop``, the ensemble ``srresnet-ens`` (8 members: 4 and 8 samples), the likelihood head
   ``srresnet-llm-head``; only in the table of the model they were made from) and Table 2 analog for ``fcrn`` (transformation 2 = identity + flip,
   dropout / noise 2 / 8, MC-drop1 / MC-drop2 2 / 8 with FCRN's own dropout layer). Rows: AUSE
   and Pearson correlation at the mean / patch / block / pixel levels, NLL, and -- beyond the
   paper -- the NLL after sigma-scaling, whose variance scale is fitted on the calibration
   split (:func:`uqcore.metrics.fit_scale_vectors`) and applied to the test split. Metric
   definitions: :mod:`uqcore.metrics` and :mod:`uqcore.scoring.scorer`.
4. **Calibrated error bars** (:mod:`~uqcore.paper.intervals`): per column, a split-conformal and an
   isotonic calibration at ``interval_level`` (0.9) fitted on the calibration split; their
   coverage and width on the test split, and ENCE raw / σ-scaled / isotonic, with the issue's bars
   checked (printed, and a section of the markdown).
5. **Intervals**: every Table 1/2 cell carries its 95 % percentile bootstrap interval over the test
   images (:mod:`uqcore.scoring.summary_ci`, :mod:`uqcore.scoring.stats`); the test splits are at least 24 SR
   images (the scikit-image crops and Debian lomiri wallpapers) and 200 + depth scenes (rendered
   with seeds :data:`~uqcore.paper.heldout.DEPTH_TEST_SEED`, ... and added to the test split).
6. **Discussion** generated from the numbers: each of the paper's claims is tested with a
   stated rule (see :func:`discussion`) on our numbers and, where the rule applies, on the
   paper's published numbers (:data:`PAPER_TABLES`), so the report says where they agree; each
   "A beats B" is a paired bootstrap of the difference, its p-values Holm-corrected over all the
   Discussion's paired tests; a method's "best column" is chosen on the calibration + held-out
   images (:mod:`~uqcore.paper.decision`), the test split only reports it; every claim gets a
   verdict line; ``disagreements.csv`` beside ``--out`` (:mod:`~uqcore.paper.disagreement_rows`)
   lists every cell whose interval excludes the paper's value and
   :mod:`~uqcore.paper.disagreements` summarises it per table and metric.

``--quick`` runs the same pipeline on fewer and smaller images with fewer settings and sample
counts (about a minute on a 2-core CPU); CI runs it to keep the command working.

``--workers N`` / ``--ray-address ADDRESS`` (``run_reproduction(..., workers=, ray_address=)``) run
the sweeps and the tables' per-image estimates on Ray workers (:mod:`~uqcore.paper.table_units`,
docs/SCALING.md) with the serial run's numbers.
"""

from __future__ import annotations

from uqcore.paper.discussion import (REACH_MARGIN, column_values, discussion, fmt, layer_profile, reach,
                                     tolerance_trend, transform_best)
from uqcore.paper.markdown import render_markdown, results_table, write_outputs
from uqcore.paper.report import QUICK, Report, Settings, check_data, check_models, required_models
from uqcore.paper.run import load_depth_split, load_sr_split, run_reproduction, score_columns, split_indices
from uqcore.paper.values import (LEVELS, METHOD_LABELS, METRIC_ROWS, PAPER_TABLE_NAMES, PAPER_TABLES, TRAINING_FREE,
                                 TRAINING_REQUIRED)

__all__ = [
    "REACH_MARGIN", "column_values",
    "discussion", "fmt", "layer_profile", "reach", "tolerance_trend", "transform_best", "render_markdown",
    "results_table", "write_outputs", "QUICK", "Report", "Settings", "check_data", "check_models", "required_models",
    "load_depth_split", "load_sr_split", "run_reproduction", "score_columns", "split_indices", "LEVELS",
    "METHOD_LABELS", "METRIC_ROWS", "PAPER_TABLE_NAMES", "PAPER_TABLES", "TRAINING_FREE", "TRAINING_REQUIRED",
]

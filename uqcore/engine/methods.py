"""The one table of uncertainty methods: every property of a method that another module needs.

Each engine method (what ``uqcore.estimate(method=...)`` accepts) is one :class:`MethodSpec` in
:data:`SPECS`. Every other module reads this table instead of spelling out method names:

* ``estimate``  -- which methods exist (:data:`METHODS`), which sampling routine runs them
  (``spec.sampling``), prefix reuse (``spec.prefix_reuse``), where the prediction comes from
  (``spec.prediction``), which feature perturbation a hook applies (``spec.feature``) and what
  ``samples="auto"`` does (``spec.auto``);
* ``model``     -- which methods need forward hooks (:data:`HOOK_METHODS`) and what a model
  must have for a method to apply (``spec.requires``);
* ``datasets.evaluate`` / ``paper`` -- the scored variants (:data:`VARIANTS`: MC-drop1 / MC-drop2 share
  MC-dropout's samples and differ in the prediction), labels and the training-free split;
* ``datasets.sweep`` -- which methods can be swept (:data:`LAYER_METHODS`) and their grids;
* the dashboard -- labels and help texts.

Each method is also an object (:class:`uqcore.engine.estimate.UncertaintyMethod`, one class per
sampling routine) whose ``estimate(model, x, ...)`` runs it; ``uqcore.estimate(method=name)`` looks
the object up here (:func:`method_object`) and calls it. The built-in specs below get their objects
from :mod:`uqcore.engine.estimate` (by ``spec.sampling``). Adding a method is one object whose
``spec`` is a new :class:`MethodSpec`: :func:`register_method` puts the spec in this table (so
``evaluate``, the dashboard's method lists and every look-up below see it) and the object behind
its name; :func:`unregister_method` takes an added one out again. Look-ups: :func:`spec` (engine
methods) and :func:`variant` (evaluation names, which include the engine names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from uqcore.errors import InputError

# Where the prediction a user would use comes from: the unperturbed output of the (first)
# network, or the mean of the drawn samples.
ORIGINAL, SAMPLE_MEAN = "original", "mean"
# The sampling routines of ``uqcore.engine.estimate``.
SAMPLING_TRANSFORM = "dihedral"   # transformed inputs, outputs inverted
SAMPLING_FEATURE = "feature"      # a forward hook perturbs one or more layers' outputs
SAMPLING_MEMBERS = "members"      # one sample per ensemble member
SAMPLING_HEAD = "head"            # no sampling: the model predicts its own variance
SAMPLING_STUDENT = "student"      # no sampling: a distilled head on the frozen model (uqcore.student)
# The feature perturbations of ``uqcore.engine.perturb.FeaturePerturbation``.
FEATURE_GAUSSIAN = "gaussian"     # + strength * N(0, 1)
FEATURE_DROPOUT = "dropout_rate"  # dropout at rate ``strength``
FEATURE_OWN_DROPOUT = "own_dropout"  # the model's own dropout layers at their own rate
# What a model must have for a method to apply (``uqcore.engine.model.UQModel.methods``).
NEEDS_DROPOUT_LAYERS = "dropout layers"
NEEDS_MEMBERS = "ensemble members"
NEEDS_VARIANCE_HEAD = "variance head"
NEEDS_STUDENT = "student head"
# What ``estimate(samples="auto")`` does (``spec.auto``):
AUTO_ROUNDS = "rounds"  # draw in rounds until the map's split-half reliability reaches the target
AUTO_ALL = "all"        # the model fixes the set (transforms, members): draw all of it, up to the cap
AUTO_NONE = "none"      # nothing to draw (a variance head): one pass, 0 samples


@dataclass(frozen=True)
class Variant:
    """A scored column of a dataset table: an engine method plus which output is the prediction."""

    name: str
    engine: str
    prediction: str   # ORIGINAL or SAMPLE_MEAN: the ``Estimate`` field that is scored
    label: str        # the paper's column label, e.g. "MC-drop1"
    help: str = ""


@dataclass(frozen=True)
class MethodSpec:
    """One engine method.

    name:             what ``estimate(method=...)`` takes.
    label:            display label (the paper's column name).
    help:             one line for the dashboard / CLI.
    training_free:    works on any trained model (the paper's contribution) vs. a baseline that
                      needs training (MC-dropout, ensembles, likelihood heads).
    sampling:         the sampler routine (SAMPLING_*).
    prediction:       ORIGINAL or SAMPLE_MEAN: what ``Estimate.prediction`` is.
    needs_layer:      the user picks a layer (``layer=``) and a strength (``strength=``).
    hooks:            perturbs layers through forward hooks (unavailable on TorchScript).
    prefix_reuse:     the network before the perturbed layer can run once per chunk.
    feature:          the hook's perturbation (FEATURE_*), for hook methods.
    requires:         what a model must have (NEEDS_*), or None.
    default_strength: the strength used when none is given (layer methods).
    sweep_strengths:  the default tolerability grid (layer methods).
    strength_name:    what the strength is, e.g. "noise std".
    strength_max:     strengths must stay below this (a dropout rate < 1); None: unbounded.
    sampled:          draws samples (False for a variance head: 0 samples).
    auto:             what ``samples="auto"`` does (AUTO_*): rounds until the map is reliable
                      for open-ended draws; the whole set where the model fixes the samples
                      (the transform set, the ensemble's members: a few, each different, so
                      stopping part-way would drop whole kinds of perturbation); nothing for a
                      variance head.
    variants:         extra evaluation variants (name, prediction, label, help); the method
                      itself is always a variant with its own prediction and label.
    """

    name: str
    label: str
    help: str
    training_free: bool
    sampling: str
    prediction: str = ORIGINAL
    needs_layer: bool = False
    hooks: bool = False
    prefix_reuse: bool = False
    feature: str | None = None
    requires: str | None = None
    default_strength: float | None = None
    sweep_strengths: tuple[float, ...] = ()
    strength_name: str = ""
    strength_max: float | None = None
    sampled: bool = True
    auto: str = AUTO_ROUNDS
    variants: tuple[tuple[str, str, str, str], ...] = ()


SPECS: tuple[MethodSpec, ...] = (
    MethodSpec(
        name="transform", label="Infer-trans", training_free=True, sampling=SAMPLING_TRANSFORM, auto=AUTO_ALL,
        help="infer-transformation: rotations/flips of the input, inverted on the output (black box)",
    ),
    MethodSpec(
        name="noise", label="Infer-noise", training_free=True, sampling=SAMPLING_FEATURE,
        help="infer-noise: Gaussian noise added to one layer's output",
        needs_layer=True, hooks=True, prefix_reuse=True, feature=FEATURE_GAUSSIAN,
        default_strength=0.05, sweep_strengths=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2), strength_name="noise std",
    ),
    MethodSpec(
        name="dropout", label="Infer-drop", training_free=True, sampling=SAMPLING_FEATURE,
        help="infer-dropout: dropout applied to one layer's output at inference",
        needs_layer=True, hooks=True, prefix_reuse=True, feature=FEATURE_DROPOUT,
        default_strength=0.1, sweep_strengths=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3), strength_name="dropout rate", strength_max=1.0,
    ),
    MethodSpec(
        name="mc_dropout", label="MC-dropout", training_free=False, sampling=SAMPLING_FEATURE,
        help="MC-dropout: the model's own dropout layers switched on (baseline, needs training)",
        prediction=SAMPLE_MEAN, hooks=True, prefix_reuse=True, feature=FEATURE_OWN_DROPOUT,
        requires=NEEDS_DROPOUT_LAYERS,
        variants=(
            ("mc_dropout1", ORIGINAL, "MC-drop1", "MC-dropout with the original output (dropout off) as prediction"),
            ("mc_dropout2", SAMPLE_MEAN, "MC-drop2", "MC-dropout with the sample mean as prediction"),
        ),
    ),
    MethodSpec(
        name="ensemble", label="Ensemble", training_free=False, sampling=SAMPLING_MEMBERS,
        help="deep ensemble: one output per member (baseline, needs training)",
        prediction=SAMPLE_MEAN, requires=NEEDS_MEMBERS, auto=AUTO_ALL,
    ),
    MethodSpec(
        name="llm", label="LLM", training_free=False, sampling=SAMPLING_HEAD,
        help="likelihood head: the model predicts its own variance (baseline, needs training)",
        requires=NEEDS_VARIANCE_HEAD, sampled=False, auto=AUTO_NONE,
    ),
    MethodSpec(
        name="student", label="Student", training_free=False, sampling=SAMPLING_STUDENT,
        help="one-pass student: a small head on the frozen model, distilled from a training-free "
             "teacher on unlabeled images (python -m uqcore distill)",
        requires=NEEDS_STUDENT, sampled=False, auto=AUTO_NONE,
    ),
)

BUILT_IN: tuple[str, ...] = tuple(s.name for s in SPECS)

# The views below are derived from SPECS by _derive(), again whenever register_method /
# unregister_method change the table; the dicts are updated in place, so a reference kept by
# another module stays current (read the tuples as ``methods.NAME`` at call time for the same).
TABLE: dict[str, MethodSpec] = {}
VARIANTS: dict[str, Variant] = {}
LABELS: dict[str, str] = {}
HELP: dict[str, str] = {}
DEFAULT_STRENGTH: dict[str, float] = {}
DEFAULT_STRENGTHS: dict[str, tuple[float, ...]] = {}
# Engine methods, in display order.
METHODS: tuple[str, ...] = ()
TRAINING_FREE: tuple[str, ...] = ()
LAYER_METHODS: tuple[str, ...] = ()
HOOK_METHODS: tuple[str, ...] = ()
PREFIX_METHODS: tuple[str, ...] = ()
# Methods a tolerability sweep can perturb (a layer and a strength), and their grids.
SWEEP_METHODS: tuple[str, ...] = ()
# Evaluation names that are not engine methods (e.g. mc_dropout1, mc_dropout2).
EXTRA_VARIANTS: tuple[str, ...] = ()
DEFAULT_METHOD: str = SPECS[0].name
# The method objects by name (register_method; the built-ins' are attached by uqcore.engine.estimate).
_OBJECTS: dict[str, Any] = {}


def _derive() -> None:
    """Every view of the table from SPECS."""
    global METHODS, TRAINING_FREE, LAYER_METHODS, HOOK_METHODS, PREFIX_METHODS, SWEEP_METHODS, EXTRA_VARIANTS
    for view in (TABLE, VARIANTS, LABELS, HELP, DEFAULT_STRENGTH, DEFAULT_STRENGTHS):
        view.clear()
    TABLE.update({s.name: s for s in SPECS})
    METHODS = tuple(TABLE)
    TRAINING_FREE = tuple(s.name for s in SPECS if s.training_free)
    LAYER_METHODS = SWEEP_METHODS = tuple(s.name for s in SPECS if s.needs_layer)
    HOOK_METHODS = tuple(s.name for s in SPECS if s.hooks)
    PREFIX_METHODS = tuple(s.name for s in SPECS if s.prefix_reuse)
    DEFAULT_STRENGTH.update({s.name: s.default_strength for s in SPECS if s.default_strength is not None})
    DEFAULT_STRENGTHS.update({s.name: s.sweep_strengths for s in SPECS if s.sweep_strengths})
    for s in SPECS:
        VARIANTS[s.name] = Variant(name=s.name, engine=s.name, prediction=s.prediction, label=s.label, help=s.help)
        for name, prediction, label_, help_ in s.variants:
            VARIANTS[name] = Variant(name=name, engine=s.name, prediction=prediction, label=label_, help=help_)
    EXTRA_VARIANTS = tuple(n for n in VARIANTS if n not in TABLE)
    LABELS.update({n: v.label for n, v in VARIANTS.items()})
    HELP.update({s.name: s.help for s in SPECS})


_derive()


def register_method(method: Any) -> Any:
    """Add a method: ``method.spec`` (a :class:`MethodSpec` with a new name, and new variant names)
    joins the table and ``method`` (an :class:`uqcore.engine.estimate.UncertaintyMethod`) runs it
    from then on. A spec already in the table (a built-in's) just gets its object. Returns ``method``."""
    global SPECS
    new = method.spec
    if not isinstance(new, MethodSpec):
        raise InputError(f"a method's spec must be a MethodSpec, got {type(new).__name__}")
    if TABLE.get(new.name) is not new:
        taken = [n for n in (new.name, *(v[0] for v in new.variants)) if n in VARIANTS]
        if taken:
            raise InputError(f"a method named {taken[0]!r} exists already; give the new one another name")
        SPECS = (*SPECS, new)
        _derive()
    _OBJECTS[new.name] = method
    return method


def unregister_method(name: str) -> None:
    """Take an added method out of the table again (the built-in ones stay)."""
    global SPECS
    if name in BUILT_IN:
        raise InputError(f"{name!r} is a built-in method; only added ones can be unregistered")
    SPECS = tuple(s for s in SPECS if s.name != name)
    _OBJECTS.pop(name, None)
    _derive()


def method_object(name: str) -> Any:
    """The object that runs engine method ``name`` (an InputError for an unknown name)."""
    found = spec(name)
    if name not in _OBJECTS:
        raise InputError(f"method {name!r} has no implementation registered (uqcore.engine.methods.register_method)")
    return _OBJECTS[found.name]


def spec(name: str) -> MethodSpec:
    """The spec of engine method ``name``; an InputError listing the methods if there is none."""
    if name not in TABLE:
        raise InputError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return TABLE[name]


def variant(name: str) -> Variant:
    """The evaluation variant ``name`` (an engine method or e.g. ``mc_dropout1``)."""
    if name not in VARIANTS:
        raise InputError(f"unknown method {name!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[name]


def variants_of(engine: str) -> list[str]:
    """Evaluation names that score ``engine``'s samples, the engine's own name first."""
    return [n for n, v in VARIANTS.items() if v.engine == engine]


def label(name: str) -> str:
    """Display label of a method or variant (the name itself if unknown)."""
    return LABELS.get(name, name)

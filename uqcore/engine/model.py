"""The wrapper every model goes through: task, scale, output kind, per-device copies.

A ``UQModel`` is shared by all callers (the dashboard caches one per model for every browser
session), so nothing here changes state during sampling: per-device copies are made once under
a lock, and perturbations are applied by hooks that only act for the caller that made them.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from uqcore.engine import methods as _methods
from uqcore.errors import InputError, ModelRunError
from uqcore.metrics.alignment import check_kind

TASKS = ("sr", "depth", "image")
OUTPUTS = ("mean", "mean_logvar")
DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)
# Methods that perturb a layer through forward hooks (unavailable where hooks cannot reach layers).
HOOK_METHODS = _methods.HOOK_METHODS
NO_HOOKS_REASON = (
    "its layers cannot take forward hooks (a TorchScript module runs as one compiled program); "
    "only methods that need no hooks (transform) work on it"
)


@dataclass(eq=False)
class UQModel:
    """An image-to-image regressor with what the engine needs to know about it.

    module:   the network; takes float32 [B, C, H, W] (images in [0, 1]) and returns
              [B, C', H*scale, W*scale]. For ``output="mean_logvar"`` the channels are the
              mean followed by the log-variance, split in half.
    members:  for a deep ensemble, the member networks (``module`` is the first one).
    hookable: False where forward hooks cannot reach the layers (TorchScript): the hook-based
              methods (noise, dropout, mc_dropout) are then not offered.
    disabled_methods: method -> reason, for methods this model must not offer; ``methods``
              leaves them out, so ``estimate`` refuses them.
    student:  an attached student head (:mod:`uqcore.student`: ``uqcore.attach_student`` or
              ``load_model(..., student=PATH)``), which ``estimate(method="student")`` runs in the
              same forward pass as the prediction; None without one. ``student_card``: its card.
    depth_kind: "metric" (depth in the target's units), "relative" (depth up to scale and shift)
              or "disparity" (inverse depth up to scale and shift): the scorer aligns a non-metric
              prediction to each target before every error-based metric
              (:mod:`uqcore.metrics.alignment`). Only meaningful for task "depth".
    source:   how to load this model again in another process (set by ``load_model`` /
              ``load_user_model``: the loader and its arguments, paths made absolute); None for a
              model built in memory (``wrap``). Ray workers load their model from it
              (:mod:`uqcore.distributed`); a module is never pickled and sent.
    """

    module: nn.Module
    task: str = "image"
    scale: int = 1
    name: str = "custom"
    output: str = "mean"
    members: list[nn.Module] = field(default_factory=list)
    in_channels: int = 3
    card: dict[str, Any] = field(default_factory=dict)
    probe_size: tuple[int, int] = (32, 32)
    hookable: bool = True
    disabled_methods: dict[str, str] = field(default_factory=dict)
    depth_kind: str = "metric"
    source: dict[str, Any] | None = field(default=None, repr=False)
    student: Any = field(default=None, repr=False)
    student_card: dict[str, Any] = field(default_factory=dict, repr=False)
    _copies: dict[str, list[nn.Module]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InputError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.output not in OUTPUTS:
            raise InputError(f"output must be one of {OUTPUTS}, got {self.output!r}")
        if int(self.scale) < 1:
            raise InputError(f"scale must be a positive integer, got {self.scale!r}")
        self.scale = int(self.scale)
        check_kind(self.depth_kind)
        if self.depth_kind != "metric" and self.task != "depth":
            raise InputError(f"depth_kind={self.depth_kind!r} is for depth models; this model's task is {self.task!r}")
        self.disabled_methods = dict(self.disabled_methods)
        if not self.hookable:
            for method in HOOK_METHODS:
                self.disabled_methods.setdefault(method, NO_HOOKS_REASON)
        if not self.members:
            self.members = [self.module]
        for member in self.members:
            member.eval()

    # -- what the model supports -------------------------------------------------------------
    @property
    def dropout_modules(self) -> list[str]:
        """Dotted names of the model's own dropout layers (used by ``mc_dropout``)."""
        return [n for n, m in self.module.named_modules() if isinstance(m, DROPOUT_TYPES)]

    @property
    def methods(self) -> list[str]:
        """The estimation methods that make sense for this model, in display order."""
        has = {
            None: True,
            _methods.NEEDS_DROPOUT_LAYERS: bool(self.dropout_modules),
            _methods.NEEDS_MEMBERS: len(self.members) > 1,
            _methods.NEEDS_VARIANCE_HEAD: self.output == "mean_logvar",
            _methods.NEEDS_STUDENT: self.student is not None,
        }
        return [s.name for s in _methods.SPECS if has[s.requires] and s.name not in self.disabled_methods]

    @property
    def device(self) -> torch.device:
        for p in self.module.parameters():
            return p.device
        return torch.device("cpu")

    @property
    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    # -- per-device copies -------------------------------------------------------------------
    def members_on(self, device: torch.device) -> list[nn.Module]:
        """The member networks on ``device``; copies are made once and kept (thread-safe)."""
        device = torch.device(device)
        if _same_device(self.device, device):
            return self.members
        key = str(device)
        with self._lock:
            if key not in self._copies:
                self._copies[key] = [copy.deepcopy(m).to(device).eval() for m in self.members]
            return self._copies[key]

    def module_on(self, device: torch.device) -> nn.Module:
        return self.members_on(device)[0]

    def split_output(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(mean, logvar) for ``mean_logvar`` models, (out, None) otherwise."""
        if self.output == "mean_logvar":
            half = out.shape[1] // 2
            return out[:, :half], out[:, half:]
        return out, None


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    if a.type == "cuda":
        return (a.index or 0) == (b.index or torch.cuda.current_device())
    return True


def wrap(
    module: nn.Module,
    task: str = "sr",
    scale: int = 1,
    *,
    name: str = "custom",
    output: str = "mean",
    members: list[nn.Module] | None = None,
    in_channels: int = 3,
    card: dict[str, Any] | None = None,
    probe_size: tuple[int, int] = (32, 32),
    depth_kind: str = "metric",
) -> UQModel:
    """Wrap any ``nn.Module`` for the engine. Puts it (and any members) in eval mode.

    ``depth_kind`` (task "depth"): "metric", "relative" (depth up to scale and shift) or
    "disparity" (inverse depth up to scale and shift); non-metric predictions are aligned to the
    target by least squares before scoring (:mod:`uqcore.metrics.alignment`)."""
    if not isinstance(module, nn.Module):
        raise InputError(f"wrap() needs a torch.nn.Module, got {type(module).__name__}")
    return UQModel(
        module=module,
        task=task,
        scale=scale,
        name=name,
        output=output,
        members=list(members or []),
        in_channels=in_channels,
        card=dict(card or {}),
        probe_size=tuple(probe_size),
        depth_kind=depth_kind,
    )


def as_model(model: Any) -> UQModel:
    """``model`` itself if it is a UQModel; a plain ``nn.Module`` wrapped as a generic image model."""
    if isinstance(model, UQModel):
        return model
    if isinstance(model, nn.Module):
        return wrap(model, task="image")
    raise InputError(f"expected a uqcore model (uqcore.load_model / uqcore.wrap), got {type(model).__name__}")


# -- identity -------------------------------------------------------------------------------------
_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def fingerprint(model: Any) -> str:
    """A short digest of the model's weights and buffers (every ensemble member, by name, dtype,
    shape and bytes), which identifies a model independently of its name or path: what a
    calibration records and what a resumed run (:mod:`uqcore.distributed`) must match. Cached per
    model until a tensor changes (``_version``)."""
    model = as_model(model)
    members = model.members
    versions = tuple(t._version for m in members for t in m.state_dict(keep_vars=True).values())
    cached = _FINGERPRINTS.get(members[0])
    if cached is not None and cached[0] == versions:
        return cached[1]
    h = hashlib.blake2b(digest_size=8)
    for m in members:
        for name, t in sorted(m.state_dict().items()):
            h.update(name.encode())
            h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
            h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    digest = h.hexdigest()
    _FINGERPRINTS[members[0]] = (versions, digest)
    return digest


def model_identity(model: Any) -> dict[str, Any]:
    """What a calibration (and a run's ``run.json``) records about its model: name, task, scale,
    weights :func:`fingerprint`."""
    model = as_model(model)
    return {"name": model.name, "task": model.task, "scale": model.scale, "fingerprint": fingerprint(model)}


def checked_forward(module: nn.Module, x: torch.Tensor, check_values: bool = True) -> torch.Tensor:
    """Run ``module(x)``; any failure of the model's own code, or an unusable output, becomes a
    ModelRunError (an InputError) with a message for the user instead of a crash.
    ``check_values=False`` leaves the NaN/infinity check to the caller (a GPU sampling loop
    checks its streamed moments once at the end rather than wait for the device every chunk)."""
    try:
        out = module(x)
    except (InputError, torch.cuda.OutOfMemoryError):
        raise
    except Exception as exc:  # the model's own code failed: report it, do not crash the caller
        raise ModelRunError(
            f"the model's forward pass failed on a {x.shape[-2]}×{x.shape[-1]} input: "
            f"{type(exc).__name__}: {exc}. Check the model accepts this input size and channels."
        ) from exc
    if not isinstance(out, torch.Tensor):
        raise ModelRunError(f"the model returned {type(out).__name__}; it must return one image tensor")
    if out.dim() != 4:
        raise ModelRunError(f"the model returned shape {tuple(out.shape)}; expected [B, C, H, W]")
    # one pass: a non-finite value makes the sum non-finite (the full check only runs then, so a
    # sum that overflows on finite values does not count)
    if check_values and not torch.isfinite(out.sum()) and not torch.isfinite(out).all():
        raise ModelRunError(NON_FINITE)
    return out


NON_FINITE = "the model produced NaN or infinite values for this input"

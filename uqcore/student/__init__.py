"""The one-pass student: a small head on the frozen network, distilled from a
training-free teacher on unlabeled images, that predicts the teacher's per-pixel variance in the
same forward pass as the prediction.

* :mod:`uqcore.engine.student_head` -- ``StudentHead`` (the convolutions), ``HeadConfig``, feature
  capture: what runs in ``estimate(method="student")``, so it lives in the engine, below this package;
* :mod:`uqcore.models.student_files` -- ``save_student`` / ``load_student`` (safetensors + JSON card),
  ``attach_student`` (with the fit check), the bundled heads' naming: the models layer's, so
  ``load_model`` attaches a bundled head without importing this package;
* :mod:`uqcore.student.train` -- ``distill()`` (teacher samples through ``uqcore.estimate``,
  Gaussian / Laplace NLL around the frozen prediction, colour jitter, checkpoints, resume);
* the command ``python -m uqcore distill`` is :mod:`uqcore.commands.distill`.

Names are resolved on first use, so importing one submodule does not import the others.

The API the dashboard calls (also exported from ``uqcore``)::

    result = uqcore.distill(model, images, out=None, *, steps=1000, crop=32, batch=4, samples=None,
                            teacher=None, layer=None, strength=None, loss="gaussian", rank_weight=0.0,
                            error_weight=0.0, seed=0, ckpt=None, ckpt_every=0, resume=False, threads=None,
                            device="cpu", progress=False, on_step=None, should_stop=None, card=None)
    # images: a folder, paths, or images in [0, 1] ([3, H, W] / [H, W, 3]); SR: treated as HR photos
    # and degraded like evaluate does. on_step(step, steps, smoothed_loss); should_stop() -> True ends
    # the run early (result.stopped, result.steps_done). result.head, result.card, result.path.
    uqcore.attach_student(model, result.head, result.card)    # or a .safetensors path; InputError if it does not fit
    model = uqcore.load_model(name, student=PATH | None | False)   # None: the bundled head if any
    model.student, model.student_card                             # the attached head and its card
    uqcore.student.default_teacher(model), uqcore.student.default_feature_layers(model)
    uqcore.student.save_student(result.head, path, result.card); uqcore.student.read_card(path)
    # CLI line to show: python -m uqcore distill --model M --images DIR --out head.safetensors
"""

from __future__ import annotations

from uqcore.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "uqcore.engine.student_head": [
        "StudentHead", "HeadConfig",
    ],
    "uqcore.models.student_files": [
        "save_student", "load_student", "attach_student", "read_card",
    ],
    "uqcore.student.train": [
        "distill", "default_feature_layers", "default_teacher", "DistillResult",
    ],
})

"""The engine: one ``estimate`` call on one model, bottom-up.

* :mod:`~uqcore.engine.methods` -- the one table of method specs (nothing else spells out method names) and
  the registry of the method objects (``register_method``);
* :mod:`~uqcore.engine.model` -- ``UQModel`` / ``wrap`` / ``as_model`` / ``checked_forward`` (the model wrapper);
* :mod:`~uqcore.engine.hooks` -- the one place forward hooks are registered (removed in ``finally``);
* :mod:`~uqcore.engine.positions`, :mod:`~uqcore.engine.perturb` -- position-keyed draws; transforms,
  feature noise / dropout;
* :mod:`~uqcore.engine.moments` -- streaming mean / variance and split-half reliability;
* :mod:`~uqcore.engine.layers` -- injection points (``list_layers``), default layers;
* :mod:`~uqcore.engine.receptive`, :mod:`~uqcore.engine.tiling`, :mod:`~uqcore.engine.memory` -- receptive
  field, regions and tiles, the memory plan;
* :mod:`~uqcore.engine.request`, :mod:`~uqcore.engine.estimate` -- the call's checked arguments and
  ``Estimate`` result; ``estimate()`` itself (``uqcore.estimate``) and the method objects it calls
  (``UncertaintyMethod``, one subclass per sampling routine).

Import the submodules themselves: this package exports no names, so a submodule is never shadowed by
a function of the same name (``uqcore.engine.estimate`` is the module, ``uqcore.estimate`` the function).
"""

"""Training the bundled models: :mod:`~uqcore.training.sr`, :mod:`~uqcore.training.depth` (data, one
step, checkpoint / resume, the weights' card metadata; each with its ``configure_parser`` / ``run``),
:mod:`~uqcore.training.common` (what both share). The command is :mod:`uqcore.commands.train`
(``python -m uqcore train {sr,depth} ...``)."""

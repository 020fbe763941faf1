"""One module per ``python -m uqcore`` command, each with ``configure_parser(parser)`` and ``run(args)``:
``evaluate``, ``calibrate``, ``sweep``, ``layers``, ``map``, ``distill``, ``train``, ``make_scenes``
(``make-scenes``), ``reproduce``. :mod:`uqcore.cli` holds the command table and dispatches; nothing
below this package imports it.
"""

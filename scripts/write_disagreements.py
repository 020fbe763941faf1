"""Write ``disagreements.csv`` (every table cell whose 95 % interval excludes the paper's value)
from a ``results_per_image.csv`` of a reproduce run, without rerunning it.

    .venv/bin/python scripts/write_disagreements.py docs/results_per_image.csv   # -> docs/disagreements.csv

``python -m uqcore reproduce`` writes the same file beside its ``--out``; the rows and their
definition: :mod:`uqcore.paper.disagreement_rows`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uqcore.paper.disagreement_rows import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

"""Copy the student ablations printed by ``check_students.py --head`` into a bundled head's card.

    python scripts/record_ablations.py MODEL LOG VARIANT=HEAD ...

LOG holds the output of ``python scripts/check_students.py --models MODEL --head HEAD`` for each
HEAD (each run preceded by a line "== <that command>"); each HEAD's card gives its distill command.
The card's ``ablations`` are rendered by ``uqcore.paper.student`` in docs/RESULTS.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from uqcore.models.registry import MODELS_DIR  # noqa: E402
from uqcore.models.student_files import card_path, read_card  # noqa: E402

KEYS = ("corr_pixel", "corr_mean", "ause_pixel")


def parse(log: str) -> dict[str, dict]:
    """{head path: {"student": {...}, "ratio": {...}, "check": command}} from the log."""
    out, head = {}, None
    for line in log.splitlines():
        if line.startswith("== "):
            head = line.split("--head ")[-1].strip()
            out[head] = {"check": line[3:].strip()}
        elif head and line.split()[1:2] in (["student"], ["ratio"]):
            kind, values = line.split()[1], [float(v) for v in line.split()[2:5]]
            out[head][kind] = dict(zip(KEYS, values))
    return out


def main() -> int:
    model, log, pairs = sys.argv[1], Path(sys.argv[2]).read_text(), sys.argv[3:]
    runs = parse(log)
    rows = []
    for pair in pairs:
        variant, head = pair.split("=", 1)
        rows.append({"variant": variant, "head": head, "command": read_card(head)["command"], **runs[head]})
    path = card_path(MODELS_DIR / f"{model}.student.safetensors")
    card = json.loads(path.read_text())
    card["ablations"] = rows
    path.write_text(json.dumps(card, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

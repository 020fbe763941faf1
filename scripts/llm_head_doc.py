"""Write srresnet-llm-head's candidate table and unseen-photo line into docs/MODELS.md from its card
(the numbers of scripts/select_llm.py --target srresnet-llm-head --write and
scripts/check_unseen.py --models srresnet-llm-head --write-card).

    .venv/bin/python scripts/llm_head_doc.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CARD = ROOT / "assets" / "models" / "srresnet-llm-head.json"
DOC = ROOT / "docs" / "MODELS.md"


def candidate_table(sel: dict) -> str:
    ref = sel["reference"]["psnr"]
    lines = ["| candidate | validation PSNR (dB) | vs srresnet | NLL | Corr pixel | training (steps, s, threads) |",
             "|---|---|---|---|---|---|"]
    for c in sel["candidates"]:
        t = c["training"]
        threads = t["hardware"].rsplit("threads=", 1)[-1]
        name = c["name"] + (" (**chosen**)" if c["name"] == sel["chosen"] else "")
        lines.append(f"| {name} | {c['psnr']:.2f} | {c['psnr'] - ref:+.2f} | {c['nll']:.3f} | {c['corr_pixel']:.3f} | "
                     f"{t['steps']}, {t['train_seconds']:.0f} s, {threads} |")
    return "\n".join(lines) + (f"\n\nValidation numbers of `{' '.join(w for w in sel['command'].split() if w != '--write')}` "
                               f"(srresnet: {ref:.2f} dB on the same {len(sel['data'])} images); seconds: wall "
                               "time of the training steps on the shared 2-core machine, from its weights file.")


def unseen_line(u: dict) -> str:
    return (f"pixel correlation of the variance with its own error {u['corr_pixel_mean']:.3f} (bar: ≥ 0.25), PSNR "
            f"{u['psnr_mean']:.2f} dB against {u['reference']}'s {u['reference_psnr_mean']:.2f} dB on the same "
            f"{len(u['per_image'])} crops (bar: within 0.5 dB).")


def replace(doc: str, name: str, text: str) -> str:
    """The text between ``<!-- name -->`` and ``<!-- /name -->`` replaced by ``text``."""
    open_, close = f"<!-- {name} -->", f"<!-- /{name} -->"
    return re.sub(re.escape(open_) + ".*?" + re.escape(close), lambda _: f"{open_}\n{text}\n{close}", doc, flags=re.S)


def main() -> None:
    card = json.loads(CARD.read_text())
    doc = replace(DOC.read_text(), "llm-head:candidates", candidate_table(card["selection"]))
    DOC.write_text(replace(doc, "llm-head:unseen", unseen_line(card["unseen_check"])))


if __name__ == "__main__":
    main()

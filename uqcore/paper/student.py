"""The report's "One-pass student" section: the bundled student heads' quality bars against their teachers.

The numbers are those ``python -m uqcore quality students --write`` stored in each bundled head's card
(``measured.quality``): the head's teacher at 8 samples and the head itself, scored by
``uqcore.evaluate`` (the one scorer) on decision images (:mod:`uqcore.paper.quality`: the held-out
images of :mod:`uqcore.paper.heldout`, neither training data nor the evaluation samples)."""

from __future__ import annotations

from typing import Any

from uqcore.models.registry import model_dirs
from uqcore.paper.discussion import fmt
from uqcore.models.student_files import bundled_head, read_card

BARS = (("corr_pixel", "Corr pixel", "≥ 1.0×"), ("corr_mean", "Corr mean", "≥ 0.9×"),
        ("ause_pixel", "AUSE pixel", "≤ 1.05×"))


def head_cards(names: list[str]) -> dict[str, dict[str, Any]]:
    """{model: its bundled head's card} for the models of ``names`` that have one."""
    cards = {}
    for name in names:
        for folder in model_dirs():
            head = bundled_head(folder, name)
            if head is not None:
                cards[name] = read_card(head)
                break
    return cards


def markdown_lines(models: list[str]) -> list[str]:
    """The section, or nothing when no model of ``models`` has a head with measured quality."""
    cards = {n: c for n, c in head_cards(models).items() if c.get("quality")}
    if not cards:
        return []
    command = next(iter(cards.values()))["quality"].get("command", "python -m uqcore quality students --write")
    L = ["## One-pass student", "",
         "A small head on the frozen network (`uqcore.student`), distilled from a training-free teacher on the "
         "project's training images (no labels, never these samples), predicts the teacher's variance in the same "
         "forward pass as the prediction. Teacher at 8 samples vs the student on the decision images (the held-out "
         "images of `uqcore.paper.heldout`: neither training data nor the evaluation samples), "
         f"scored by `uqcore.evaluate`; written by `{command}` into each head's card (`quality`). Bars: "
         + ", ".join(f"{label} {bar} the teacher's" for _, label, bar in BARS) + ". The super-resolution heads add a "
         "ranking term against the model's actual error on each training crop (`--error-weight`: an SR training photo "
         "is its own ground truth, so this needs no labels beyond the photos); the ablations show what distillation "
         "from the teacher alone reaches.", "",
         "| model | teacher (8) | training | " + " | ".join(f"{label} teacher / student (ratio)" for _, label, _ in BARS)
         + " | s / image teacher / student |",
         "|---|---|---|" + "---:|" * (len(BARS) + 1)]
    for name, card in cards.items():
        q = card["quality"]
        cells = [f"`{name}`", q.get("teacher_setting", "–"), _training(card)]
        for key, _, _ in BARS:
            ok = "" if q["bars"][key] else " **missed**"
            cells.append(f"{fmt(q['teacher'][key])} / {fmt(q['student'][key])} ({q['ratio'][key]:.2f}×){ok}")
        cells.append(f"{q['teacher']['seconds_per_image']:.3f} / {q['student']['seconds_per_image']:.3f}")
        L.append("| " + " | ".join(cells) + " |")
    L += [""]
    for name, card in cards.items():
        L += ablation_lines(name, card.get("ablations") or [])
    return L


def _training(card: dict[str, Any]) -> str:
    """How a head was trained, in a few words: steps, images, loss and the extra terms."""
    t, st = card.get("training", {}), card.get("settings", {})
    words = f"{t.get('steps', '–')} steps, {t.get('images', '–')} images, {st.get('loss', '–')} NLL"
    if st.get("rank_weight"):
        words += f" + {st['rank_weight']:g}× ranking vs the teacher"
    if st.get("error_weight"):
        words += f" + {st['error_weight']:g}× ranking vs the actual error"
    return words


def ablation_lines(name: str, rows: list[dict[str, Any]]) -> list[str]:
    """The head's ablations recorded in its card: one row per training variant, the student's
    numbers and their ratio to the teacher's on the evaluation samples (``student``, ``ratio``; "–"
    for a variant not scored there) and, for rows that have it, the pixel-correlation ratio on the
    held-out images of ``uqcore.paper.heldout`` (``validation``), each with the commands
    that produced it."""
    if not rows:
        return []
    val = any("validation" in r for r in rows)
    L = [f"Ablations for `{name}` (same scorer and samples; each variant trained with its `distill` command, scored "
         "with `python -m uqcore quality students --models MODEL --head HEAD`"
         + ("; validation: the held-out images of `uqcore.paper.heldout`, which chose the variant" if val else "") + "):", "",
         "| variant | " + ("validation Corr pixel (ratio) | " if val else "")
         + " | ".join(f"{label} (ratio)" for _, label, _ in BARS) + " | distill command |",
         "|---|" + "---:|" * (len(BARS) + val) + "---|"]
    for r in rows:
        cells = [r["variant"]]
        if val:
            v = r.get("validation")
            cells.append(f"{fmt(v['student']['corr_pixel'])} ({v['ratio']['corr_pixel']:.2f}×)" if v else "–")
        cells += [f"{fmt(r['student'][k])} ({r['ratio'][k]:.2f}×)" if "student" in r else "–" for k, _, _ in BARS]
        L.append("| " + " | ".join(cells) + f" | `{r['command']}` |")
    return L + [""]

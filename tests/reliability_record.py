"""Collects what the reliability tests observe; tests/conftest.py writes docs/RELIABILITY.md."""

from __future__ import annotations

from pathlib import Path

RECORD: list[dict] = []
DOC = Path(__file__).resolve().parents[1] / "docs" / "RELIABILITY.md"


def record(area: str, case: str, outcome: str) -> None:
    RECORD.append(dict(area=area, case=case, outcome=" ".join(str(outcome).split())))


def write() -> None:
    """Rewrite the record only after a run that covered both the core and the app (a partial run,
    e.g. one test file, would otherwise replace the full record with a fragment)."""
    app_areas = {r["area"] for r in RECORD if "(AppTest)" in r["area"]}
    if not app_areas or len(app_areas) == len({r["area"] for r in RECORD}):
        return
    lines = [
        "# Reliability record",
        "",
        "Written by the test suite (`tests/test_reliability.py`, `tests/app/test_reliability_app.py`; run "
        "`bash scripts/test.sh`): every row is what a test observed on its last run.",
        "",
    ]
    for area in dict.fromkeys(r["area"] for r in RECORD):
        lines += [f"## {area}", "", "| case | what happened |", "|---|---|"]
        lines += [f"| {r['case']} | {r['outcome'].replace('|', '/')} |" for r in RECORD if r["area"] == area]
        lines.append("")
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text("\n".join(lines))

"""Collects what the reliability tests observe. Nothing is written during an ordinary test run:
``bash scripts/test.sh reliability`` runs the reliability tests with
``--reliability-record docs/RELIABILITY.md`` and only then is the record written."""

from __future__ import annotations

from pathlib import Path

RECORD: list[dict] = []
DOC = Path(__file__).resolve().parents[1] / "docs" / "RELIABILITY.md"
COMMAND = "bash scripts/test.sh reliability"


def record(area: str, case: str, outcome: str) -> None:
    RECORD.append(dict(area=area, case=case, outcome=" ".join(str(outcome).split())))


def render() -> str | None:
    """The record as markdown, or None after a run that did not cover both the core and the app
    (a partial run, e.g. one test file, would otherwise replace the full record with a fragment)."""
    app_areas = {r["area"] for r in RECORD if "(AppTest)" in r["area"]}
    if not app_areas or len(app_areas) == len({r["area"] for r in RECORD}):
        return None
    lines = [
        "# Reliability record",
        "",
        f"Written by `{COMMAND}` (it runs `tests/test_reliability.py` and "
        "`tests/app/test_reliability_app.py`; an ordinary test run writes nothing): every row is what a "
        "test observed on its last run.",
        "",
    ]
    for area in dict.fromkeys(r["area"] for r in RECORD):
        lines += [f"## {area}", "", "| case | what happened |", "|---|---|"]
        lines += [f"| {r['case']} | {r['outcome'].replace('|', '/')} |" for r in RECORD if r["area"] == area]
        lines.append("")
    return "\n".join(lines)


def write(path: str | Path) -> bool:
    """Write the record to ``path`` (only ever called with ``--reliability-record PATH``)."""
    text = render()
    if text is None:
        return False
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def write_if_asked(config) -> bool:
    """At the end of a pytest session: write the record only when asked to (``--reliability-record PATH``)."""
    target = config.getoption("--reliability-record")
    return bool(target) and write(target)

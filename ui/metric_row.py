"""A row of metrics as one HTML element: label, value and (as a tooltip) what it means.

The metrics row of a result has a dozen cells; as ``st.metric`` elements each is a React
component with its own markdown label and tooltip, and drawing them was a large part of the
browser's work on Explore's first view (benchmarks/bench_page.py). One HTML block draws the
same cells in a fraction of that. Each cell is ``.uq-metric`` with ``.uq-metric-label`` and
``.uq-metric-value`` (what the browser tests read).
"""

from __future__ import annotations

from html import escape

import streamlit as st

STYLE = """<style>
.uq-metrics{display:flex;flex-wrap:wrap;gap:0.4rem 1rem;margin:0.2rem 0 0.6rem 0}
.uq-metric{min-width:%dpx}
.uq-metric-label{font-size:0.875rem;opacity:0.75;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.uq-metric-label[title]{text-decoration:underline dotted;cursor:help}
.uq-metric-value{font-size:1.6rem;line-height:1.3;white-space:nowrap}
</style>"""


def metric_row(cells: list[tuple[str, ...]], width: int = 140) -> None:
    """``cells``: (label, value) or (label, value, help) each; drawn wrapping into rows."""
    parts = []
    for label, value, *tip in cells:
        title = f' title="{escape(tip[0])}"' if tip and tip[0] else ""
        parts.append(f'<div class="uq-metric"><div class="uq-metric-label"{title}>{escape(label)}</div>'
                     f'<div class="uq-metric-value">{escape(str(value))}</div></div>')
    st.html(STYLE % width + '<div class="uq-metrics">' + "".join(parts) + "</div>")

"""Keeps Streamlit's collection after every script run cheap on the dashboard's server.

Streamlit runs a full garbage collection after each script run (``runner.postScriptGC``), which
frees the reference cycles a run leaves behind (a run stopped for a rerun keeps its frames, and
their tensors, alive in a traceback). A full collection walks every object the collector tracks:
with torch, plotly and scipy loaded, over 100,000 objects that live as long as the process, on
every rerun. After the first whole run they are frozen (``gc.freeze``): later collections walk
only what was made since, and still free what a run leaves (docs/BENCHMARKS.md, "Test suite").
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_frozen = False


def freeze_long_lived_objects() -> None:
    """Once per process: collect what is garbage now, then move every surviving object out of
    the collector's reach (the imported modules, the shared model cache, ...)."""
    global _frozen
    with _lock:
        if _frozen:
            return
        gc.collect()
        gc.freeze()
        _frozen = True

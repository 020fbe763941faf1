"""The dashboard server's garbage collection (ui.garbage): after the first whole run, Streamlit's
collection after every run walks only the objects made since, and still frees the cycles a run
leaves. In a fresh interpreter, so that this test process is not frozen."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.app.apptest_support import ROOT

SCRIPT = textwrap.dedent("""
    import gc, weakref
    import torch, plotly.graph_objects, streamlit  # what a server holds for its lifetime
    from ui import garbage

    garbage.freeze_long_lived_objects()
    frozen = gc.get_freeze_count()
    garbage.freeze_long_lived_objects()  # once per process
    assert gc.get_freeze_count() == frozen > 100_000, frozen
    walked = len(gc.get_objects())  # what a full collection walks now
    assert walked < frozen / 20, (walked, frozen)

    class Frame: pass
    cycle = Frame(); cycle.self = cycle; cycle.tensor = torch.zeros(1000)
    gone = weakref.ref(cycle)
    del cycle
    gc.collect(2)  # Streamlit's collection after a run
    assert gone() is None
    print("ok", frozen, walked)
""")


def test_after_the_freeze_a_collection_walks_only_new_objects_and_frees_new_cycles():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")


def test_the_app_freezes_after_its_page_runs():
    lines = (ROOT / "app.py").read_text().splitlines()
    run = next(i for i, line in enumerate(lines) if line.startswith(").run()"))
    assert "garbage.freeze_long_lived_objects()" in lines[run + 1:]

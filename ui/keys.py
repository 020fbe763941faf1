"""The session-state keys that more than one dashboard module reads, named once.

Keys owned by one module (the setting in :mod:`ui.state`, the Models page's student messages in
:mod:`ui.student`) stay there.
"""

from __future__ import annotations

CUSTOM_MODELS = "custom_models"    # name -> the session's own UQModel (uploaded on the Models page)
LAST_MODEL = "last_model"          # task -> the model chosen last for it
# name -> this session's copy of the model with a student head of its own (ui.student); the
# cached model itself is shared by every session and never gets one attached.
STUDENT_MODELS = "student_models"
STUDENT_TOKENS = "student_tokens"  # name -> an id of that head (part of result keys)
# The result stores: results, and figures drawn from them (a figure is about 0.65 MB).
RESULTS, FIGURES = "_results", "_figures"
STOPPED = "_stopped"    # the key of the run the user stopped
PARTIAL = "_partial"    # (key, what that run had so far)
RUN_NOW = "_run_now"    # the key "Run to the end" asked for

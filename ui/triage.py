"""The Dataset page's glue: the images to rank (uploads kept in the session, a .zip included, or a
server folder where this server allows local paths), the ranking run (``uqcore.datasets.triage``)
under a Stop button, the gallery's pictures, downloads, and the hand-off of one image to Explore.

A run keeps its units in a folder of its own (``runs_folder()/<key>``, the core's store), so a Stop
keeps every finished row and "Run to the end" continues from them instead of starting again. The
folders live in a temporary folder of this server process.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

import uqcore
from ui import inputs, model_cache, result_cache, run_control, state
from uqcore import limits
from uqcore.datasets import triage as T
from uqcore.datasets import triage_report as R
from uqcore.distributed import Store

UPLOADS = "dataset_uploads"  # slot ("images" / "truth") -> [inputs.Upload]
SOURCES = {"upload": "Upload images (or a .zip)", "folder": "Folder on the server"}
OPTIONS, DEFAULTS = "dataset_page", dict(source="upload", folder="", truth_folder="")  # the page's own store


@st.cache_resource
def runs_folder() -> Path:
    """This server process's folder of runs (a new server starts with none)."""
    return Path(tempfile.mkdtemp(prefix="uqcore-dataset-runs-"))


def local_allowed() -> bool:
    """Server folders read the server's disk: allowed as model paths are (UQCORE_ALLOW_LOCAL_MODELS,
    else only while the server listens on loopback)."""
    return limits.allow_local_models(limits.is_loopback(st.get_option("server.address")))


def _keep(slot: str, key: str) -> None:
    """Uploader callback: keep the files beyond the widget's life (and across pages)."""
    kept, errors = [], []
    for file in st.session_state.get(key) or []:
        try:
            if not file.name.lower().endswith(".zip"):
                run_control.check_upload(file, limits.IMAGE_UPLOAD_MB, "images")
            kept.append(inputs.Upload(file.name, file.getvalue()))
        except uqcore.InputError as exc:
            errors.append(str(exc))
    st.session_state.setdefault(UPLOADS, {})[slot] = kept
    st.session_state[f"{key}_error"] = "; ".join(errors) or None


def _uploader(label: str, slot: str, help_text: str) -> list[inputs.Upload]:
    key = f"ds_up_{slot}"
    st.file_uploader(label, type=[*inputs.IMAGE_TYPES, "npy", "zip"], accept_multiple_files=True, key=key,
                     on_change=_keep, args=(slot, key), help=help_text)
    if st.session_state.get(f"{key}_error"):
        st.error(st.session_state[f"{key}_error"], icon="⚠️")
    kept = st.session_state.get(UPLOADS, {}).get(slot) or []
    if kept and not st.session_state.get(key):
        st.caption(f"Using the {len(kept)} file(s) uploaded earlier; upload others to replace them.")
    return kept


def pick_items(model: uqcore.UQModel) -> list[T.Item]:
    """The source widgets, then the images to rank; stops the page while there are none."""
    options = st.session_state[state.page_store(OPTIONS, DEFAULTS)]
    choices = list(SOURCES) if local_allowed() else ["upload"]
    if options["source"] not in choices:
        options["source"] = "upload"
    state.bound(st.radio, "Images", "source", store=OPTIONS, options=choices, format_func=SOURCES.get, horizontal=True)
    truth_what = "HR images" if model.task == "sr" else "depth maps (16-bit PNG in mm or .npy in m)"
    try:
        if options["source"] == "folder":
            left, right = st.columns(2)
            folder = state.bound(left.text_input, "Folder of images on the server", "folder", store=OPTIONS)
            truth = state.bound(right.text_input, f"Ground truth folder (optional): {truth_what}", "truth_folder",
                                store=OPTIONS)
            if not folder.strip():
                st.info("Enter a folder of images on this server.")
                st.stop()
            return T.folder_items(folder.strip(), truth.strip() or None)
        left, right = st.columns(2)
        with left:
            images = _uploader("Images to rank (model inputs), or a .zip of them", "images",
                               "Many files at once; a .zip counts as its images.")
        with right:
            truth = _uploader(f"Ground truth (optional): {truth_what}, named as the inputs", "truth",
                              "Adds each image's error, the image-level sparsification curve and its Spearman.")
        if not images:
            st.info("Upload the images to rank (or a .zip of them); ground truth is optional.")
            st.stop()
        return T.upload_items([(u.name, u.data) for u in images], [(u.name, u.data) for u in truth])
    except uqcore.InputError as exc:
        run_control.show_error(exc)
        st.stop()


def setting_of(args: dict[str, Any]) -> T.Setting:
    return T.Setting(method=args["method"], layer=args["layer"], strength=args["strength"], samples=args["samples"],
                     seed=args["seed"])


def run_key(model_name: str, setting: T.Setting, items: list[T.Item]) -> str:
    files = [(i.name, T.source_digest(i.source), T.source_digest(i.truth)) for i in items]
    return result_cache.digest("triage", model_name, model_cache.head_token(model_name), setting, files)


def rank(model: uqcore.UQModel, items: list[T.Item], setting: T.Setting, key: str, report, progress) -> list[dict]:
    """Every image's row (``compute`` of ``run_control.run_on_click``); ``report`` gets the rows
    so far after each image, so a Stop keeps them."""
    rows: list[dict] = []

    def on_row(row: dict) -> None:
        rows.append(row)
        report(list(rows))

    folder = runs_folder() / key[:24]
    T.rank_images(model, items, setting, store=Store(folder / "run", folder / "triage.csv"), resume=True,
                  progress=progress, on_row=on_row)
    return rows


def csv_bytes(key: str) -> bytes:
    """The run's CSV as the core's store wrote it (finished rows; name order once the run is over)."""
    path = runs_folder() / key[:24] / "triage.csv"
    return path.read_bytes() if path.is_file() else b""


def report_html(ranking: T.Ranking, truth: T.Truth | None, model_name: str) -> str:
    numbers = R.summary(ranking, ranking.rows, None, truth)
    return R.report_html(numbers, ranking.rows, truth, None, {"model": model_name, "ranked by": ranking.setting.text()})


def pictures(rows: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(input, map) thumbnails of ``rows``; the maps on one colour scale (the report's)."""
    zmax = R.map_scale(rows)
    return [(np.asarray(r["thumb_image"]), R.map_thumbnail(r, zmax)) for r in rows]


def open_in_explore(item: T.Item, task: str) -> None:
    """Explore on this image, with the current (shared) model and setting: the image and its ground
    truth become Explore's uploads, as if uploaded there."""
    def upload(source: T.Source) -> inputs.Upload:
        return inputs.Upload(item.name, source.read_bytes() if isinstance(source, Path) else bytes(source))

    first, second = ("lr", "hr") if task == "sr" else ("rgb", "depth")
    kept = st.session_state.setdefault(inputs.UPLOADS, {})
    kept[first] = upload(item.source)
    if item.truth is not None:
        kept[second] = upload(item.truth)
    else:
        kept.pop(second, None)
    state.update(source="upload", region=None)
    st.switch_page("pages/explore.py")

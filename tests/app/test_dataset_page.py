"""AppTest of the Dataset page: uploads ranked by uncertainty, skipped files, the image-level curve
with ground truth, downloads, and an image handed to Explore with the same setting."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image

from tests.app.apptest_support import app, assert_clean, charts, metrics, png_bytes
from tests.support import smooth_hr
from uqcore.datasets.folders import make_lr


def png(tensor) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((tensor[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def pairs(n: int) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """n LR inputs (16×20) and their x4 HR images, named alike."""
    lrs, hrs = [], []
    for i in range(n):
        lr, hr = make_lr(smooth_hr(64, 80, seed=10 + i), 4)
        lrs.append((f"im{i}.png", png(lr)))
        hrs.append((f"im{i}.png", png(hr)))
    return lrs, hrs


def gallery_buttons(at) -> list[tuple[int, str, float]]:
    """(rank, name, mean uncertainty) of the gallery's buttons, by the rank they show."""
    found = []
    for b in at.button:
        if b.key and b.key.startswith("dataset_open_"):
            rank, name, _, mean = b.label.split(" ")
            found.append((int(rank[1:]), name, float(mean)))
    return sorted(found)


def test_dataset_page_ranks_uploads_and_hands_an_image_to_explore():
    at = app(page="pages/dataset.py")
    assert_clean(at)
    lrs, hrs = pairs(10)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:  # a zip counts as its images
        for name, data in lrs[6:]:
            z.writestr(f"more/{name}", data)
    uploads = [(n, d, "image/png") for n, d in lrs[:6]] + [("more.zip", archive.getvalue(), "application/zip"),
                                                          ("broken.png", b"not an image", "image/png")]
    at.file_uploader(key="ds_up_images").set_value(uploads).run()
    at.file_uploader(key="ds_up_truth").set_value([(n, d, "image/png") for n, d in hrs]).run()
    at.selectbox(key="method").set_value("transform").run()
    at.button(key="dataset_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = metrics(at)
    assert shown["Images ranked"] == "10" and shown["Skipped"] == "1"
    assert any("broken" in w.value and "not an image" in w.value for w in at.warning)
    buttons = gallery_buttons(at)
    assert [b[0] for b in buttons] == list(range(1, 11))
    means = [b[2] for b in buttons]
    assert means == sorted(means, reverse=True) and len(set(means)) > 1
    assert any("most uncertain images" in s.value for s in at.success)  # the sentence
    assert [t["name"].split(" ")[0] for t in charts(at)[0]["data"]] == ["estimate", "oracle", "random"]
    table = at.dataframe[0].value
    assert list(table["name"]) == [b[1] for b in buttons] and table["mean_error"].notna().all()
    assert [b.label for b in at.get("download_button")] == ["Rows (CSV)", "HTML report"]

    top = buttons[0][1]
    at.button(key="dataset_open_1").click().run()
    assert_clean(at)
    setting = at.session_state["setting"]
    assert (setting["source"], setting["method"], setting["model"]) == ("upload", "transform", "tiny-sr")
    assert at.session_state["uploads"]["lr"].name == top
    assert at.session_state["uploads"]["hr"].data == dict(hrs)[f"{top}.png"]
    assert at.title[0].value == "Explore"
    assert at.selectbox(key="method").value == "transform"


def test_server_folders_follow_the_local_paths_switch(monkeypatch, tmp_path):
    monkeypatch.setenv("UQCORE_ALLOW_LOCAL_MODELS", "0")
    at = app(page="pages/dataset.py")
    assert at.radio(key="dataset_page.source").options == ["Upload images (or a .zip)"]
    monkeypatch.setenv("UQCORE_ALLOW_LOCAL_MODELS", "1")
    folder = tmp_path / "images"
    folder.mkdir()
    for name, data in pairs(3)[0]:
        (folder / name).write_bytes(data)
    at = app(page="pages/dataset.py")
    at.radio(key="dataset_page.source").set_value("folder").run()
    at.text_input(key="dataset_page.folder").input(str(folder)).run()
    at.button(key="dataset_run").click().run()
    assert_clean(at)
    assert metrics(at)["Images ranked"] == "3"
    assert not any(c for c in charts(at))  # no ground truth: no curve


def test_depth_images_with_depth_maps_get_their_error():
    at = app("tiny-depth", "depth", page="pages/dataset.py")
    rgb, depth = [], []
    for i in range(3):
        rgb.append((f"room{i}.png", png_bytes(64, 80, seed=i), "image/png"))
        buffer = io.BytesIO()
        metres = 1.0 + np.random.default_rng(i).random((64, 80))
        Image.fromarray((metres * 1000).astype(np.uint16)).save(buffer, format="PNG")
        depth.append((f"room{i}_depth.png", buffer.getvalue(), "image/png"))
    at.file_uploader(key="ds_up_images").set_value(rgb).run()
    at.file_uploader(key="ds_up_truth").set_value(depth).run()
    at.button(key="dataset_run").click().run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert len(table) == 3 and (table["mean_error"] > 0).all()
    assert metrics(at)["Images ranked"] == "3"

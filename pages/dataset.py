"""Dataset: rank many images by uncertainty (which to check first), without ground truth; with it,
what the ranking buys (the image-level sparsification curve). An image of the gallery opens on
Explore with the same model and setting."""

from __future__ import annotations

import streamlit as st

from ui import calibration as current_cal
from ui import model_cache, run_control, session, state
from ui import triage as triage_ui
from uqcore.datasets import triage as T
from uqcore.plots import sparsification_figure

GALLERY = 16  # images shown as pictures (all of them are in the table below)
GALLERY_COLUMNS = 4

setting = session.page_setup()
model_name = setting["model"]
model = model_cache.model_for(model_name)
st.title("Dataset")
st.caption("Which images should you look at first? Each image's mean uncertainty (one number per image) ranks "
           "the set, most uncertain first: no ground truth needed. The one-pass student ranks fastest.")
items = triage_ui.pick_items(model)

choices, method_help = session.method_options(model)
state.bound(st.selectbox, "Method", "method", options=choices, help=method_help)
args = current_cal.estimate_args(model, setting)
ranking_setting = triage_ui.setting_of(args)
st.caption(f"{len(items)} image(s), ranked with {ranking_setting.text()}: the setting Explore uses "
           "(change the layer, strength or samples there).")
key = triage_ui.run_key(model_name, ranking_setting, items)


def compute(report, progress):
    return triage_ui.rank(model, items, ranking_setting, key, report, progress)


rows, complete = run_control.run_on_click("Rank images", "dataset", key, compute, progress_text="Images ranked…",
                                          partial_note="images finished")
ranking = T.ranked(rows, ranking_setting)
truth = T.truth_summary(ranking.rows)
timing = [r["seconds"] for r in ranking.rows]
cells = st.columns(4)
cells[0].metric("Images ranked", len(ranking.rows))
cells[1].metric("Skipped", len(ranking.skipped))
cells[2].metric("Seconds per image", f"{sum(timing) / len(timing):.3g}" if timing else "–")
if truth is not None:
    cells[3].metric("Spearman (uncertainty, error)", truth.spearman.text(),
                    help="Over images: mean uncertainty against mean error, with its 95 % bootstrap interval")
for skipped in ranking.skipped:
    st.warning(f"Skipped **{skipped['name']}**: {skipped['reason']}", icon=":material/block:")

if truth is not None:
    st.success(truth.sentence()[0].upper() + truth.sentence()[1:] + ".")
    st.plotly_chart(sparsification_figure(truth.curve, title=f"Image-level sparsification (AUSE {truth.ause:.4f})",
                                          x_title="fraction of images removed, most uncertain first"),
                    width="stretch", key="dataset_curve")

st.subheader("Most uncertain first")
by_name = {item.name: item for item in items}
shown = ranking.rows[:GALLERY]
grid = st.columns(GALLERY_COLUMNS)
for row, (picture, variance) in zip(shown, triage_ui.pictures(shown)):
    cell = grid[(row["rank"] - 1) % GALLERY_COLUMNS]
    cell.image([picture, variance], width=110)
    if cell.button(f"#{row['rank']} {row['name']} · {row['mean_uncertainty']:.3g}", key=f"dataset_open_{row['rank']}",
                   help="Open this image on Explore with the same model and setting"):
        triage_ui.open_in_explore(by_name[row["name"]], setting["task"])

table = [{k: r.get(k) for k in ("rank", *T.COLUMNS[:-1])} for r in ranking.rows]
st.dataframe(table, width="stretch", hide_index=True)
if len(ranking.rows) > GALLERY:
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    choice = pick.selectbox("Another image", [r["name"] for r in ranking.rows], key="dataset_pick")
    if go.button("Open on Explore", key="dataset_pick_open"):
        triage_ui.open_in_explore(by_name[choice], setting["task"])

left, right = st.columns(2)
left.download_button("Rows (CSV)", triage_ui.csv_bytes(key), f"triage_{model_name}.csv", "text/csv",
                     key="dataset_csv")
right.download_button("HTML report", lambda: triage_ui.report_html(ranking, truth, model_name),
                      f"triage_{model_name}.html", "text/html", key="dataset_html")
if not complete:
    st.caption("Stopped: the rows above are the images finished so far; Run to the end continues from them.")

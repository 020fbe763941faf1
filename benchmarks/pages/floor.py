"""The floor page for bench_page.py: one Streamlit page showing one 256×256 plotly heatmap."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

z = np.random.default_rng(0).random((256, 256)).astype(np.float32)
st.title("Floor")
st.plotly_chart(go.Figure(go.Heatmap(z=z)), key="floor")

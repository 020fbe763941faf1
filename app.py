"""uqcore dashboard: page config, session defaults, navigation. Pages live in pages/."""

import streamlit as st

from pages.glue import init_session

st.set_page_config(page_title="uqcore — where is my network unsure?", page_icon="🎯", layout="wide")
init_session()
st.navigation(
    [
        st.Page("pages/explore.py", title="Explore", icon="🔍", default=True),
        st.Page("pages/tolerability.py", title="Tolerability", icon="📈"),
        st.Page("pages/compare.py", title="Compare", icon="📊"),
        st.Page("pages/models.py", title="Models", icon="🧩"),
    ]
).run()

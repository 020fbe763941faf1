"""uqcore dashboard: page config, session defaults, navigation. Pages live in pages/."""

import streamlit as st

from pages.glue import init_session

st.set_page_config(page_title="uqcore — where is my network unsure?", page_icon=":material/blur_on:", layout="wide")
init_session()
st.navigation(
    [
        st.Page("pages/explore.py", title="Explore", icon=":material/search:", default=True),
        st.Page("pages/tolerability.py", title="Tolerability", icon=":material/show_chart:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/table_chart:"),
        st.Page("pages/models.py", title="Models", icon=":material/deployed_code:"),
    ]
).run()

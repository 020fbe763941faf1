"""uqcore dashboard: page config and navigation over pages/.

Every page starts with ``ui.session.page_setup()``: the shared sidebar drawn from the one current
setting (``ui.state``), which no widget owns, so nothing is forgotten on a page change, and the
URL mirrors it. (Pages set themselves up rather than app.py, so that each also runs alone, as
Streamlit's AppTest runs a page of a ``pages/`` folder.)
"""

import streamlit as st

from ui import garbage

st.set_page_config(page_title="uqcore — where is my network unsure?", page_icon=":material/blur_on:", layout="wide")
st.navigation(
    [
        st.Page("pages/explore.py", title="Explore", icon=":material/search:", default=True),
        st.Page("pages/tolerability.py", title="Tolerability", icon=":material/show_chart:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/table_chart:"),
        st.Page("pages/dataset.py", title="Dataset", icon=":material/photo_library:"),
        st.Page("pages/models.py", title="Models", icon=":material/deployed_code:"),
    ]
).run()
# reached once a run has imported every module its page needs (a run stopped for a rerun leaves early)
garbage.freeze_long_lived_objects()

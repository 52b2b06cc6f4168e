"""Entry point of the PGF-Net dashboard: checks the inputs, then runs the chosen page.

Start it with ``python run_dashboard.py`` (which builds the dataset when needed and
passes the paths through the environment), or ``streamlit run dashboard/app.py``.
"""

from __future__ import annotations

import logging

import streamlit as st

from dashboard import resources

logger = logging.getLogger(__name__)

# Pages carry no icons: Streamlit turns a page's Material or emoji icon into a favicon
# fetched from a CDN, and the dashboard must work without network access.
PAGES = (
    ("views/overview.py", "Overview", "overview"),
    ("views/explorer.py", "Explorer", "explorer"),
    ("views/compare.py", "Compare", "compare"),
    ("views/what_if.py", "What-if", "what-if"),
    ("views/tour.py", "Demo tour", "tour"),
    ("views/model_card.py", "Model card", "model-card"),
)


def show_missing(problems: list[resources.MissingInput]) -> None:
    """Explain each missing input and the command that provides it."""
    st.title("PGF-Net dashboard: inputs missing")
    st.write("The dashboard cannot start until these are in place:")
    for problem in problems:
        st.error("Missing input")
        st.text(problem.what)
        st.code(problem.command, language="bash")
    st.write("Then reload this page.")


def main() -> None:
    st.set_page_config(page_title="PGF-Net dashboard", layout="wide")
    config = resources.settings()
    problems = resources.missing_inputs(config)
    if problems:
        show_missing(problems)
        return
    try:
        resources.backend()
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        logger.exception("the dashboard backend failed to load")
        st.title("PGF-Net dashboard: loading failed")
        st.error("The dataset or the checkpoint could not be loaded:")
        st.code(str(error), language=None)
        st.code(f"pgfnet data build --out {config.dataset}", language="bash")
        return

    pages = [st.Page(path, title=title, url_path=url, default=i == 0)
             for i, (path, title, url) in enumerate(PAGES)]
    st.navigation(pages).run()


main()

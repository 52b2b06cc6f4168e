"""The Streamlit dashboard: pages, figure builders and the backend they read from."""

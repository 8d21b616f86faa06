"""Thin Streamlit pages: read widgets, call one core function, render."""

"""Streamlit-only helpers for the pages (never imported by tlcore)."""

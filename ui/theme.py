"""Colours and labels shared by every page, so source and target look the same everywhere."""

SOURCE_COLOR = "#1f77b4"   # blue
TARGET_COLOR = "#ff7f0e"   # orange
DOMAIN_COLORS = {"source": SOURCE_COLOR, "target": TARGET_COLOR}
STATUS_ICONS = {"queued": "…", "running": "▶", "completed": "✓", "failed": "✗", "cancelled": "■"}  # in common fonts
PLOTLY_TEMPLATE = "plotly_white"

"""Colours and labels shared by every page, so source and target look the same everywhere."""

SOURCE_COLOR = "#1f77b4"   # blue
TARGET_COLOR = "#ff7f0e"   # orange
DOMAIN_COLORS = {"source": SOURCE_COLOR, "target": TARGET_COLOR}
STATUS_ICONS = {"queued": "…", "running": "▶", "completed": "✓", "failed": "✗", "cancelled": "■"}  # in common fonts
PLOTLY_TEMPLATE = "plotly_white"


def pct(v) -> str:
    """0.8421 -> '84.2%'; None -> '–'."""
    return "–" if v is None else f"{100 * float(v):.1f}%"

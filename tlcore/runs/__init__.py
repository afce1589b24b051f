"""The run store."""
from tlcore.runs.store import RunNotFound, RunRecord, RunStore, default_root

__all__ = ["RunStore", "RunRecord", "RunNotFound", "default_root"]

"""Background jobs: a persisted queue, a worker process, one child process per job.

Loaded lazily: :mod:`tlcore.jobs.limited` (the standard-library child runner the data layer uses) must import
without the queue and the run store behind it."""
__all__ = ["JobQueue", "JobSnapshot", "JobNotFound"]


def __getattr__(name: str):
    if name in __all__:
        from tlcore.jobs import queue

        return getattr(queue, name)
    raise AttributeError(f"module 'tlcore.jobs' has no attribute {name!r}")

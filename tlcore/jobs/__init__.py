"""Background jobs: a persisted queue, a worker process, one child process per job."""
from tlcore.jobs.queue import JobNotFound, JobQueue, JobSnapshot

__all__ = ["JobQueue", "JobSnapshot", "JobNotFound"]

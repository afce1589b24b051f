"""Sidebar: each GPU's jobs and memory (fake device list; CI has no GPU)."""
from tlcore.jobs.queue import JobSnapshot
from ui.sidebar import gpu_lines


def _job(job_id, status, gpus):
    return JobSnapshot(job_id=job_id, label="", status=status, created=0, started=None, finished=None,
                       heartbeat=None, run_id=None, pid=None, cancel_requested=False, error=None, progress={},
                       config={}, log_path=None, gpus=gpus)


def test_sidebar_shows_each_gpus_jobs_and_memory():
    device = {"gpus": [{"name": "H100", "free_gb": 60.0, "total_gb": 80.0},
                       {"name": "H100", "free_gb": 80.0, "total_gb": 80.0}], "cpu_count": 32}
    jobs = [_job("job-a", "running", "0"), _job("job-b", "queued", None), _job("job-c", "running", None)]
    assert gpu_lines(device, jobs) == ["GPU 0: 20.0 / 80.0 GB used; 1 job(s): job-a", "GPU 1: 0.0 / 80.0 GB used; idle"]
    assert gpu_lines({"gpus": [], "cpu_count": 2}, jobs) == []

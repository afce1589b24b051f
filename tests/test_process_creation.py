"""Issue 24: process creation lives in ``tlcore/jobs/`` (job processes, the prediction server, the limited child
runner), DDP's ranks and the one device probe; nowhere else in the product (``tlcore``, ``ui``, ``views``,
``app.py``). Read from the source (imports and calls), so a new ``subprocess`` use elsewhere fails here."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = ("tlcore/jobs/", "tlcore/training/ddp.py", "tlcore/device_probe.py")
PROCESS_MODULES = {"subprocess", "multiprocessing", "pty", "concurrent.futures.process"}
OS_CALLS = {"fork", "forkpty", "system", "popen", "posix_spawn", "posix_spawnp", "execv", "execve", "execl",
            "execle", "execlp", "execlpe", "execvp", "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv",
            "spawnve", "spawnvp", "spawnvpe"}


def _product_files():
    for pkg in ("tlcore", "ui", "views"):
        yield from sorted((ROOT / pkg).rglob("*.py"))
    yield ROOT / "app.py"


def starts_processes(source: str) -> list[str]:
    """What in ``source`` can start a process: runtime imports of process modules (``TYPE_CHECKING`` blocks
    excepted), ``os`` spawn/exec/fork calls and ``ProcessPoolExecutor``."""
    found = []
    tree = ast.parse(source)
    type_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in PROCESS_MODULES
                      or a.name in PROCESS_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module in PROCESS_MODULES or node.module.split(".")[0] in PROCESS_MODULES:
                found.append(f"from {node.module} import ...")
            elif node.module == "concurrent.futures" and any(a.name == "ProcessPoolExecutor" for a in node.names):
                found.append("ProcessPoolExecutor")
            elif node.module == "os" and any(a.name in OS_CALLS for a in node.names):
                found.append("from os import " + ", ".join(a.name for a in node.names if a.name in OS_CALLS))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "os" and node.attr in OS_CALLS:
                found.append(f"os.{node.attr}")
            elif node.attr == "ProcessPoolExecutor":
                found.append("ProcessPoolExecutor")
    return found


def test_no_process_creation_outside_the_job_system():
    offenders = {}
    for path in _product_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(ALLOWED):
            continue
        hits = starts_processes(path.read_text(encoding="utf-8"))
        if hits:
            offenders[rel] = hits
    assert not offenders, f"processes started outside tlcore/jobs, DDP and the device probe: {offenders}"


@pytest.mark.parametrize("snippet", [
    "import subprocess\nsubprocess.run(['ls'])",
    "from multiprocessing import Process",
    "import os\nos.system('ls')",
    "import os\nos.execv('/bin/ls', ['ls'])",
    "from concurrent.futures import ProcessPoolExecutor",
    "def f():\n    import subprocess as sp\n    sp.Popen(['ls'])",
])
def test_the_scan_catches_each_way_to_start_a_process(snippet):
    assert starts_processes(snippet)


def test_type_only_imports_and_threads_are_not_process_creation():
    assert not starts_processes("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import subprocess\n"
                                "import threading\nfrom concurrent.futures import ThreadPoolExecutor\n")


def test_every_job_module_but_the_child_runner_is_forbidden_to_lower_layers():
    """``.importlinter``'s lower-layer contract lists the job system's modules one by one (so that
    ``tlcore.jobs.limited`` stays usable below it): a new module of ``tlcore/jobs`` must be added to that list."""
    text = (ROOT / ".importlinter").read_text(encoding="utf-8")
    block = text.split("[importlinter:contract:lower-no-jobs]", 1)[1].split("[importlinter:", 1)[0]
    forbidden = block.split("forbidden_modules =", 1)[1].split()
    modules = {f"tlcore.jobs.{p.stem}" for p in (ROOT / "tlcore" / "jobs").glob("*.py") if p.stem != "__init__"}
    assert modules - set(forbidden) == {"tlcore.jobs.limited"}


def test_the_child_runner_imports_only_the_standard_library():
    tree = ast.parse((ROOT / "tlcore" / "jobs" / "limited.py").read_text(encoding="utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert names <= set(sys.stdlib_module_names) | {"__future__"}, names


def test_the_child_runner_stops_a_child_at_its_wall_clock_limit():
    from tlcore.jobs.limited import run_module

    res = run_module("timeit", ["-n", "1", "-r", "1", "import time; time.sleep(30)"], {"PATH": "/usr/bin:/bin"},
                     wall_s=1.0)
    assert res.timed_out and res.returncode < 0


def test_the_child_runner_returns_output_and_cpu_time():
    from tlcore.jobs.limited import run_module

    res = run_module("json.tool", ["--help"], {"PATH": "/usr/bin:/bin"}, wall_s=30)
    assert res.returncode == 0 and "json" in res.stdout and not res.timed_out and res.cpu_s >= 0


def test_git_commit_is_read_without_running_git(tmp_path):
    from tlcore.reports.repro import git_commit

    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode == 0:
        assert git_commit(ROOT) == out.stdout.strip()
    sha = "a" * 40
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / ".git" / "packed-refs").write_text(f"# pack-refs with: peeled\n{sha} refs/heads/main\n")
    assert git_commit(tmp_path) == sha
    (tmp_path / ".git" / "HEAD").write_text("not a ref\n")
    assert git_commit(tmp_path) is None
    assert git_commit(tmp_path / "nothing") is None

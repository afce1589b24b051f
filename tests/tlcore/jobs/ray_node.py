"""Start one Ray node on 127.0.0.1 and block until SIGTERM: a head, or a node joining a head on this machine.

``ray start`` cannot keep a joining node on loopback: its worker-node branch aborts unless
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER is on, and with it on ``ray start`` passes both ``--node-ip-address=127.0.0.1``
and the ``--address`` host through ``services.resolve_ip_for_localhost``, which swaps a loopback address for the
machine's own (``node_ip_address_from_perspective``). This script does what ``ray start [--block]`` does after
those checks, the way Ray's own local-cluster harness (``ray.cluster_utils.Cluster.add_node``) adds nodes: a
``ray._private.node.Node`` built from ``RayParams`` with ``node_ip_address="127.0.0.1"`` and the GCS address as
given. It runs with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, so every Ray process it starts that looks its own
address up (dashboard agent, runtime env agent, workers) gets 127.0.0.1 too.

The head starts no dashboard process: even with ``include_dashboard=False`` Ray starts ``dashboard.py
--modules-to-load=UsageStatsHead``, whose ``run()`` calls ``usage_lib.get_cluster_config_to_report`` before it
checks whether usage stats are enabled, and without ``~/ray_bootstrap_config.yaml`` that probes the cloud metadata
services (http://169.254.169.254/..., http://metadata.google.internal/...; seen in ``ss -tn`` and ``strace -e
connect``). Nothing this test needs lives in that process.

    python ray_node.py --temp-dir D --ports JSON [--head-port P | --join 127.0.0.1:P] [--num-cpus N]
                       [--resources JSON]

Prints one JSON line (the GCS address and node id) once the node is up, then blocks; SIGTERM stops the node's
processes and exits.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before ray is imported: read once by ray_constants

import ray._private.node  # noqa: E402
import ray._private.parameter  # noqa: E402

LOOPBACK = "127.0.0.1"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--temp-dir", required=True)
    ap.add_argument("--ports", required=True, help="JSON: node_manager, object_manager, dashboard_agent_listen, "
                    "metrics_agent, metrics_export, runtime_env_agent")
    ap.add_argument("--head-port", type=int)
    ap.add_argument("--join")
    ap.add_argument("--num-cpus", type=int, default=1)
    ap.add_argument("--resources", default="{}")
    a = ap.parse_args(argv)
    if (a.head_port is None) == (a.join is None):
        ap.error("exactly one of --head-port and --join")
    if a.join is not None and not a.join.startswith(LOOPBACK + ":"):
        ap.error("--join takes 127.0.0.1:PORT")
    ports = json.loads(a.ports)
    params = ray._private.parameter.RayParams(
        node_ip_address=LOOPBACK, node_name=LOOPBACK, temp_dir=a.temp_dir,
        num_cpus=a.num_cpus, num_gpus=0, resources=json.loads(a.resources),
        object_store_memory=100_000_000, min_worker_port=0, max_worker_port=0,
        node_manager_port=ports["node_manager"], object_manager_port=ports["object_manager"],
        dashboard_agent_listen_port=ports["dashboard_agent_listen"], metrics_agent_port=ports["metrics_agent"],
        metrics_export_port=ports["metrics_export"], runtime_env_agent_port=ports["runtime_env_agent"],
        include_dashboard=False, dashboard_host=LOOPBACK, ray_client_server_port=None)
    if a.head_port is not None:
        params.gcs_server_port = a.head_port
    else:
        params.gcs_address = a.join
        params.include_log_monitor = False  # one log monitor per machine (as Cluster.add_node)
    ray._private.node.Node.start_api_server = lambda self, **_: None  # no dashboard (see the docstring)
    node = ray._private.node.Node(params, head=a.head_port is not None, shutdown_at_exit=True, spawn_reaper=True)

    def _stop(*_):
        node.kill_all_processes(check_alive=False, allow_graceful=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(json.dumps({"gcs_address": node.gcs_address, "node_id": node.node_id}), flush=True)
    while True:
        time.sleep(1)
        dead = [(kind, p.returncode) for kind, p in node.dead_processes()]
        if dead:
            print(f"ray processes exited: {dead}", file=sys.stderr, flush=True)
            node.kill_all_processes(check_alive=False, allow_graceful=False)
            return 1


if __name__ == "__main__":
    sys.exit(main())

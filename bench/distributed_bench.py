#!/usr/bin/env python3
"""The engine-vs-loop pipeline on real processes: a coordinator and two
workers on loopback, against the same job embedded (`sluice run`).

  generator (N events, D devices, parallelism 2) -> key_by device_id
    -> 10 s tumbling count + sum(temperature) -> blackhole sink

With one slot per worker, subtask i of every operator runs on worker i, so
about half of the keyed records cross between the worker processes over
gRPC. CPU time is read from /proc (the workers and the coordinator) and from
getrusage (the embedded run). Each side runs --repeat times; the run with
the least CPU time is reported.

Usage: distributed_bench.py --sluice build/tools/sluice [--events N] [--devices D] [--repeat R]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from cluster import Cluster  # noqa: E402

JOB = """name: bench
parallelism: 2
operators:
  - id: sensors
    type: generator
    devices: {devices}
    count: {events}
    start_time: "2026-01-01T00:00:00Z"
    interval: 1s
    jitter: 2s
    seed: 42
  - id: per_device
    type: window
    input: sensors
    key_by: device_id
    window: {{type: tumbling, size: 10s}}
    aggregates: {{n: count(), total: sum(temperature)}}
  - id: sink
    type: blackhole_sink
    input: per_device
"""

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def sink_records(status_text):
    total = 0
    for line in status_text.splitlines():
        parts = line.split()
        if parts and parts[0] == "sink":
            total += int(parts[4])
    return total


def run_distributed(sluice, job):
    cluster = Cluster(sluice, workers=2, slots=1, heartbeat_timeout=10.0)
    try:
        pids = [p.pid for p in cluster.procs.values()]
        cpu0 = sum(cpu_seconds(p) for p in pids)
        t0 = time.monotonic()
        result = cluster.cli("submit", job, "--wait", timeout=900)
        wall = time.monotonic() - t0
        cpu = sum(cpu_seconds(p) for p in pids) - cpu0
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        job_id = result.stdout.strip().splitlines()[-1]
        status = cluster.cli("status", job_id).stdout
        return wall, cpu, sink_records(status)
    finally:
        cluster.stop()


def run_embedded(sluice, job):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    result = subprocess.run([sluice, "run", job, "--workers", "1"], capture_output=True, text=True,
                            timeout=900)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, sink_records(result.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", required=True)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sluice = os.path.abspath(args.sluice)
    work = tempfile.mkdtemp(prefix="sluice-bench-")
    job = os.path.join(work, "job.yaml")
    with open(job, "w") as f:
        f.write(JOB.format(events=args.events, devices=args.devices))
    print(f"events={args.events} devices={args.devices} parallelism=2 repeat={args.repeat} "
          "(best run of each side)")
    best = {}
    for _ in range(args.repeat):
        for name, fn in (("embedded", run_embedded), ("2 processes", run_distributed)):
            wall, cpu, results = fn(sluice, job)
            if name not in best or cpu < best[name][1]:
                best[name] = (wall, cpu, results)
    for name, (wall, cpu, results) in best.items():
        print(f"{name:<12} wall {wall:7.2f} s  cpu {cpu:7.2f} s  {args.events / wall:12.0f} events/s"
              f"  {args.events / cpu:12.0f} events/cpu-s  results {results}")
    e, d = best["embedded"], best["2 processes"]
    print(f"ratio distributed/embedded: {e[0] / d[0]:.2f} of events/s, {e[1] / d[1]:.2f} of "
          "events/cpu-s")
    if e[2] != d[2]:
        print(f"MISMATCH: embedded produced {e[2]} results, distributed {d[2]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Latency from source to sink through two worker processes.

  generator (parallelism 2) -> map stamps emitted = now()      (chained)
    -> key_by device_id -> map latency_ms = now() - emitted    (keyed exchange)
    -> filter event_id % 100 == 0 -> file sink                 (a 1% sample)

A coordinator and two workers (one slot each) run it on loopback; subtask i
of every operator runs on worker i, so a record crossed between the worker
processes when its generator subtask (event_id % 2) differs from the subtask
that wrote it (in the part file's name). First the pipeline runs flat out to
find its maximum throughput; then at half of that rate for --seconds, and
the latency percentiles of the sampled records are printed: all of them,
and those that crossed workers. now() has millisecond resolution, and the
latency includes the output buffers' flush interval (10 ms by default).

Usage: latency_bench.py --sluice build/tools/sluice [--seconds S] [--max-events N]
"""

import argparse
import glob
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from cluster import Cluster  # noqa: E402

JOB = """name: latency
parallelism: 2
operators:
  - id: sensors
    type: generator
    devices: 1000
    {amount}
    start_time: "2026-01-01T00:00:00Z"
    interval: 1s
    seed: 3
  - id: stamp
    type: map
    input: sensors
    set: {{emitted: "now()"}}
  - id: arrive
    type: map
    input: stamp
    key_by: device_id
    set: {{latency_ms: "now() - emitted"}}
  - id: sample
    type: filter
    input: arrive
    where: "event_id % 100 == 0"
  - id: out
    type: {sink}
    input: sample
    {path}
"""


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values))) - 1))
    return sorted_values[k]


def run(cluster, work, name, amount, sink, path=""):
    job = os.path.join(work, f"{name}.yaml")
    with open(job, "w") as f:
        f.write(JOB.format(amount=amount, sink=sink, path=path))
    t0 = time.monotonic()
    result = cluster.cli("submit", job, "--wait", timeout=900)
    wall = time.monotonic() - t0
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return wall, result.stdout.strip().splitlines()[-1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--max-events", type=int, default=20_000_000)
    args = parser.parse_args()
    cluster = Cluster(os.path.abspath(args.sluice), workers=2, slots=1, heartbeat_timeout=10.0)
    try:
        work = cluster.dir
        wall, _ = run(cluster, work, "max", f"count: {args.max_events}", "blackhole_sink")
        max_rate = args.max_events / wall
        rate = max_rate / 2
        events = int(rate * args.seconds)
        print(f"maximum throughput: {max_rate:,.0f} events/s ({args.max_events:,} events in "
              f"{wall:.2f} s, submit to end)")
        out = os.path.join(work, "out")
        wall, job_id = run(cluster, work, "half", f"count: {events}\n    rate: {rate:.0f}",
                           "file_sink", f"path: {out}")
        all_lat, crossed = [], []
        for part in glob.glob(os.path.join(out, "part-*.jsonl")):
            subtask = int(re.search(r"part-\w+-\d+-(\d+)-\d+\.jsonl$", part).group(1))
            with open(part) as f:
                for line in f:
                    r = json.loads(line)
                    all_lat.append(r["latency_ms"])
                    if r["event_id"] % 2 != subtask:
                        crossed.append(r["latency_ms"])
        all_lat.sort()
        crossed.sort()
        print(f"at half of it: {rate:,.0f} events/s for {events:,} events ({wall:.1f} s); "
              f"{len(all_lat):,} sampled records, {len(crossed):,} crossed workers")
        for label, values in (("all sampled", all_lat), ("crossed workers", crossed)):
            print(f"  {label:<16} p50 {percentile(values, 50):4.0f} ms  p99 "
                  f"{percentile(values, 99):4.0f} ms  max {values[-1] if values else 0:4.0f} ms")
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())

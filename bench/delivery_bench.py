#!/usr/bin/env python3
"""Exactly-once against at-least-once delivery on the same pipeline, in one run.

  generator (parallelism 2) -> map stamps emitted = now()          (chained)
    -> key_by device_id -> map stamps written = now()              (keyed exchange)
    -> filter event_id % 100 == 0 -> file sink                     (a 1% sample)

A coordinator and two workers (one slot each) run it on loopback, with a
checkpoint every 1 s and every 10 s, as `delivery: exactly_once` (aligned
barriers; part files published when the checkpoint that covered them is
complete) and `delivery: at_least_once` (no alignment; part files published
at each barrier). The modes alternate throughout, so both see the same noise.

1. Throughput: after a discarded warm-up job (the first job on fresh
   processes costs more CPU), a bounded job of --events events flat out,
   --repeat times per mode and interval; wall time from submit to FINISHED
   (which includes the final checkpoint) and the CPU time of the two worker
   processes (utime + stime from /proc). The medians are printed, and the ratio exactly-once /
   at-least-once of events per CPU-second.
2. Latency at half of the at-least-once flat-out rate, for --seconds: the
   processing latency (written - emitted) and the visibility latency (when
   the part file holding a row appeared under its published name - emitted)
   of the sampled rows. A thread lists the output directory every 5 ms; rows
   of the first 3 s (warm-up) and of files not published while it polled are
   left out. now() has millisecond resolution.

Usage: delivery_bench.py --sluice build/tools/sluice [--events N] [--seconds S] [--repeat R]
"""

import argparse
import glob
import json
import os
import shutil
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from cluster import Cluster  # noqa: E402

JOB = """name: delivery-{mode}
parallelism: 2
delivery: {mode}
checkpoint: {{interval: {interval}s, store: "file://{store}"}}
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
    set: {{written: "now()"}}
  - id: sample
    type: filter
    input: arrive
    where: "event_id % 100 == 0"
  - id: out
    type: file_sink
    input: sample
    path: {out}
"""

MODES = ("exactly_once", "at_least_once")
INTERVALS = (1, 10)
WARMUP_MS = 3000
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values))) - 1))
    return sorted_values[k]


def write_job(cluster, name, mode, interval, amount):
    out = os.path.join(cluster.dir, f"out-{name}")
    job = os.path.join(cluster.dir, f"{name}.yaml")
    with open(job, "w") as f:
        f.write(JOB.format(mode=mode, interval=interval, amount=amount, out=out,
                           store=os.path.join(cluster.dir, "checkpoints")))
    return job, out


def throughput_run(cluster, name, mode, interval, events):
    """Runs `events` flat out; returns (events/s, events per worker CPU-second)."""
    job, out = write_job(cluster, name, mode, interval, f"count: {events}")
    pids = [cluster.procs[w].pid for w in ("worker0", "worker1")]
    cpu0 = sum(cpu_seconds(p) for p in pids)
    t0 = time.monotonic()
    result = cluster.cli("submit", job, "--wait", timeout=900)
    wall = time.monotonic() - t0
    cpu = sum(cpu_seconds(p) for p in pids) - cpu0
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    rows, expected = 0, len(range(0, events, 100))
    for part in glob.glob(os.path.join(out, "part-*.jsonl")):
        with open(part) as f:
            rows += sum(1 for _ in f)
    if rows != expected:
        print(f"  WARNING: {name} published {rows:,} sampled rows, expected {expected:,}")
    shutil.rmtree(out, ignore_errors=True)
    print(f"  {name:<24}{wall:6.2f} s  cpu {cpu:6.2f} s  {events / wall / 1e6:5.2f}M events/s  "
          f"{events / cpu / 1e6:5.2f}M events/CPU-s", flush=True)
    return events / wall, events / cpu


class Poller(threading.Thread):
    """Records when each published part file first appears in `directory` (epoch ms)."""

    def __init__(self, directory):
        super().__init__(daemon=True)
        self.directory, self.seen, self.done = directory, {}, threading.Event()

    def run(self):
        while not self.done.is_set():
            try:
                names = os.listdir(self.directory)
            except FileNotFoundError:
                names = []
            now = time.time() * 1000
            for n in names:
                if n.startswith("part-") and n.endswith(".jsonl") and n not in self.seen:
                    self.seen[n] = now
            time.sleep(0.005)


def wait_ended(cluster, job_id, deadline_s=120):
    end = time.time() + deadline_s
    while time.time() < end:
        first = (cluster.cli("status", job_id, timeout=30).stdout.splitlines() or [""])[0]
        if any(s in first for s in ("CANCELED", "FAILED", "FINISHED")):
            return
        time.sleep(0.2)
    raise RuntimeError(f"job {job_id} did not end after cancel")


def latency_run(cluster, name, mode, interval, rate, seconds):
    """Runs at `rate` for `seconds`; returns sorted (processing, visibility) latencies in ms."""
    job, out = write_job(cluster, name, mode, interval, f"rate: {rate:.0f}")
    poller = Poller(out)
    poller.start()
    result = cluster.cli("submit", job)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    job_id = result.stdout.strip().splitlines()[-1]
    time.sleep(seconds)
    poller.done.set()
    poller.join()
    cluster.cli("cancel", job_id)
    wait_ended(cluster, job_id)
    rows = []
    for part, seen in poller.seen.items():
        with open(os.path.join(out, part)) as f:
            rows.extend((r["emitted"], r["written"], seen) for r in map(json.loads, f))
    shutil.rmtree(out, ignore_errors=True)  # hundreds of MB at millions of events/s
    start = min((r[0] for r in rows), default=0) + WARMUP_MS
    kept = [r for r in rows if r[0] >= start]
    processing = sorted(w - e for e, w, _ in kept)
    visibility = sorted(s - e for e, _, s in kept)
    print(f"  {name:<24}{len(kept):,} sampled rows from {len(poller.seen)} part files, "
          f"{len(rows) - len(kept):,} warm-up rows left out", flush=True)
    return processing, visibility


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", required=True)
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cluster = Cluster(os.path.abspath(args.sluice), workers=2, slots=1, heartbeat_timeout=10.0)
    try:
        print(f"{os.cpu_count()} cores; coordinator + 2 workers (1 slot each) on loopback, "
              f"parallelism 2; exactly_once and at_least_once alternate in this one run")
        print(f"1. throughput: {args.events:,} events flat out, {args.repeat} runs per mode "
              "and interval (wall: submit to FINISHED; CPU: both workers)", flush=True)
        # The first job on fresh processes costs more CPU (page faults, allocator, connections).
        throughput_run(cluster, "warm-up (discarded)", "at_least_once", 1, args.events // 5)
        runs = {(m, i): [] for m in MODES for i in INTERVALS}
        for rep in range(args.repeat):
            for interval in INTERVALS:
                for mode in MODES:
                    name = f"max-{mode}-{interval}s-{rep}"
                    runs[mode, interval].append(
                        throughput_run(cluster, name, mode, interval, args.events))
        median = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
                  for k, v in runs.items()}
        rate = statistics.median(r[0] for i in INTERVALS for r in runs["at_least_once", i]) / 2
        print(f"2. latency at {rate:,.0f} events/s (half the at-least-once median), "
              f"{args.seconds:.0f} s per mode and interval", flush=True)
        lat = {}
        for interval in INTERVALS:
            for mode in MODES:
                lat[mode, interval] = latency_run(cluster, f"half-{mode}-{interval}s", mode,
                                                  interval, rate, args.seconds)
        print(f"\n{'mode':<15}{'interval':<10}{'events/s':<11}{'events/CPU-s':<15}"
              f"{'processing p50/p99':<21}visibility p50/p99")
        for interval in INTERVALS:
            for mode in MODES:
                (eps, epc), (proc, vis) = median[mode, interval], lat[mode, interval]
                print(f"{mode:<15}{f'{interval}s':<10}{f'{eps / 1e6:.2f}M':<11}"
                      f"{f'{epc / 1e6:.2f}M':<15}"
                      f"{f'{percentile(proc, 50):.0f} / {percentile(proc, 99):.0f} ms':<21}"
                      f"{percentile(vis, 50):.0f} / {percentile(vis, 99):.0f} ms")
        for interval in INTERVALS:
            eo, alo = median["exactly_once", interval], median["at_least_once", interval]
            print(f"ratio exactly_once / at_least_once, interval {interval}s: "
                  f"{eo[1] / alo[1]:.2f} of events/CPU-s (target >= 0.95), "
                  f"{eo[0] / alo[0]:.2f} of events/s (medians of {args.repeat})")
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())

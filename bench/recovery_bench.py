#!/usr/bin/env python3
"""Recovery time with large keyed state, on real processes.

A coordinator and two workers on loopback run an endless keyed job whose
window state grows to about --state-mb (default 1000 MB, all subtasks):

  generator (D devices, parallelism 2) -> key_by device_id
    -> 1 h tumbling count + sum + max -> blackhole sink

with a checkpoint every --interval seconds into a local store and
state.memory_budget of 256 MiB per subtask, so most of the state lives in
RocksDB. Once a completed checkpoint holds the target state, the benchmark
kill -9s worker 1, starts a replacement at once, and measures the time from
the kill to the first records the window operator of the new attempt
processes (read from `sluice status`): failure detection, restart delay,
deployment, download and restore of the state, and the first batch. It
also prints each subtask's sluice_restore_ms (download and checks).

Usage: recovery_bench.py --sluice build/tools/sluice [--devices N] [--state-mb M]
"""

import argparse
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from cluster import Cluster, metric_sum  # noqa: E402

JOB = """name: recovery-bench
parallelism: 2
checkpoint: {{interval: {interval}s, timeout: 120s, retain: 2, store: "file://{store}"}}
restart: {{strategy: fixed, initial_delay: 100ms}}
state: {{memory_budget: 256MiB}}
operators:
  - id: sensors
    type: generator
    devices: {devices}
    start_time: "2026-01-01T00:00:00Z"
    interval: 1s
    seed: 42
  - id: per_device
    type: window
    input: sensors
    key_by: device_id
    window: {{type: tumbling, size: 1h}}
    aggregates: {{n: count(), total: sum(temperature), hottest: max(temperature)}}
  - id: sink
    type: blackhole_sink
    input: per_device
"""


def window_rows_after_restart(status_text):
    """records_in of per_device subtasks in `status` once it shows a later
    attempt than the first (a deploy to the dead worker, before the registry
    forgets it, costs an attempt)."""
    m = re.search(r"attempt (\d+)", status_text)
    if not m or int(m.group(1)) < 2:
        return 0
    total = 0
    for line in status_text.splitlines():
        cols = line.split()
        if cols and cols[0] == "per_device" and len(cols) >= 5 and cols[3] == "RUNNING":
            total += int(cols[4])
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", required=True)
    parser.add_argument("--devices", type=int, default=48_000_000)
    parser.add_argument("--state-mb", type=int, default=1000)
    parser.add_argument("--interval", type=int, default=5)
    args = parser.parse_args()

    cluster = Cluster(os.path.abspath(args.sluice), workers=2, slots=1, heartbeat_timeout=3.0)
    try:
        store = os.path.join(cluster.dir, "checkpoints")
        job = os.path.join(cluster.dir, "job.yaml")
        with open(job, "w") as f:
            f.write(JOB.format(interval=args.interval, store=store, devices=args.devices))
        r = cluster.cli("submit", job)
        if r.returncode != 0:
            sys.exit(r.stderr)
        job_id = r.stdout.strip().splitlines()[-1]
        target = args.state_mb << 20
        start = time.time()
        state = 0
        while state < target:
            time.sleep(1)
            coord = cluster.scrape("coordinator")
            state = metric_sum(coord, "sluice_checkpoint_last_state_bytes", job_id=job_id)
            if time.time() - start > 900:
                sys.exit(f"state reached only {state / 2**20:.0f} MB after 15 min")
        ckpt = metric_sum(coord, "sluice_checkpoint_last_id", job_id=job_id)
        duration = metric_sum(coord, "sluice_checkpoint_last_duration_ms", job_id=job_id)
        uploaded = metric_sum(coord, "sluice_checkpoint_last_uploaded_bytes", job_id=job_id)
        print(f"checkpoint {ckpt:.0f}: state {state / 2**20:.0f} MB, uploaded "
              f"{uploaded / 2**20:.0f} MB, took {duration:.0f} ms "
              f"({time.time() - start:.0f} s after submit)")

        t0 = time.time()
        cluster.kill("worker1")
        replacement = cluster.start_worker()
        while True:
            text = cluster.cli("status", job_id, timeout=30).stdout
            if window_rows_after_restart(text) > 0:
                break
            if time.time() - t0 > 300:
                sys.exit(f"no output of the new attempt after 300 s:\n{text}")
            time.sleep(0.05)
        recovered = time.time() - t0
        restore_ms = []
        for name in ("worker0", replacement):
            text = cluster.scrape(name)
            for m in re.finditer(r'sluice_restore_ms\{([^}]*)\} (\S+)', text):
                if f'job_id="{job_id}"' in m.group(1) and 'operator="per_device"' in m.group(1):
                    restore_ms.append(float(m.group(2)))
        print(f"kill -9 of a worker to the first records of the new attempt's windows: "
              f"{recovered:.2f} s (state {state / 2**20:.0f} MB; restore per subtask "
              f"{', '.join(f'{x:.0f} ms' for x in restore_ms)})")
    finally:
        cluster.stop()
        shutil.rmtree(cluster.dir, ignore_errors=True)


if __name__ == "__main__":
    main()

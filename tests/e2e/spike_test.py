"""Backpressure end to end: a traffic spike on real processes.

A coordinator and two workers (one slot each) run 3,000,000 sensor readings
that a generator emits as fast as it can, through a throttle of 50,000
records/s per subtask, a keyed 1-minute window and a file sink, with
`network.buffer_bytes_per_task` set to 1 MiB. The throttle is the slow
stage, so credit-based flow control must hold the generators back instead
of buffering the spike:

- each worker's peak resident memory (VmHWM) stays under WORKER_RSS_BUDGET;
  buffering the spike instead would take over 80 MB per worker (1.5M
  readings of about 56 bytes in columnar form);
- while the spike lasts, `sluice status` marks the generator subtasks as
  backpressured and names the throttle as the bottleneck, and the worker's
  sluice_task_backpressured_ms_per_second gauge says the same;
- every reading is counted in the output: each of the 1000 devices reports
  once a second, so each of its 50 one-minute windows counts exactly 60.
"""

import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from cluster import ClusterTestCase, main, metric_sum  # noqa: E402

DEVICES = 1000
EVENTS = 3_000_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
# Peak RSS per worker process. Measured on the development machine: 21 MiB
# during the spike, 17.5 MiB for a worker at rest; buffering the spike would
# need over 80 MB more.
WORKER_RSS_BUDGET = 40 * 1024 * 1024

JOB = f"""
name: spike
parallelism: 2
network: {{buffer_bytes_per_task: 1MiB}}
operators:
  - id: sensors
    type: generator
    devices: {DEVICES}
    count: {EVENTS}
    start_time: "2026-01-01T00:00:00Z"
    interval: 1s
    seed: 7
  - id: slow
    type: throttle
    input: sensors
    rate: 50000
  - id: per_device
    type: window
    input: slow
    key_by: device_id
    window: {{type: tumbling, size: 1m}}
    aggregates: {{n: count()}}
  - id: out
    type: file_sink
    input: per_device
    path: out
"""


def vm_hwm_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for {pid}")


class SpikeTest(ClusterTestCase):
    HEARTBEAT_TIMEOUT = 10.0

    def test_spike_is_held_back_by_credit_and_nothing_is_lost(self):
        work = self.cluster.dir
        job = os.path.join(work, "job.yaml")
        with open(job, "w") as f:
            f.write(JOB)
        result = self.cluster.cli("submit", job)
        self.assertEqual(result.returncode, 0, result.stderr)
        job_id = result.stdout.strip().splitlines()[-1]

        # Watch the spike: a sample must show the generators backpressured
        # and the throttle named as the bottleneck.
        seen_backpressure = seen_bottleneck = seen_gauge = False
        samples = []
        deadline = time.time() + 120
        while True:
            status = self.cluster.cli("status", job_id)
            self.assertEqual(status.returncode, 0, status.stderr)
            text = status.stdout
            first = text.splitlines()[0]
            if "FINISHED" in first:
                break
            self.assertNotIn("FAILED", first, text)
            self.assertLess(time.time(), deadline, f"the job did not finish:\n{text}")
            generator_rows = [l for l in text.splitlines() if l.startswith("sensors ")]
            if len(generator_rows) == 2 and all(l.rstrip().endswith("backpressured") for l in generator_rows):
                seen_backpressure = True
            bottleneck = [l for l in text.splitlines() if l.strip().startswith("bottleneck:")]
            if bottleneck and bottleneck[0].split()[1] == "slow":
                seen_bottleneck = True
            # The same, as Prometheus gauges on a worker.
            metrics = self.cluster.scrape("worker0")
            if metric_sum(metrics, "sluice_task_backpressured_ms_per_second", job_id=job_id,
                          task="sensors") >= 500:
                seen_gauge = True
            samples.append(text)
            time.sleep(1.0)
        self.assertTrue(seen_backpressure, "generators never marked backpressured:\n" +
                        "\n".join(samples[-3:]))
        self.assertTrue(seen_bottleneck, "throttle never named the bottleneck:\n" +
                        "\n".join(samples[-3:]))
        self.assertTrue(seen_gauge, "sluice_task_backpressured_ms_per_second of the generator "
                        "never reached 500")

        # Memory stayed bounded in both workers.
        for name in ("worker0", "worker1"):
            peak = vm_hwm_bytes(self.cluster.procs[name].pid)
            print(f"{name} peak RSS: {peak / 2**20:.1f} MiB", file=sys.stderr)
            self.assertLess(peak, WORKER_RSS_BUDGET, f"{name} peak RSS {peak} bytes")

        # Every reading is counted: 60 per device and minute, 50 minutes.
        counts = {}
        for path in glob.glob(os.path.join(work, "out", "part-*.jsonl")):
            with open(path) as f:
                for line in f:
                    r = json.loads(line)
                    key = (r["device_id"], r["window_start"])
                    self.assertNotIn(key, counts, f"duplicate result {key}")
                    counts[key] = r["n"]
        expected = {(f"dev-{d:05d}", START_MS + m * 60_000): 60
                    for d in range(DEVICES) for m in range(EVENTS // DEVICES // 60)}
        self.assertEqual(sum(counts.values()), EVENTS)
        self.assertEqual(counts, expected)


if __name__ == "__main__":
    main(ClusterTestCase)

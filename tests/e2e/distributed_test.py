"""End-to-end tests of the `sluice` binary.

DistributedTest: a coordinator and two workers as separate processes on loopback.

The job reads ~100k sensor events over ~1000 devices (event times shuffled
within the watermark's out-of-orderness bound, plus malformed lines), filters
them, computes 1-minute tumbling avg/count/max per device with parallelism 2
(so the keyed exchange crosses workers) and writes part files. Every output
row is compared with what this script computes itself from the input files,
and the dead-letter output must hold exactly the malformed lines.

EmbeddedRunTest: `sluice run` on the shipped example job.
"""

import json
import os
import random
import shutil
import subprocess
import tempfile
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cluster import ClusterTestCase, Prometheus, main, metric_sum, read_part_files  # noqa: E402

SLUICE = None
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
OOO_MS = 30_000
WINDOW_MS = 60_000


def write_input(directory, files=2, events_per_file=50_000, devices=1000, seed=1):
    """Writes JSON-lines files; returns (valid events, malformed lines)."""
    rng = random.Random(seed)
    os.makedirs(directory)
    events, malformed = [], []
    event_id = 0
    for f in range(files):
        path = os.path.join(directory, f"readings-{f}.jsonl")
        lines = []
        for i in range(events_per_file):
            base = START_MS + (i // 50) * 1000  # non-decreasing
            ts = base - rng.randint(0, OOO_MS - 1000)  # never later than the watermark allows
            temp = round(rng.gauss(21.0, 4.0), 3)
            if rng.random() < 0.01:
                temp = rng.choice([-80.0, 200.5, 999.0])  # filtered out by `where`
            ev = {"event_id": event_id, "device_id": f"dev-{rng.randrange(devices):05d}",
                  "ts": ts, "temperature": temp, "humidity": round(rng.uniform(20, 80), 1)}
            event_id += 1
            events.append(ev)
            lines.append(json.dumps(ev))
        bad = ['{"device_id": "dev-00001", "temperature": 20.0}',  # no ts
               '{"device_id": "dev-00002", "ts": "noon", "temperature": 20.0}',  # ts not a number
               'this is not json',
               '{"device_id": "dev-00003", "ts": %d, "temperature": "hot"}' % (START_MS + 5000),
               '[1, 2, 3]']
        for j, text in enumerate(bad):
            pos = 1000 + j * 7919 + f * 13
            lines.insert(pos, text)
        with open(path, "w") as out:
            out.write("\n".join(lines) + "\n")
        for n, text in enumerate(lines, start=1):
            if text in bad:
                malformed.append((path, n, text))
    return events, malformed


def expected_windows(events):
    agg = {}
    for ev in events:
        if not (-50 < ev["temperature"] < 150):
            continue
        start = ev["ts"] // WINDOW_MS * WINDOW_MS
        key = (ev["device_id"], start)
        a = agg.setdefault(key, [0, 0.0, float("-inf")])
        a[0] += 1
        a[1] += ev["temperature"]
        a[2] = max(a[2], ev["temperature"])
    return {k: (c, s / c, m) for k, (c, s, m) in agg.items()}


JOB = """
name: e2e-sensor-averages
parallelism: 2
operators:
  - id: readings
    type: file_source
    path: input
    event_time: {field: ts, unit: ms}
    watermark: {max_out_of_orderness: 30s}
  - id: valid
    type: filter
    input: readings
    where: "temperature > -50 and temperature < 150"
  - id: per_device
    type: window
    input: valid
    key_by: [device_id]
    window: {type: tumbling, size: 1m}
    aggregates: {avg_temp: avg(temperature), readings: count(), max_temp: max(temperature)}
  - id: out
    type: file_sink
    input: per_device
    path: out/averages
  - id: rejected
    type: file_sink
    input: readings.dead_letter
    path: out/dead_letter
"""

UNBOUNDED_JOB = """
name: e2e-endless
parallelism: 2
operators:
  - id: sensors
    type: generator
    devices: 100
    rate: 2000
    start_time: "2026-01-01T00:00:00Z"
  - id: per_device
    type: window
    input: sensors
    key_by: device_id
    window: {type: tumbling, size: 10s}
    aggregates: {n: count()}
  - id: sink
    type: blackhole_sink
    input: per_device
"""


class DistributedTest(ClusterTestCase):

    def test_keyed_job_across_two_workers_matches_independent_computation(self):
        work = self.cluster.dir
        events, malformed = write_input(os.path.join(work, "input"))
        job = os.path.join(work, "job.yaml")
        with open(job, "w") as f:
            f.write(JOB)

        result = self.cluster.cli("submit", job, "--wait")
        self.assertEqual(result.returncode, 0, result.stderr)
        job_id = result.stdout.strip().splitlines()[-1]

        status = self.cluster.cli("status", job_id)
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertIn("FINISHED", status.stdout.splitlines()[0])
        # Both workers ran a window subtask: the keyed exchange crossed processes.
        window_rows = [l for l in status.stdout.splitlines() if l.split()[:1] == ["per_device"]]
        self.assertEqual({l.split()[2] for l in window_rows}, {"worker-1", "worker-2"})

        expected = expected_windows(events)
        rows = read_part_files(os.path.join(work, "out", "averages"))
        got = {}
        for r in rows:
            key = (r["device_id"], r["window_start"])
            self.assertNotIn(key, got, f"duplicate result row {key}")
            self.assertEqual(r["window_end"], r["window_start"] + WINDOW_MS)
            got[key] = (r["readings"], r["avg_temp"], r["max_temp"])
        self.assertEqual(set(got), set(expected))
        for key, (count, avg, mx) in expected.items():
            g = got[key]
            self.assertEqual(g[0], count, key)
            self.assertAlmostEqual(g[1], avg, places=9, msg=str(key))
            self.assertEqual(g[2], mx, key)

        dead = read_part_files(os.path.join(work, "out", "dead_letter"))
        self.assertEqual(sorted((d["file"], d["line"], d["raw"]) for d in dead), sorted(malformed))
        self.assertTrue(all(d["reason"] for d in dead))
        self.assertEqual(len(malformed), 10)

        # Each process serves Prometheus metrics; workers count records and dead letters.
        total_dead = 0.0
        total_sink_in = 0.0
        for w in ("worker0", "worker1"):
            text = self.cluster.wait_for_metrics(w)
            total_dead += metric_sum(text, "sluice_dead_letter_records_total", job_id=job_id)
            total_sink_in += metric_sum(text, "sluice_records_in_total", job_id=job_id, operator="out")
        self.assertEqual(total_dead, len(malformed))
        self.assertEqual(total_sink_in, len(expected))
        coord = self.cluster.wait_for_metrics("coordinator")
        self.assertEqual(metric_sum(coord, "sluice_job_state", job_id=job_id), 3.0)  # FINISHED

    def test_prometheus_scrapes_every_process(self):
        work = self.cluster.dir
        events, malformed = write_input(os.path.join(work, "input"), events_per_file=5_000, devices=100)
        job = os.path.join(work, "job.yaml")
        with open(job, "w") as f:
            f.write(JOB)
        targets = [f"127.0.0.1:{p}" for p in self.cluster.metrics.values()]
        prom = Prometheus(work, targets)
        try:
            result = self.cluster.cli("submit", job, "--wait")
            self.assertEqual(result.returncode, 0, result.stderr)
            job_id = result.stdout.strip().splitlines()[-1]
            self.assertEqual(prom.wait_for_value(f'count(up{{job="sluice"}} == 1)', 3.0), 3.0)
            self.assertEqual(prom.wait_for_value(f'sluice_job_state{{job_id="{job_id}"}}', 3.0), 3.0)
            self.assertEqual(
                prom.wait_for_value(f'sum(sluice_dead_letter_records_total{{job_id="{job_id}"}})', len(malformed)),
                len(malformed))
            expected = expected_windows(events)
            windows = len(expected)
            self.assertEqual(
                prom.wait_for_value(f'sum(sluice_records_in_total{{job_id="{job_id}",operator="out"}})', windows),
                windows)
            # Every reading the filter keeps reaches its window on time (the
            # input is within its out-of-orderness).
            kept = sum(count for count, _, _ in expected.values())
            for disposition, want in (("on_time", kept), ("updated", 0), ("late", 0)):
                query = (f'sum(sluice_window_records_total{{job_id="{job_id}",'
                         f'disposition="{disposition}"}})')
                self.assertEqual(prom.wait_for_value(query, want), want, disposition)
        finally:
            prom.close()

    def test_worker_death_fails_job_with_reason(self):
        job = os.path.join(self.cluster.dir, "endless.yaml")
        with open(job, "w") as f:
            f.write(UNBOUNDED_JOB)
        result = self.cluster.cli("submit", job)
        self.assertEqual(result.returncode, 0, result.stderr)
        job_id = result.stdout.strip().splitlines()[-1]
        deadline = time.time() + 30
        while "RUNNING" not in self.cluster.cli("status", job_id).stdout.splitlines()[0]:
            self.assertLess(time.time(), deadline, "job never started")
            time.sleep(0.2)
        time.sleep(1.0)
        with open(os.path.join(self.cluster.dir, "worker1.log")) as f:
            killed_id = f.read().split("sluice worker ")[1].split()[0]  # "worker-N"
        self.cluster.kill("worker1")
        deadline = time.time() + 30
        while True:
            status = self.cluster.cli("status", job_id)
            first = status.stdout.splitlines()[0] if status.stdout else ""
            if "FAILED" in first:
                break
            self.assertLess(time.time(), deadline, f"job did not fail: {status.stdout}")
            time.sleep(0.3)
        failure = [l for l in status.stdout.splitlines() if l.strip().startswith("failure:")]
        self.assertEqual(len(failure), 1, status.stdout)
        self.assertIn(killed_id, failure[0])

    def test_bad_job_file_names_line_and_field(self):
        job = os.path.join(self.cluster.dir, "bad.yaml")
        with open(job, "w") as f:
            f.write(JOB.replace('where: "temperature > -50 and temperature < 150"',
                                'where: "temperature > > 3"'))
        result = self.cluster.cli("submit", job)
        self.assertEqual(result.returncode, 2)
        self.assertIn("bad.yaml:13", result.stderr)
        self.assertIn("'valid'", result.stderr)
        self.assertIn("where", result.stderr)


class EmbeddedRunTest(unittest.TestCase):
    """`sluice run` on the shipped example, checked against the example's input file."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-run-")
        examples = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
        shutil.copytree(os.path.join(examples, "data"), os.path.join(self.dir, "data"))
        shutil.copy(os.path.join(examples, "sensor-averages.yaml"), self.dir)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_example_job_runs_to_completion_with_correct_output(self):
        job = os.path.join(self.dir, "sensor-averages.yaml")
        result = subprocess.run([SLUICE, "run", job, "--workers", "2"], capture_output=True, text=True,
                                timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("FINISHED", result.stdout)
        out_dir = os.path.join(self.dir, "out", "averages")
        self.assertIn(out_dir, result.stdout)  # says where the output went

        events, malformed = [], 0
        with open(os.path.join(self.dir, "data", "readings.jsonl")) as f:
            for line in f:
                try:
                    ev = json.loads(line)
                except ValueError:
                    malformed += 1
                    continue
                if not isinstance(ev.get("ts"), int):
                    malformed += 1
                    continue
                events.append(ev)
        expected = expected_windows(events)
        got = {(r["device_id"], r["window_start"]): (r["readings"], r["avg_temp"], r["max_temp"])
               for r in read_part_files(out_dir)}
        self.assertEqual(set(got), set(expected))
        for key, (count, avg, mx) in expected.items():
            self.assertEqual(got[key][0], count)
            self.assertAlmostEqual(got[key][1], avg, places=9)
            self.assertEqual(got[key][2], mx)
        dead = read_part_files(os.path.join(self.dir, "out", "dead_letter"))
        self.assertEqual(len(dead), malformed)

    def test_bad_job_file_exits_2_naming_the_line(self):
        job = os.path.join(self.dir, "sensor-averages.yaml")
        with open(job) as f:
            text = f.read()
        with open(job, "w") as f:
            f.write(text.replace("size: 1m", "size: 1 minute"))
        result = subprocess.run([SLUICE, "run", job], capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertIn("sensor-averages.yaml:", result.stderr)
        self.assertIn("field 'window.size'", result.stderr)


if __name__ == "__main__":
    main(sys.modules[__name__], ClusterTestCase)

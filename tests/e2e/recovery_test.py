"""Recovery from checkpoints, with real processes (tests/e2e/cluster.py).

The job reads ~1M sensor readings from JSON-lines files, slows them through
a throttle (so the run lasts long enough to be interrupted), computes keyed
1-minute windows and writes part files, with a checkpoint every second into
a local store. Each test interrupts it somewhere: kill -9 of a worker (and a
replacement started), kill -9 of the coordinator (restarted on the same
--ha-store), or a process dying at a named crash point of the checkpoint
protocol (common/crash_point.h). The job must recover and FINISH, and every
window's final value must equal what this script computes from the input.

The job is exactly-once (the default with checkpoints): the file sink
publishes a part file only once the checkpoint that pre-committed it is
complete. So every window must be in the published files exactly once, with
the right value, and nothing else; no published line is torn, and no hidden
in-progress file is left once the job finished.
"""

import glob
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cluster import Cluster, ClusterTestCase, main, stop_and_report  # noqa: E402

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
OOO_MS = 30_000
WINDOW_MS = 60_000
FILES = 2  # one per source subtask: each file spans the whole time range
EVENTS_PER_FILE = 500_000
DEVICES = 2000

JOB = """
name: e2e-recovery
parallelism: 2
checkpoint: {{interval: 1s, timeout: 30s, retain: 3, store: "file://{store}"}}
restart: {{strategy: fixed, initial_delay: 200ms, max_attempts: 20}}
# Small buffers: a barrier queues behind what the throttle has not let
# through yet, so this keeps checkpoints short (aligned checkpoints wait
# for the backlog; unaligned ones would not).
network: {{buffer_bytes_per_task: 256KiB}}
operators:
  - id: readings
    type: file_source
    path: input
    event_time: {{field: ts, unit: ms}}
    watermark: {{max_out_of_orderness: 30s}}
  - id: slow
    type: throttle
    input: readings
    rate: 50000
  - id: per_device
    type: window
    input: slow
    key_by: [device_id]
    window: {{type: tumbling, size: 1m}}
    aggregates: {{avg_temp: avg(temperature), readings: count(), max_temp: max(temperature)}}
  - id: out
    type: file_sink
    input: per_device
    path: out
"""

_INPUT = None  # (events) shared by every test: writing it takes a few seconds


def write_input(directory):
    """Writes the readings once per run; returns the expected windows."""
    global _INPUT
    if _INPUT is None:
        rng = random.Random(7)
        cache = tempfile.mkdtemp(prefix="sluice-recovery-input-")
        agg = {}
        for f in range(FILES):
            lines = []
            for i in range(EVENTS_PER_FILE):
                ts = START_MS + (i // 200) * 1000 - rng.randint(0, OOO_MS - 1000)
                temp = round(rng.gauss(21.0, 4.0), 3)
                dev = f"dev-{rng.randrange(DEVICES):05d}"
                lines.append(json.dumps({"device_id": dev, "ts": ts, "temperature": temp}))
                a = agg.setdefault((dev, ts // WINDOW_MS * WINDOW_MS), [0, 0.0, float("-inf")])
                a[0] += 1
                a[1] += temp
                a[2] = max(a[2], temp)
            with open(os.path.join(cache, f"readings-{f}.jsonl"), "w") as out:
                out.write("\n".join(lines) + "\n")
        _INPUT = (cache, {k: (c, s / c, m) for k, (c, s, m) in agg.items()})
    cache, expected = _INPUT
    os.symlink(cache, directory)
    return expected


def final_results(directory):
    """The result rows per (device, window) in the published files, as a
    map to the last one (by attempt), with the number of lines that are not
    JSON and the number of windows published more than once."""
    files = []
    for path in glob.glob(os.path.join(directory, "part-*.jsonl")):
        m = re.match(r"part-[0-9a-f]+-(\d+)-(\d+)-(\d+)\.jsonl$", os.path.basename(path))
        files.append((int(m.group(1)), int(m.group(2)), int(m.group(3)), path))
    got, torn, dupes = {}, 0, 0
    for attempt, subtask, n, path in sorted(files):
        with open(path) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    torn += 1
                    continue
                key = (r["device_id"], r["window_start"])
                dupes += key in got
                got[key] = (r["readings"], r["avg_temp"], r["max_temp"], attempt)
    return got, torn, dupes


class RecoveryTestCase(unittest.TestCase):
    SLUICE = None

    def start(self, job_text=None, restart_delay=None, **cluster_args):
        """Starts a cluster and submits the job (JOB, or `job_text`), with
        JOB's restart delay replaced by `restart_delay`."""
        self.cluster = Cluster(self.SLUICE, workers=2, slots=1, heartbeat_timeout=3.0,
                               **cluster_args)
        work = self.cluster.dir
        self.expected = write_input(os.path.join(work, "input"))
        self.job_file = os.path.join(work, "job.yaml")
        with open(self.job_file, "w") as f:
            text = job_text or JOB.format(store=os.path.join(work, "checkpoints"))
            if restart_delay:
                text = text.replace("initial_delay: 200ms", f"initial_delay: {restart_delay}")
            f.write(text)
        result = self.cluster.cli("submit", self.job_file)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.job_id = result.stdout.strip().splitlines()[-1]

    def ha_dir(self):
        self.ha = tempfile.mkdtemp(prefix="sluice-ha-")
        return self.ha

    def tearDown(self):
        if hasattr(self, "ha"):
            shutil.rmtree(self.ha, ignore_errors=True)
        if hasattr(self, "cluster"):
            stop_and_report(self, self.cluster)

    def status(self):
        r = self.cluster.cli("status", self.job_id, timeout=30)
        return r.stdout if r.returncode == 0 else ""

    def wait_for_checkpoint(self, n, deadline_s=60):
        end = time.time() + deadline_s
        while time.time() < end:
            m = re.search(r"last completed checkpoint: (\d+)", self.status())
            if m and int(m.group(1)) >= n:
                return int(m.group(1))
            time.sleep(0.1)
        self.fail(f"no checkpoint {n} within {deadline_s} s:\n{self.status()}")

    def incomplete_checkpoints(self):
        """Checkpoint directories without _metadata, older than the newest
        completed checkpoint."""
        store = os.path.join(self.cluster.dir, "checkpoints", self.job_id)
        ids = [int(d[len("chk-"):]) for d in os.listdir(store) if d.startswith("chk-")]
        complete = [i for i in ids if os.path.exists(os.path.join(store, f"chk-{i}", "_metadata"))]
        return sorted(i for i in ids if i not in complete and i < max(complete, default=0))

    def wait_finished(self, deadline_s=180):
        return self.cluster.wait_finished(self.job_id, deadline_s)

    def check_results(self, min_restarts=1, republished_ok=False):
        """`republished_ok`: the test destroyed a completed checkpoint whose
        output was committed, so the job goes back past it and publishes
        that output again (each window still has its one right value)."""
        text = self.wait_finished()
        m = re.search(r"(\d+) restart\(s\)", text)
        restarts = int(m.group(1)) if m else 0
        out = os.path.join(self.cluster.dir, "out")
        got, torn, dupes = final_results(out)
        missing = set(self.expected) - set(got)
        extra = set(got) - set(self.expected)
        self.assertEqual(len(missing), 0, f"{len(missing)} of {len(self.expected)} windows "
                         f"missing, e.g. {sorted(missing)[:3]}")
        self.assertEqual(len(extra), 0, f"{len(extra)} unexpected windows, e.g. {sorted(extra)[:3]}")
        wrong = []
        for key, (count, avg, mx) in self.expected.items():
            g = got[key]
            if g[0] != count or abs(g[1] - avg) > 1e-9 * max(1.0, abs(avg)) or g[2] != mx:
                wrong.append((key, g, (count, avg, mx)))
        self.assertEqual(len(wrong), 0, f"{len(wrong)} wrong windows, e.g. {wrong[:3]}")
        if not republished_ok:
            self.assertEqual(dupes, 0, f"{dupes} windows published more than once")
        self.assertGreaterEqual(restarts, min_restarts, text)
        self.assertEqual(torn, 0)
        # (A job canceled after a savepoint leaves its last open file hidden.)
        leftovers = [n for n in os.listdir(out)
                     if n.endswith(".inprogress") and n.startswith(f".part-{self.job_id}-")]
        self.assertEqual(leftovers, [], "in-progress files left behind")
        return text


class WorkerLossTest(RecoveryTestCase):

    def kill_worker_after_checkpoint(self, n):
        self.start()
        self.wait_for_checkpoint(n)
        self.cluster.kill("worker1")
        self.cluster.start_worker()
        self.check_results()

    def test_kill_worker_after_first_checkpoint(self):
        self.kill_worker_after_checkpoint(1)

    def test_kill_worker_after_fourth_checkpoint(self):
        self.kill_worker_after_checkpoint(4)

    def test_kill_worker_twice(self):
        self.start()
        self.wait_for_checkpoint(2)
        self.cluster.kill("worker0")
        self.cluster.start_worker()
        self.wait_for_checkpoint(5)
        self.cluster.kill("worker1")
        self.cluster.start_worker()
        self.check_results(min_restarts=2)


class CoordinatorLossTest(RecoveryTestCase):

    def test_coordinator_killed_and_restarted_on_the_same_ha_store(self):
        self.start(coordinator_args=["--ha-store", f"file://{self.ha_dir()}"])
        self.wait_for_checkpoint(2)
        self.cluster.kill("coordinator")
        self.cluster.restart_coordinator()
        text = self.check_results(min_restarts=0)
        self.assertIn("restored from", text)

    def test_a_torn_newest_metadata_falls_back_to_the_checkpoint_before_it(self):
        self.start(coordinator_args=["--ha-store", f"file://{self.ha_dir()}"])
        self.wait_for_checkpoint(3)
        self.cluster.kill("coordinator")
        store = os.path.join(self.cluster.dir, "checkpoints", self.job_id)
        newest = max(int(d[len("chk-"):]) for d in os.listdir(store) if d.startswith("chk-") and
                     os.path.exists(os.path.join(store, d, "_metadata")))
        path = os.path.join(store, f"chk-{newest}", "_metadata")
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:len(data) // 2])
        self.cluster.restart_coordinator()
        text = self.check_results(min_restarts=0, republished_ok=True)
        # Never from the torn one: from the one before it (or, after a later
        # restart, from a newer one).
        m = re.search(r"restored from \S*/chk-(\d+)/_metadata", text)
        self.assertIsNotNone(m, text)
        self.assertNotEqual(int(m.group(1)), newest, text)
        self.assertRegex(self.cluster.logs(),
                         rf"job {self.job_id}: \S*/chk-{newest}/_metadata is not checkpoint "
                         r"metadata; it recovers from the checkpoint before it")


class CorruptCheckpointTest(RecoveryTestCase):

    def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(self):
        # A restart delay long enough to damage the checkpoint it will use.
        self.start(restart_delay="3s")
        store_root = os.path.join(self.cluster.dir, "checkpoints")
        self.wait_for_checkpoint(3)
        self.cluster.kill("worker1")
        end = time.time() + 30
        while time.time() < end and "RESTARTING" not in self.status().split("\n", 1)[0]:
            time.sleep(0.05)
        self.assertIn("RESTARTING", self.status())
        store = os.path.join(store_root, self.job_id)
        newest = max(int(d[len("chk-"):]) for d in os.listdir(store) if d.startswith("chk-") and
                     os.path.exists(os.path.join(store, d, "_metadata")))
        damaged = 0
        for root, _, files in os.walk(os.path.join(store, f"chk-{newest}")):
            for name in files:
                if name != "_metadata":
                    with open(os.path.join(root, name), "ab") as f:
                        f.write(b"x")
                    damaged += 1
        self.assertGreater(damaged, 0)
        self.cluster.start_worker()
        # Output committed by the damaged checkpoint is published again.
        text = self.check_results(republished_ok=True)
        self.assertRegex(self.cluster.logs(),
                         rf"job {self.job_id}: checkpoint {newest} cannot be restored \(.*\); "
                         r"it recovers from checkpoint \d+")
        m = re.search(r"restored from \S*/chk-(\d+)/_metadata", text)
        self.assertIsNotNone(m, text)
        self.assertNotEqual(int(m.group(1)), newest)


class CrashPointTest(RecoveryTestCase):
    """One test per named crash point: the process that reaches it during
    checkpoint 2 dies there; a replacement (or the restarted coordinator)
    carries on, and the results are whole."""

    def crash_worker_at(self, point):
        # Only worker1 carries the crash point; the replacement does not.
        self.start(worker_env=lambda i: {"SLUICE_CRASH_AT": f"{point}@2"} if i == 1 else {})
        code = self.cluster.wait_exit("worker1", timeout=90)
        self.assertEqual(code, 137, self.cluster.logs())
        self.cluster.start_worker()
        self.check_results()
        # What the crash left in the store (checkpoint 2 never completed)
        # is gone once the next attempt completed a checkpoint.
        self.assertEqual(self.incomplete_checkpoints(), [], self.cluster.logs())

    def crash_coordinator_at(self, point):
        self.start(coordinator_args=["--ha-store", f"file://{self.ha_dir()}"],
                   coordinator_env={"SLUICE_CRASH_AT": f"{point}@2"})
        code = self.cluster.wait_exit("coordinator", timeout=90)
        self.assertEqual(code, 137, self.cluster.logs())
        self.cluster.restart_coordinator()
        self.check_results(min_restarts=0)

    def test_worker_after_snapshot(self):
        self.crash_worker_at("worker.after-snapshot")

    def test_worker_after_upload(self):
        self.crash_worker_at("worker.after-upload")

    def test_coordinator_before_metadata(self):
        self.crash_coordinator_at("coordinator.before-metadata")

    def test_coordinator_after_metadata(self):
        self.crash_coordinator_at("coordinator.after-metadata")

    def test_coordinator_after_notify(self):
        self.crash_coordinator_at("coordinator.after-notify")

    def test_sink_before_commit(self):
        self.crash_worker_at("sink.before-commit")

    def test_sink_during_commit(self):
        self.crash_worker_at("sink.during-commit")

    def test_worker_after_restore(self):
        # A replacement that dies right after downloading its state; the
        # next replacement restores the same checkpoint.
        self.start()
        self.wait_for_checkpoint(2)
        self.cluster.kill("worker1")
        doomed = self.cluster.start_worker(env={"SLUICE_CRASH_AT": "worker.after-restore"})
        code = self.cluster.wait_exit(doomed, timeout=90)
        self.assertEqual(code, 137, self.cluster.logs())
        self.cluster.start_worker()
        self.check_results(min_restarts=2)


def tearDownModule():
    if _INPUT is not None:
        shutil.rmtree(_INPUT[0], ignore_errors=True)


if __name__ == "__main__":
    main(RecoveryTestCase, ClusterTestCase)

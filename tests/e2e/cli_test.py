#!/usr/bin/env python3
"""The command line refuses what would misbehave: flags out of range exit 2
with a message naming the flag, a server whose port another process holds
exits 3 naming the port instead of sharing it, and `cancel` of a job that
has ended says so and exits 2. A side output no operator reads keeps its
records at the default location, which `run` and `submit` name.

Usage: cli_test.py --sluice build/tools/sluice
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cluster import free_port, main, read_part_files  # noqa: E402

SLUICE = None


def run(*args, timeout=20):
    return subprocess.run([SLUICE, *args], capture_output=True, text=True, timeout=timeout)


class FlagTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.job = os.path.join(self.dir.name, "job.yaml")
        with open(self.job, "w") as f:
            f.write("name: j\noperators:\n  - {id: g, type: generator, count: 10}\n"
                    "  - {id: s, type: blackhole_sink, input: g}\n")

    def tearDown(self):
        self.dir.cleanup()

    def assertRefused(self, args, flag, says):
        r = run(*args)
        self.assertEqual(r.returncode, 2, f"{args}: {r.stdout}{r.stderr}")
        self.assertIn(flag, r.stderr, args)
        self.assertIn(says, r.stderr, args)

    def test_ports_out_of_range(self):
        self.assertRefused(["coordinator", "--listen", "127.0.0.1:99999"], "--listen",
                           "the port of '127.0.0.1:99999' must be a number from 0 to 65535")
        self.assertRefused(["coordinator", "--listen", "127.0.0.1:-1"], "--listen",
                           "must be a number from 0 to 65535")
        self.assertRefused(["worker", "--listen", "127.0.0.1:70000"], "--listen",
                           "must be a number from 0 to 65535")
        self.assertRefused(["worker", "--coordinator", "localhost"], "--coordinator",
                           "expected HOST:PORT")
        self.assertRefused(["jobs", "--coordinator", "127.0.0.1:0"], "--coordinator",
                           "must be a number from 1 to 65535")
        self.assertRefused(["coordinator", "--metrics-port", "-5"], "--metrics-port", "-5")
        self.assertRefused(["worker", "--metrics-port", "65536"], "--metrics-port", "65536")

    def test_durations(self):
        for value in ["-1", "0", "0.2", "nan", "inf", "1e300"]:
            self.assertRefused(["coordinator", "--heartbeat-timeout", value],
                               "--heartbeat-timeout", "must be a number of seconds from 1")
        for value in ["-5", "nan", "x"]:
            self.assertRefused(["coordinator", "--slot-wait", value], "--slot-wait",
                               "must be a number of seconds from 0")

    def test_counts(self):
        self.assertRefused(["run", self.job, "--workers", "0"], "--workers", "0")
        self.assertRefused(["run", self.job, "--slots", "0"], "--slots", "0")
        self.assertRefused(["worker", "--slots", "0"], "--slots", "0")
        self.assertRefused(["worker", "--slots", "-3"], "--slots", "-3")

    def test_valid_flags_still_work(self):
        r = run("run", self.job, "--workers", "2", "--slots", "1")
        self.assertEqual(r.returncode, 0, r.stderr)


class PortTest(unittest.TestCase):
    def test_a_second_coordinator_on_a_port_in_use_exits_3_naming_it(self):
        port = free_port()
        address = f"127.0.0.1:{port}"
        first = subprocess.Popen([SLUICE, "coordinator", "--listen", address],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = first.stdout.readline()
            self.assertIn(f"listening on {address}", line)
            second = run("coordinator", "--listen", address)
            self.assertEqual(second.returncode, 3, second.stdout + second.stderr)
            self.assertIn(address, second.stderr)
            # The first one still serves.
            self.assertEqual(run("jobs", "--coordinator", address).returncode, 0)
            worker = run("worker", "--coordinator", address, "--listen", address, timeout=30)
            self.assertEqual(worker.returncode, 3, worker.stdout + worker.stderr)
            self.assertIn(address, worker.stderr)
        finally:
            first.terminate()
            first.communicate(timeout=10)


class CancelTest(unittest.TestCase):
    def test_cancel_of_an_ended_job_says_so_and_exits_2(self):
        address = f"127.0.0.1:{free_port()}"
        coordinator = subprocess.Popen([SLUICE, "coordinator", "--listen", address],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with tempfile.TemporaryDirectory() as d:
            try:
                self.assertIn("listening", coordinator.stdout.readline())
                job = os.path.join(d, "job.yaml")
                with open(job, "w") as f:
                    f.write("name: j\noperators:\n  - {id: g, type: generator}\n"
                            "  - {id: s, type: blackhole_sink, input: g}\n")
                submitted = run("submit", job, "--coordinator", address)
                self.assertEqual(submitted.returncode, 0, submitted.stderr)
                job_id = submitted.stdout.strip().splitlines()[-1]
                first = run("cancel", job_id, "--coordinator", address)
                self.assertEqual(first.returncode, 0, first.stderr)
                self.assertIn(f"canceled {job_id}", first.stdout)
                again = run("cancel", job_id, "--coordinator", address)
                self.assertEqual(again.returncode, 2, again.stdout + again.stderr)
                self.assertIn("already ended (CANCELED)", again.stderr)
                self.assertNotIn("canceled", again.stdout)
            finally:
                coordinator.terminate()
                coordinator.communicate(timeout=10)


class UnreadSideOutputTest(unittest.TestCase):
    """A window whose late output nobody reads: the late records land under
    side_outputs/ beside the job's output, every one of them."""

    SIZE_MS = 1000
    OOO_MS = 100

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        self.readings = []
        # In order every 10 ms for 3 s, with a reading 1.5 s old after each
        # 50: late when its window has ended before the watermark.
        for i in range(300):
            self.readings.append({"ts": i * 10, "k": "a", "v": i})
            if i % 50 == 49:
                self.readings.append({"ts": i * 10 - 1500, "k": "b", "v": -i})
        with open(os.path.join(d, "in.jsonl"), "w") as f:
            for r in self.readings:
                f.write(json.dumps(r) + "\n")
        os.makedirs(os.path.join(d, "out"))

    def tearDown(self):
        self.dir.cleanup()

    def job(self, side_outputs=""):
        path = os.path.join(self.dir.name, "job.yaml")
        with open(path, "w") as f:
            f.write(f"""name: unread-late
{side_outputs}
operators:
  - id: src
    type: file_source
    path: in.jsonl
    event_time: {{field: ts, min_time: off}}
    watermark: {{max_out_of_orderness: {self.OOO_MS}ms}}
  - {{id: w, type: window, input: src, key_by: k, window: {{size: 1s}}, aggregates: {{n: count()}}}}
  - {{id: sink, type: file_sink, input: w, path: out/averages}}
""")
        return path

    def expected_late(self):
        """The definition: late when the window's last ms is at or before
        the watermark (max event time so far - out-of-orderness - 1)."""
        late, max_ts = [], None
        for r in self.readings:
            last = r["ts"] - r["ts"] % self.SIZE_MS + self.SIZE_MS - 1
            if max_ts is not None and last <= max_ts - self.OOO_MS - 1:
                late.append(r)
            max_ts = r["ts"] if max_ts is None else max(max_ts, r["ts"])
        return late

    def test_unread_late_records_go_to_the_default_location(self):
        r = run("run", self.job(), timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        where = os.path.join(self.dir.name, "out", "side_outputs", "w.late")
        self.assertIn(f"w.late is read by no operator; its records go to {where}/", r.stdout)
        want = self.expected_late()
        self.assertEqual(len(want), 6)
        got = read_part_files(where)
        self.assertEqual(sorted(g["record"]["v"] for g in got), sorted(x["v"] for x in want))
        for g in got:
            self.assertEqual(g["window_start"], g["record"]["ts"] // 1000 * 1000)
            self.assertEqual(g["window_end"], g["window_start"] + 1000)
        # The source's and the window's dead letters have a place too (empty).
        self.assertIn("src.dead_letter is read by no operator", r.stdout)

    def test_a_path_can_be_set_and_discard_drops_them_counted(self):
        r = run("run", self.job("side_outputs: {path: kept}"), timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        got = read_part_files(os.path.join(self.dir.name, "kept", "w.late"))
        self.assertEqual(len(got), len(self.expected_late()))

        r = run("run", self.job("side_outputs: {discard: true}"), timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("side outputs no operator reads are discarded", r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.dir.name, "out", "side_outputs")))
        # Still counted: the status table's late column for w.
        row = [line.split() for line in r.stdout.splitlines() if line.startswith("w ")]
        self.assertEqual(len(row), 1, r.stdout)
        header = next(line.split() for line in r.stdout.splitlines()
                      if line.startswith("operator"))
        self.assertEqual(int(row[0][header.index("late")]), len(self.expected_late()))


if __name__ == "__main__":
    main(sys.modules[__name__])

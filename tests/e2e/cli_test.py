#!/usr/bin/env python3
"""The command line refuses what would misbehave: flags out of range exit 2
with a message naming the flag, a server whose port another process holds
exits 3 naming the port instead of sharing it, and `cancel` of a job that
has ended says so and exits 2.

Usage: cli_test.py --sluice build/tools/sluice
"""

import argparse
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cluster import free_port  # noqa: E402

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


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", required=True)
    args, rest = parser.parse_known_args()
    SLUICE = os.path.abspath(args.sluice)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)

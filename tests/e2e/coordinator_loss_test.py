#!/usr/bin/env python3
"""A coordinator that dies: a client waiting for a job reports it within
seconds, naming the coordinator; workers cancel the orphaned tasks after
--orphan-timeout; and when a coordinator comes back on the same address, the
workers register with it within a few seconds and run jobs again.

Usage: coordinator_loss_test.py --sluice build/tools/sluice
"""

import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cluster import Cluster, main, stop_and_report  # noqa: E402

SLUICE = None
ORPHAN_TIMEOUT_S = 3


class CoordinatorLossTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(SLUICE, workers=2, slots=1,
                               worker_args=["--orphan-timeout", str(ORPHAN_TIMEOUT_S)])

    def tearDown(self):
        stop_and_report(self, self.cluster)

    def log(self, name):
        with open(os.path.join(self.cluster.dir, f"{name}.log")) as f:
            return f.read()

    def wait_for_log(self, name, pattern, deadline_s):
        end = time.time() + deadline_s
        while time.time() < end:
            if re.search(pattern, self.log(name)):
                return time.time()
            time.sleep(0.05)
        self.fail(f"{name} did not log /{pattern}/ in {deadline_s} s:\n{self.log(name)}")

    def test_clients_and_workers_notice_a_dead_coordinator_and_workers_come_back(self):
        d = self.cluster.dir
        job = os.path.join(d, "endless.yaml")
        with open(job, "w") as f:
            f.write("name: endless\nparallelism: 2\noperators:\n"
                    "  - {id: g, type: generator, devices: 10, rate: 2000}\n"
                    "  - {id: out, type: file_sink, input: g, path: out}\n")
        waiting = subprocess.Popen(
            [SLUICE, "submit", job, "--wait", "--coordinator", self.cluster.coordinator],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Both subtasks run.
        end = time.time() + 30
        while time.time() < end:
            st = self.cluster.cli("jobs")
            if "RUNNING" in st.stdout:
                break
            time.sleep(0.1)
        self.assertIn("RUNNING", st.stdout)
        time.sleep(1)

        self.cluster.kill("coordinator")
        killed = time.time()
        out, err = waiting.communicate(timeout=60)
        client_s = time.time() - killed
        self.assertEqual(waiting.returncode, 3, out + err)
        self.assertIn(f"lost the coordinator at {self.cluster.coordinator}: no answer for 5 s "
                      "while waiting for job", err)
        self.assertLess(client_s, 10, err)
        print(f"client reported the lost coordinator after {client_s:.1f} s", file=sys.stderr)

        # Each worker cancels its task after the grace period, not before.
        for name in ("worker0", "worker1"):
            at = self.wait_for_log(name, r"canceling 1 running task\(s\)", ORPHAN_TIMEOUT_S + 10)
            self.assertGreaterEqual(at - killed, ORPHAN_TIMEOUT_S - 0.5)
        # The sink stops writing: its files stop changing.
        def sizes():
            return sorted((p, os.path.getsize(os.path.join(d, "out", p)))
                          for p in os.listdir(os.path.join(d, "out")))
        time.sleep(1)
        before = sizes()
        time.sleep(1.5)
        self.assertEqual(sizes(), before)

        # A new coordinator on the same address: the workers are back within seconds.
        self.cluster._start("coordinator1", ["coordinator", "--listen", self.cluster.coordinator,
                                             *self.cluster.coordinator_args])
        self.cluster._wait_ready("coordinator1")
        started = time.time()
        self.cluster.procs["coordinator"] = self.cluster.procs.pop("coordinator1")
        for name in ("worker0", "worker1"):
            at = self.wait_for_log(name, "registered again with coordinator", 10)
            self.assertLess(at - started, 5, self.log(name))
            print(f"{name} registered again {at - started:.1f} s after the coordinator started",
                  file=sys.stderr)
        finite = os.path.join(d, "finite.yaml")
        with open(finite, "w") as f:
            f.write("name: finite\nparallelism: 2\noperators:\n"
                    "  - {id: g, type: generator, devices: 10, count: 1000}\n"
                    "  - {id: out, type: file_sink, input: g, path: out2}\n")
        r = self.cluster.cli("submit", finite, "--wait")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("FINISHED", r.stderr)


if __name__ == "__main__":
    main(sys.modules[__name__])

"""Exactly-once at the sink, and checkpoints after a bounded source ended,
with real processes (tests/e2e/cluster.py).

- A bounded job reports FINISHED only after its final checkpoint committed
  its last results: every generated event is in the published part files
  exactly once (by event_id, which the generator numbers 0..count-1), and
  no hidden in-progress file is left.
- A job with a bounded pipeline beside an unbounded one goes on taking
  checkpoints once the bounded source has read everything, the bounded
  pipeline's results get committed by them, and a savepoint completes.
"""

import collections
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from cluster import ClusterTestCase, main, read_part_files  # noqa: E402

BOUNDED = """
name: e2e-bounded-exactly-once
parallelism: 2
checkpoint: {{interval: 1s, store: "file://{store}"}}
operators:
  - {{id: gen, type: generator, count: {count}, devices: 50, rate: 40000}}
  - {{id: out, type: file_sink, input: gen, path: out}}
"""

MIXED = """
name: e2e-mixed
parallelism: 1
checkpoint: {{interval: 500ms, store: "file://{store}"}}
operators:
  - {{id: done, type: generator, count: {count}, devices: 10}}
  - {{id: done_out, type: file_sink, input: done, path: done_out}}
  - {{id: live, type: generator, devices: 10, rate: 2000}}
  - {{id: live_out, type: file_sink, input: live, path: live_out}}
"""


class ExactlyOnceTest(ClusterTestCase):

    def submit(self, template, **values):
        path = os.path.join(self.cluster.dir, "job.yaml")
        with open(path, "w") as f:
            f.write(template.format(store=os.path.join(self.cluster.dir, "chk"), **values))
        r = self.cluster.cli("submit", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip().splitlines()[-1]

    def status(self, job_id):
        return self.cluster.cli("status", job_id, timeout=30).stdout

    def last_checkpoint(self, job_id):
        m = re.search(r"last completed checkpoint: (\d+)", self.status(job_id))
        return int(m.group(1)) if m else 0

    def event_ids(self, directory):
        return collections.Counter(r["event_id"] for r in read_part_files(directory))

    def test_a_bounded_job_finishes_after_committing_its_last_results(self):
        count = 60_000
        job = self.submit(BOUNDED, count=count)
        text = self.cluster.wait_finished(job, 120)
        self.assertIn("FINISHED", text.splitlines()[0], text)
        out = os.path.join(self.cluster.dir, "out")
        ids = self.event_ids(out)
        self.assertEqual(set(ids), set(range(count)), "every event, and nothing else")
        self.assertEqual([i for i, n in ids.items() if n > 1][:5], [], "no event twice")
        self.assertEqual([n for n in os.listdir(out) if n.startswith(".")], [])

    def test_checkpoints_and_a_savepoint_go_on_after_a_bounded_source_ended(self):
        count = 5_000
        job = self.submit(MIXED, count=count)
        done_out = os.path.join(self.cluster.dir, "done_out")
        # The bounded pipeline's results become visible once a checkpoint
        # taken after it finished completes.
        deadline = time.time() + 60
        while time.time() < deadline and sum(self.event_ids(done_out).values()) < count:
            time.sleep(0.2)
        ids = self.event_ids(done_out)
        self.assertEqual(set(ids), set(range(count)))
        self.assertEqual(max(ids.values()), 1)
        first = self.last_checkpoint(job)
        deadline = time.time() + 30
        while time.time() < deadline and self.last_checkpoint(job) < first + 3:
            time.sleep(0.2)
        self.assertGreaterEqual(self.last_checkpoint(job), first + 3, self.status(job))

        started = time.time()
        sp = self.cluster.cli("savepoint", job, "--name", "mixed", timeout=90)
        self.assertEqual(sp.returncode, 0, sp.stderr + sp.stdout)
        self.assertLess(time.time() - started, 30)
        self.assertIn("savepoints/mixed/_metadata", sp.stdout)
        self.assertIn("RUNNING", self.status(job).splitlines()[0])
        self.assertEqual(sum(self.event_ids(done_out).values()), count)  # nothing again


if __name__ == "__main__":
    main(ExactlyOnceTest)

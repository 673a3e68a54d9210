"""A savepoint written before the operator catalog restores exactly.

fixtures/pre_catalog/ holds a savepoint of a job with both sources that
existed then (a file_source behind a throttle into a keyed window, and a
generator), taken by the build before the catalog (make_fixture.py, commit
808089e) midway through its input, with --cancel, and the part files that
job had published. Its source positions are in the old shared
SourcePosition message and its settings in the old oneof fields.

This build restores it on separate processes and runs the job to its end.
The old part files and the new ones together must hold every window of the
input exactly once with the count and sum computed here from the input
file, and every generated event exactly once: nothing lost, nothing twice.
"""

import collections
import json
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cluster import Cluster, main, read_part_files, stop_and_report  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "pre_catalog")
# Where the fixture was made: a file source's position names its files by
# their full path, so the savepoint restores only there.
WORK = "/tmp/sluice-fixture-pre-catalog"
WINDOW_MS = 60_000
EVENTS = 3000


def expected_windows(path):
    """{(device, window_start): (count, sum)} of 1-minute tumbling windows."""
    windows = collections.defaultdict(lambda: [0, 0])
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            w = windows[(r["device"], r["ts"] - r["ts"] % WINDOW_MS)]
            w[0] += 1
            w[1] += r["value"]
    return {k: tuple(v) for k, v in windows.items()}


class PreCatalogRestoreTest(unittest.TestCase):
    SLUICE = None

    def setUp(self):
        shutil.rmtree(WORK, ignore_errors=True)
        shutil.copytree(FIXTURE, WORK, ignore=shutil.ignore_patterns("*.py", "README.md"))
        self.cluster = Cluster(self.SLUICE, workers=1, slots=1)

    def tearDown(self):
        stop_and_report(self, self.cluster)
        shutil.rmtree(WORK, ignore_errors=True)

    def test_a_savepoint_from_before_the_catalog_restores_without_loss_or_duplicates(self):
        old_windows = read_part_files(os.path.join(WORK, "out", "windows"))
        old_events = read_part_files(os.path.join(WORK, "out", "events"))
        # The savepoint was taken midway: some output before it, not all.
        self.assertTrue(0 < len(old_events) < EVENTS, len(old_events))
        self.assertGreater(len(old_windows), 0)

        r = self.cluster.cli("submit", os.path.join(WORK, "job.yaml"), "--restore", "pre-catalog")
        self.assertEqual(r.returncode, 0, r.stderr)
        job_id = r.stdout.strip().splitlines()[-1]
        text = self.cluster.wait_finished(job_id, deadline_s=120)
        self.assertRegex(text, r"restored from file://\S*/savepoints/pre-catalog/_metadata")

        windows = read_part_files(os.path.join(WORK, "out", "windows"))
        got = collections.Counter(
            (w["device"], w["window_start"], w["window_end"], w["n"], w["total"]) for w in windows)
        want = collections.Counter((device, start, start + WINDOW_MS, n, float(total))
                                   for (device, start), (n, total) in
                                   expected_windows(os.path.join(WORK, "readings.jsonl")).items())
        self.assertEqual(got, want)
        self.assertGreater(len(windows), len(old_windows))

        ids = sorted(e["event_id"] for e in read_part_files(os.path.join(WORK, "out", "events")))
        self.assertEqual(ids, list(range(EVENTS)))


if __name__ == "__main__":
    main(PreCatalogRestoreTest)

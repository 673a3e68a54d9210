"""A short run of tools/chaos.py, the chaos tool users run against their
build: worker kills, coordinator kills and paused workers during a job that
writes to the file sink and to a real PostgreSQL (tests/support/
postgres_server.py). The tool computes the expected event_ids itself and
prints a verdict; this test checks that verdict and its figures.

- exactly-once: zero missing and zero duplicated rows, in the files and in
  the table;
- at-least-once with input duplicates, a dedup operator and an upserting
  PostgreSQL sink: zero missing rows anywhere, and zero duplicated rows in
  the table (upsert makes a replay's repeats vanish). The file sink may
  publish a replay's rows again: dedup removes duplicated input events, not
  a replay's, since its state goes back with the checkpoint.
"""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from postgres_server import PostgresServer  # noqa: E402

CHAOS = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "chaos.py")


class ChaosTest(unittest.TestCase):
    SLUICE = None

    def chaos(self, *args, file_duplicates_ok=False):
        with PostgresServer() as pg:
            r = subprocess.run([sys.executable, CHAOS, "--sluice", self.SLUICE, "--quiet",
                                "--postgres-dsn", pg.dsn, *args],
                               capture_output=True, text=True, timeout=600)
        print(r.stdout, file=sys.stderr)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        summary = r.stdout.strip().splitlines()[-1]
        m = re.match(r"chaos: (\d+) runs?, (\d+) faults? survived, (\d+) missing, "
                     r"(\d+) duplicated: PASS", summary)
        self.assertIsNotNone(m, summary)
        self.assertEqual(int(m.group(3)), 0, summary)
        if not file_duplicates_ok:
            self.assertEqual(int(m.group(4)), 0, summary)
        self.assertGreaterEqual(int(m.group(2)), 1, summary)
        # The table: every event_id once, whatever the mode.
        for line in r.stdout.splitlines():
            if line.startswith("run "):
                self.assertRegex(line, r"postgres: 40000 rows, 0 missing, 0 duplicated")
        return r.stdout

    def test_exactly_once_through_kills_and_pauses(self):
        self.chaos("--runs", "1", "--seed", "5", "--kills-per-run", "4", "--events", "40000")

    def test_at_least_once_with_upsert_leaves_no_duplicates_in_the_table(self):
        self.chaos("--runs", "1", "--seed", "3", "--kills-per-run", "3", "--events", "40000",
                   "--delivery", "at_least_once", "--dedup", "--upsert",
                   "--duplicate-rate", "0.05", file_duplicates_ok=True)


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", required=True)
    args, rest = parser.parse_known_args()
    ChaosTest.SLUICE = os.path.abspath(args.sluice)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)

"""postgres_sink against a real PostgreSQL (tests/support/postgres_server.py),
with real sluice processes (tests/e2e/cluster.py).

The generator numbers its events 0..count-1 (`event_id`), so the expected
table is known without sluice: every event_id exactly once.

- Exactly-once (two-phase commit): a worker killed in the middle of a run;
  then the table holds every event once, and no prepared transaction is
  left behind.
- A PostgreSQL restart in the middle of a run: the job fails over,
  recovers, and the table ends exactly right.
- A server without max_prepared_transactions: the job fails at start with
  a message that says so.
- At-least-once with upsert on event_id, with duplicated input events and a
  worker killed: each event_id once (upsert makes retries idempotent).
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from cluster import Cluster, main, stop_and_report  # noqa: E402
from postgres_server import PostgresServer  # noqa: E402

TABLE = """CREATE TABLE readings (event_id bigint, device_id text, ts bigint,
    temperature double precision, humidity double precision)"""
TABLE_WITH_KEY = TABLE.replace("event_id bigint", "event_id bigint PRIMARY KEY")

JOB = """
name: e2e-postgres
parallelism: 2
checkpoint: {{interval: 500ms, store: "file://{store}"}}
restart: {{strategy: fixed, initial_delay: 300ms, max_attempts: {attempts}}}
{delivery}
operators:
  - {{id: gen, type: generator, count: {count}, devices: 100, rate: {rate},
      duplicate_rate: {duplicates}}}
  - {{id: pg, type: postgres_sink, input: gen, dsn: "{dsn}", table: readings, {mode}}}
"""


class PostgresSinkTest(unittest.TestCase):
    SLUICE = None

    def setUp(self):
        self.cluster = None
        self.pg = None

    def tearDown(self):
        if self.cluster is not None:
            stop_and_report(self, self.cluster)
        if self.pg is not None:
            result = self._outcome.result
            if result and (result.errors or result.failures):
                print("--- postgres.log ---\n" + self.pg.log()[-4000:], file=sys.stderr)
            self.pg.close()

    def start(self, table=TABLE, count=40_000, rate=8000, duplicates=0.0, mode="mode: insert",
              delivery="", attempts=50, **pg_args):
        self.pg = PostgresServer(**pg_args).start()
        self.pg.execute(table)
        self.cluster = Cluster(self.SLUICE, workers=2, slots=2, heartbeat_timeout=2.0)
        job = os.path.join(self.cluster.dir, "job.yaml")
        with open(job, "w") as f:
            f.write(JOB.format(store=os.path.join(self.cluster.dir, "chk"), count=count, rate=rate,
                               duplicates=duplicates, dsn=self.pg.dsn, mode=mode,
                               delivery=delivery, attempts=attempts))
        r = self.cluster.cli("submit", job)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.job_id = r.stdout.strip().splitlines()[-1]
        self.count = count

    def rows(self):
        return int(self.pg.query("SELECT count(*) FROM readings")[0][0])

    def wait_rows(self, at_least, deadline_s=60):
        end = time.time() + deadline_s
        while time.time() < end and self.rows() < at_least:
            time.sleep(0.2)
        self.assertGreaterEqual(self.rows(), at_least)

    def check_table(self):
        total, distinct, low, high = self.pg.query(
            "SELECT count(*), count(DISTINCT event_id), min(event_id), max(event_id) "
            "FROM readings")[0]
        self.assertEqual(int(distinct), self.count, "every event")
        self.assertEqual((int(low), int(high)), (0, self.count - 1))
        self.assertEqual(int(total), self.count, "no event twice")
        self.assertEqual(self.pg.query("SELECT gid FROM pg_prepared_xacts"), [],
                         "prepared transactions left behind")

    def test_exactly_once_through_a_worker_kill(self):
        self.start()
        self.wait_rows(5_000)
        self.cluster.kill("worker1")
        self.cluster.start_worker()
        text = self.cluster.wait_finished(self.job_id, 180)
        self.assertRegex(text, r"[1-9]\d* restart\(s\)")
        self.check_table()

    def test_without_faults_the_job_never_restarts(self):
        # Commits of prepared transactions go on while the next one is open.
        self.start(count=20_000, rate=10_000)
        text = self.cluster.wait_finished(self.job_id, 120)
        m = re.search(r"(\d+) restart\(s\)", text)
        self.assertEqual(int(m.group(1)) if m else 0, 0, text)
        self.check_table()

    def test_a_postgres_restart_in_the_middle_of_a_run(self):
        self.start()
        self.wait_rows(5_000)
        self.pg.stop()
        time.sleep(2)
        self.pg.start()
        self.cluster.wait_finished(self.job_id, 180)
        self.check_table()

    def test_a_server_without_prepared_transactions_is_refused_at_start(self):
        self.start(max_prepared_transactions=0, attempts=1)
        end = time.time() + 60
        text = ""
        while time.time() < end and "FAILED" not in text.split("\n", 1)[0]:
            text = self.cluster.cli("status", self.job_id).stdout
            time.sleep(0.3)
        self.assertIn("FAILED", text.split("\n", 1)[0], text)
        self.assertIn("max_prepared_transactions", text)
        self.assertEqual(self.rows(), 0)

    def test_at_least_once_with_upsert_writes_each_key_once(self):
        self.start(table=TABLE_WITH_KEY, duplicates=0.05, mode="mode: upsert, key: [event_id]",
                   delivery="delivery: at_least_once")
        self.wait_rows(5_000)
        self.cluster.kill("worker0")
        self.cluster.start_worker()
        self.cluster.wait_finished(self.job_id, 180)
        self.check_table()


if __name__ == "__main__":
    main(PostgresSinkTest)

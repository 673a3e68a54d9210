"""Savepoints to S3 and named restore, with real processes.

A real S3-protocol server (s3rver behind a signature-verifying proxy,
tests/support/s3_server.py) holds the job's checkpoints and savepoints. The
test runs the recovery test's keyed-window job, takes a savepoint with
--cancel, submits the same job file again with --restore NAME, lets it
finish, and compares the final result of every window with what it computes
from the input. Restoring a name that does not exist fails with a message
that lists what does.
"""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import recovery_test  # noqa: E402
from cluster import main  # noqa: E402
from recovery_test import RecoveryTestCase, final_results  # noqa: E402
from s3_server import S3Server  # noqa: E402

S3_JOB_HEAD = """
name: e2e-savepoint
parallelism: 2
checkpoint: {{interval: 1s, retain: 2, store: "s3://{bucket}/sluice",
             s3: {{endpoint: "{endpoint}", region: us-east-1, path_style: true}}}}
"""


class SavepointTest(RecoveryTestCase):

    def setUp(self):
        self.s3_dir = tempfile.mkdtemp(prefix="sluice-s3-")
        self.s3 = S3Server(self.s3_dir)
        self.s3.__enter__()

    def tearDown(self):
        super().tearDown()
        self.s3.__exit__(None, None, None)
        shutil.rmtree(self.s3_dir, ignore_errors=True)

    def test_savepoint_to_s3_cancel_then_restore_by_name_gives_the_uninterrupted_results(self):
        env = {"AWS_ACCESS_KEY_ID": self.s3.access_key, "AWS_SECRET_ACCESS_KEY": self.s3.secret_key}
        # The recovery test's job, with its store on S3.
        job = (S3_JOB_HEAD.format(bucket=self.s3.bucket, endpoint=self.s3.endpoint) + "restart:" +
               recovery_test.JOB.split("restart:", 1)[1].replace("{{", "{").replace("}}", "}"))
        self.start(job_text=job, env=env)
        self.wait_for_checkpoint(2)

        sp = self.cluster.cli("savepoint", self.job_id, "--name", "before-upgrade", "--cancel")
        self.assertEqual(sp.returncode, 0, sp.stderr + sp.stdout)
        self.assertIn(f"s3://{self.s3.bucket}/sluice/savepoints/before-upgrade/_metadata",
                      sp.stdout)
        self.assertIn("CANCELED", self.status().splitlines()[0])
        listed = self.cluster.cli("checkpoints", self.job_id)
        self.assertIn("before-upgrade (savepoint)", listed.stdout)

        bad = self.cluster.cli("submit", self.job_file, "--restore", "after-upgrade")
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("nothing to restore named 'after-upgrade'", bad.stderr)
        self.assertIn("Savepoints: before-upgrade", bad.stderr)

        restored = self.cluster.cli("submit", self.job_file, "--restore", "before-upgrade")
        self.assertEqual(restored.returncode, 0, restored.stderr)
        self.job_id = restored.stdout.strip().splitlines()[-1]
        text = self.check_results(min_restarts=0)
        self.assertIn("restored from s3://", text)


if __name__ == "__main__":
    main(RecoveryTestCase)

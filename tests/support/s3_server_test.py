#!/usr/bin/python3
"""Checks that s3_server.py's proxy judges requests as S3 does.

Requests are made with the curl command-line tool (the same libcurl SigV4
signer as the C++ store) and with botocore (an independent signer): correct
ones pass, and each mistake the C++ client must avoid with curl 7.88 fails.
Run with /usr/bin/python3 (Debian's python3-botocore).
"""

import hashlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3_server  # noqa: E402

import botocore.session  # noqa: E402
from botocore.auth import S3SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

EMPTY_SHA = hashlib.sha256(b"").hexdigest()


class S3ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="sluice-s3-selftest-")
        cls.s3 = s3_server.S3Server(cls.dir.name).start()
        cls.bucket_url = f"{cls.s3.endpoint}/{cls.s3.bucket}"

    @classmethod
    def tearDownClass(cls):
        node = cls.s3._node
        cls.s3.stop()
        assert node.poll() is not None, "s3rver still running after stop()"
        cls.dir.cleanup()

    def curl(self, url, *args, secret=None, sha=EMPTY_SHA):
        """Runs curl with SigV4; returns (HTTP status, body)."""
        cmd = ["curl", "-sS", "--noproxy", "*", "--aws-sigv4", "aws:amz:us-east-1:s3",
               "--user", f"{self.s3.access_key}:{secret or self.s3.secret_key}",
               "-o", "-", "-w", "\n%{http_code}"]
        if sha is not None:
            cmd += ["-H", f"x-amz-content-sha256: {sha}"]
        out = subprocess.run(cmd + list(args) + [url], capture_output=True, check=True).stdout
        body, _, status = out.rpartition(b"\n")
        return int(status), body.decode(errors="replace")

    def put(self, key, data, **kw):
        path = os.path.join(self.dir.name, "upload")
        with open(path, "wb") as f:
            f.write(data)
        kw.setdefault("sha", hashlib.sha256(data).hexdigest())
        return self.curl(f"{self.bucket_url}/{key}", "-T", path, **kw)

    def test_correct_requests_pass(self):
        self.assertEqual(self.put("ok/a%20b", b"hello")[0], 200)
        self.assertEqual(self.curl(f"{self.bucket_url}/ok/a%20b"), (200, "hello"))
        status, body = self.curl(f"{self.bucket_url}?list-type=2&prefix=ok%2Fa")
        self.assertEqual(status, 200)
        self.assertIn("<Key>ok/a b</Key>", body)

    def test_missing_payload_hash_header(self):
        # curl 7.88 does not send x-amz-content-sha256 by itself.
        status, body = self.curl(f"{self.bucket_url}/x", sha=None)
        self.assertEqual(status, 400)
        self.assertIn("x-amz-content-sha256", body)

    def test_unsorted_query_is_a_bad_signature(self):
        # curl 7.88 signs the query string in the order given.
        status, body = self.curl(f"{self.bucket_url}?prefix=ok&list-type=2")
        self.assertEqual(status, 403)
        self.assertIn("SignatureDoesNotMatch", body)

    def test_unencoded_query_value_is_a_bad_signature(self):
        # curl 7.88 signs query values as given; S3 signs them RFC 3986-encoded.
        status, body = self.curl(f"{self.bucket_url}?list-type=2&prefix=ok/a")
        self.assertEqual(status, 403)
        self.assertIn("SignatureDoesNotMatch", body)

    def test_wrong_secret(self):
        status, body = self.curl(f"{self.bucket_url}/x", secret="not-the-secret")
        self.assertEqual(status, 403)
        self.assertIn("<Code>SignatureDoesNotMatch</Code>", body)

    def test_body_must_match_its_hash(self):
        status, body = self.put("x", b"actual", sha=hashlib.sha256(b"claimed").hexdigest())
        self.assertEqual(status, 400)
        self.assertIn("XAmzContentSHA256Mismatch", body)
        self.assertEqual(self.put("x", b"unsigned", sha="UNSIGNED-PAYLOAD")[0], 200)

    def raw(self, method, path, sign_headers, send_headers):
        """Signs `sign_headers` with botocore, then sends `send_headers`
        (plus the signature) with http.client: (status, body)."""
        request = AWSRequest(method=method, url=f"{self.s3.endpoint}{path}",
                             headers=dict(sign_headers))
        S3SigV4Auth(Credentials(self.s3.access_key, self.s3.secret_key), "s3",
                    self.s3.region).add_auth(request)
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("authorization", "x-amz-date", "x-amz-content-sha256")}
        headers.update(send_headers)
        conn = http.client.HTTPConnection(self.s3.endpoint.split("//")[1])
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        result = response.status, response.read().decode()
        conn.close()
        return result

    def test_signed_request_passes(self):
        self.assertEqual(self.raw("GET", f"/{self.s3.bucket}?list-type=2", {}, {})[0], 200)

    def test_unsigned_amz_header(self):
        status, body = self.raw("GET", f"/{self.s3.bucket}?list-type=2", {},
                                {"x-amz-meta-extra": "1"})
        self.assertEqual(status, 403)
        self.assertIn("x-amz-meta-extra", body)

    def test_signed_header_not_sent(self):
        status, body = self.raw("GET", f"/{self.s3.bucket}?list-type=2",
                                {"x-amz-meta-gone": "1"}, {})
        self.assertEqual(status, 403)
        self.assertIn("x-amz-meta-gone", body)

    def test_botocore_client(self):
        client = botocore.session.get_session().create_client(
            "s3", region_name=self.s3.region, endpoint_url=self.s3.endpoint,
            aws_access_key_id=self.s3.access_key, aws_secret_access_key=self.s3.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                          proxies={}))
        data = os.urandom(3 << 20)
        client.put_object(Bucket=self.s3.bucket, Key="boto/k&v+=?", Body=data)
        got = client.get_object(Bucket=self.s3.bucket, Key="boto/k&v+=?")["Body"].read()
        self.assertEqual(got, data)
        listing = client.list_objects_v2(Bucket=self.s3.bucket, Prefix="boto/", MaxKeys=1)
        self.assertEqual([o["Key"] for o in listing["Contents"]], ["boto/k&v+=?"])

    def test_control_hooks(self):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        opener.open(urllib.request.Request(
            f"{self.s3.endpoint}/__control/fail?status=503&count=1&method=GET", method="POST"))
        self.assertEqual(self.curl(f"{self.bucket_url}/x")[0], 503)
        stats = json.load(opener.open(f"{self.s3.endpoint}/__control/stats"))
        self.assertGreater(stats["requests"]["GET"], 0)


class CommandLineTest(unittest.TestCase):
    def test_prints_info_and_stops_when_stdin_closes(self):
        proc = subprocess.Popen(["/usr/bin/python3", s3_server.__file__], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
        info = json.loads(proc.stdout.readline())
        self.assertTrue(info["endpoint"].startswith("http://127.0.0.1:"))
        s3rver_port = info["s3rver_endpoint"].rsplit(":", 1)[1]
        proc.stdin.close()
        self.assertEqual(proc.wait(timeout=10), 0)
        proc.stdout.close()
        # Nothing listens on s3rver's port any more.
        with self.assertRaises(OSError):
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                f"http://127.0.0.1:{s3rver_port}/", timeout=2)


if __name__ == "__main__":
    unittest.main()

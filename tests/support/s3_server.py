#!/usr/bin/python3
"""A real S3-compatible server for tests: s3rver behind a SigV4-verifying proxy.

s3rver 3.7.1 (npm) stores objects faithfully but does not verify SigV4
signatures. This module puts a small reverse proxy in front of it that
recomputes each request's signature with botocore (Debian's python3-botocore)
and answers like S3 when it does not match (403 SignatureDoesNotMatch), so a
client that signs wrongly fails here as it would against AWS.

What the proxy checks, as S3 does:
  * the Authorization header (AWS4-HMAC-SHA256 only), the access key, and a
    credential scope of the right date, region and service `s3`;
  * the signature over exactly the headers named in SignedHeaders, the
    canonical URI (the path decoded and re-encoded per RFC 3986) and the
    canonical query string (each name and value decoded, re-encoded, sorted);
  * that every x-amz-* header sent is signed, x-amz-date is within 15 minutes;
  * x-amz-content-sha256 is present; when it is a hex hash, the body's
    SHA-256 matches it (400 XAmzContentSHA256Mismatch); UNSIGNED-PAYLOAD is
    accepted; aws-chunked streaming payloads are refused (501).
Accepted requests are forwarded without the Authorization header (s3rver
serves anonymous requests) and the response is relayed; bodies are streamed
(request bodies are spooled to disk past 8 MiB, because the hash must be
checked before anything reaches s3rver). Requests for the same object are
serialized, because s3rver overwrites objects in place and S3 does not.

Test hooks, unsigned, on the proxy itself:
  POST /__control/fail?status=503&count=2[&method=PUT]
      the next `count` matching requests get `status` with an S3 error body
      (SlowDown for 503, InternalError otherwise) without reaching s3rver;
  GET /__control/stats
      JSON {"requests": {method: n}, "rejected": n}: verified requests seen.

Use from Python:
    with S3Server(tmpdir) as s3:
        s3.endpoint, s3.bucket, s3.access_key, s3.secret_key

From the command line (C++ tests run it as a subprocess):
    /usr/bin/python3 tests/support/s3_server.py [--dir DIR]
(default: a fresh temp directory, removed on exit) prints one JSON line {"endpoint", "bucket", "access_key", "secret_key",
"region", "s3rver_endpoint"} when ready and runs until SIGTERM, SIGINT or its
stdin closes; s3rver is stopped whenever this process exits (and s3rver also
exits by itself when this process dies, since it watches its stdin pipe).

s3rver comes from npm: tools/install-deps.sh installs s3rver@3.7.1 into
${SLUICE_TOOLS_DIR:-~/.cache/sluice-tools}/node_modules/s3rver.
"""

import argparse
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import xml.sax.saxutils

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

S3RVER_VERSION = "3.7.1"
DEFAULT_ACCESS_KEY = "S3RVER"
DEFAULT_SECRET_KEY = "S3RVER"
DEFAULT_BUCKET = "sluice-test"
DEFAULT_REGION = "us-east-1"

_SPOOL_IN_MEMORY_BYTES = 8 << 20
_COPY_CHUNK = 256 << 10
_MAX_SKEW = datetime.timedelta(minutes=15)
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
               "trailer", "upgrade", "expect"}
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,"
    r"\s*Signature=([0-9a-f]{64})\s*$")

# s3rver is started through its JavaScript API so that it can bind port 0 and
# report the port it got (no race for a "free" port), and exit when its stdin
# (a pipe from this process) closes, so it never outlives us. It encrypts its
# ListObjectsV2 continuation tokens with DES, which Node >= 17 (OpenSSL 3) only
# offers with --openssl-legacy-provider; without it every truncated listing
# fails with 500 InternalError.
_S3RVER_LAUNCHER = r"""
const [modulePath, directory, bucket] = process.argv.slice(1);
const S3rver = require(modulePath);
const server = new S3rver({port: 0, address: '127.0.0.1', silent: true, directory,
                           configureBuckets: [{name: bucket, configs: []}]});
server.run().then((addr) => {
  process.stdout.write(JSON.stringify({port: addr.port}) + '\n');
}, (err) => { console.error(err); process.exit(1); });
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
"""


def tools_dir():
    return os.environ.get("SLUICE_TOOLS_DIR") or os.path.expanduser("~/.cache/sluice-tools")


def s3rver_module():
    """The installed s3rver package directory, or raises with what to do."""
    path = os.path.join(tools_dir(), "node_modules", "s3rver")
    try:
        with open(os.path.join(path, "package.json")) as f:
            version = json.load(f).get("version")
    except OSError:
        raise RuntimeError(f"s3rver is not installed in {tools_dir()}: run tools/install-deps.sh")
    if version != S3RVER_VERSION:
        raise RuntimeError(f"{path} is s3rver {version}, want {S3RVER_VERSION}: "
                           "run tools/install-deps.sh")
    return path


class _Reject(Exception):
    """An S3-style error answer: HTTP status, S3 error code, message."""

    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _s3_error_xml(code, message, resource="", **extra):
    esc = xml.sax.saxutils.escape
    parts = [f"<Code>{esc(code)}</Code>", f"<Message>{esc(message)}</Message>"]
    for name, value in extra.items():
        parts.append(f"<{name}>{esc(str(value))}</{name}>")
    parts.append(f"<Resource>{esc(resource)}</Resource><RequestId>0</RequestId>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) +
            "</Error>").encode()


class _Verifier(S3SigV4Auth):
    """botocore's S3 SigV4 signer, fed the headers the client said it signed
    and the canonical query string S3 computes, instead of choosing its own."""

    def __init__(self, credentials, region, signed_headers):
        super().__init__(credentials, "s3", region)
        self._signed = signed_headers  # HTTPHeaders, lower-case names

    def headers_to_sign(self, request):
        return self._signed


def _canonical_query_pairs(raw_query):
    """The query as (name, value) pairs, each percent-decoded; botocore then
    re-encodes them per RFC 3986 and sorts them, as S3 does. '+' is kept as a
    literal plus, which is what S3 makes of it when computing the signature."""
    pairs = []
    if not raw_query:
        return pairs
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((urllib.parse.unquote(name, errors="strict"),
                      urllib.parse.unquote(value, errors="strict")))
    return pairs


class _Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Enough for a burst of parallel test connections.
    request_queue_size = 128

    def __init__(self, upstream_port, access_key, secret_key, region, spool_dir):
        self.upstream_port = upstream_port
        self.access_key = access_key
        self.credentials = Credentials(access_key, secret_key)
        self.region = region
        self.spool_dir = spool_dir
        self.lock = threading.Lock()
        self.faults = []  # [{"status", "count", "method"}]
        self.key_locks = {}  # object path -> threading.Lock
        self.stats = {"requests": {}, "rejected": 0}
        super().__init__(("127.0.0.1", 0), _Handler)

    def key_lock(self, path):
        """One lock per object (path /bucket/key), None for bucket requests.

        s3rver writes an object in place (truncate, then write) and its
        metadata after it, so a GET racing a PUT of the same key can read a
        short object under the old length and stall. S3 replaces objects
        atomically; serializing requests per key gives the same guarantee."""
        raw_path = path.partition("?")[0]
        if raw_path.strip("/").count("/") == 0:
            return None
        with self.lock:
            return self.key_locks.setdefault(raw_path, threading.Lock())

    def take_fault(self, method):
        with self.lock:
            for fault in self.faults:
                if fault["method"] in (None, method) and fault["count"] > 0:
                    fault["count"] -= 1
                    return fault["status"]
        return None

    def count(self, method=None, rejected=False):
        with self.lock:
            if rejected:
                self.stats["rejected"] += 1
            else:
                self.stats["requests"][method] = self.stats["requests"].get(method, 0) + 1


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sluice-s3-verifier"
    # Headers and body go out in separate writes; with Nagle's algorithm the
    # body would wait for the client's delayed ACK (40 ms a request).
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: tests read stderr only on failure
        pass

    # --- verification -------------------------------------------------------------

    def _verify_headers(self):
        """Checks the signature (everything but the body hash). Returns the
        declared x-amz-content-sha256. Raises _Reject."""
        auth = self.headers.get("Authorization")
        if auth is None:
            raise _Reject(403, "AccessDenied", "Anonymous access is not allowed by this proxy")
        m = _AUTH_RE.match(auth.strip())
        if not m:
            raise _Reject(400, "AuthorizationHeaderMalformed",
                          "The authorization header is malformed; expected AWS4-HMAC-SHA256 "
                          "Credential=..., SignedHeaders=..., Signature=...")
        credential, signed_names, signature = m.groups()
        scope = credential.split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise _Reject(400, "AuthorizationHeaderMalformed", "The credential is malformed")
        access_key, scope_date, scope_region, scope_service, _ = scope
        if access_key != self.server.access_key:
            raise _Reject(403, "InvalidAccessKeyId",
                          "The AWS Access Key Id you provided does not exist in our records.")
        amz_date = self.headers.get("x-amz-date")
        if amz_date is None:
            raise _Reject(403, "AccessDenied", "AWS authentication requires a valid x-amz-date")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise _Reject(403, "AccessDenied", f"x-amz-date '{amz_date}' is malformed")
        if abs(datetime.datetime.utcnow() - when) > _MAX_SKEW:
            raise _Reject(403, "RequestTimeTooSkewed",
                          "The difference between the request time and the current time is "
                          "too large.")
        if scope_date != amz_date[:8] or scope_region != self.server.region or \
                scope_service != "s3":
            raise _Reject(400, "AuthorizationHeaderMalformed",
                          f"The authorization header is malformed; the credential scope "
                          f"'{scope_date}/{scope_region}/{scope_service}' is wrong; expecting "
                          f"'{amz_date[:8]}/{self.server.region}/s3'")

        names = signed_names.split(";")
        if names != sorted(set(names)) or "host" not in names:
            raise _Reject(400, "AuthorizationHeaderMalformed",
                          "SignedHeaders must be sorted, unique, lower-case and include host")
        present = {k.lower() for k in self.headers.keys()}
        unsigned = sorted(h for h in present if h.startswith("x-amz-") and h not in names)
        if unsigned:
            raise _Reject(403, "AccessDenied",
                          "There were headers present in the request which were not signed",
                          HeadersNotSigned=", ".join(unsigned))
        signed = HTTPHeaders()
        for name in names:
            values = self.headers.get_all(name)
            if values is None:
                raise _Reject(403, "AccessDenied",
                              f"Signed header '{name}' is missing from the request")
            for v in values:
                signed[name] = v

        content_sha = self.headers.get("x-amz-content-sha256")
        if content_sha is None:
            raise _Reject(400, "InvalidRequest",
                          "Missing required header for this request: x-amz-content-sha256")
        if content_sha.startswith("STREAMING-"):
            raise _Reject(501, "NotImplemented", "aws-chunked payloads are not supported here")
        if content_sha != "UNSIGNED-PAYLOAD" and not _HEX_SHA256.match(content_sha):
            raise _Reject(400, "InvalidArgument",
                          "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a lower-case "
                          "hex SHA-256")

        raw_path, _, raw_query = self.path.partition("?")
        try:
            canonical_path = urllib.parse.quote(urllib.parse.unquote_to_bytes(raw_path),
                                                safe="/~")
            params = _canonical_query_pairs(raw_query)
        except UnicodeDecodeError:
            raise _Reject(400, "InvalidArgument", "The query string is not valid UTF-8")
        request = AWSRequest(method=self.command, url=f"http://proxy{canonical_path}",
                             headers={"X-Amz-Content-SHA256": content_sha}, params=params)
        request.context["timestamp"] = amz_date
        verifier = _Verifier(self.server.credentials, self.server.region, signed)
        canonical_request = verifier.canonical_request(request)
        string_to_sign = verifier.string_to_sign(request, canonical_request)
        expected = verifier.signature(string_to_sign, request)
        if not hmac.compare_digest(expected, signature):
            raise _Reject(403, "SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature "
                          "you provided. Check your key and signing method.",
                          CanonicalRequest=canonical_request, StringToSign=string_to_sign)
        return content_sha

    def handle_expect_100(self):
        # Like S3, answer a request whose headers do not verify before its body
        # is sent; the connection is closed because the body never comes.
        self._body_left = None
        try:
            self._verified_sha = self._verify_headers()
        except _Reject as r:
            self.server.count(rejected=True)
            self._send_error(r, close=True)
            return False
        return super().handle_expect_100()

    # --- request handling ---------------------------------------------------------

    def do_GET(self):
        self._handle()

    do_PUT = do_HEAD = do_DELETE = do_POST = do_GET

    def _handle(self):
        content_sha = getattr(self, "_verified_sha", None)
        self._verified_sha = None
        self._body_left = None
        try:
            if self.path.startswith("/__control/"):
                self._drain_body()
                return self._control()
            if content_sha is None:
                content_sha = self._verify_headers()
            length = self._content_length()
            body = self._spool_body(length, content_sha)
        except _Reject as r:
            self.server.count(rejected=True)
            self._drain_body()
            return self._send_error(r)
        self.server.count(self.command)
        try:
            status = self.server.take_fault(self.command)
            if status is not None:
                code = "SlowDown" if status == 503 else "InternalError"
                return self._send_error(_Reject(status, code, "injected by the test"))
            lock = self.server.key_lock(self.path)
            if lock is None:
                self._forward(body, length)
            else:
                with lock:
                    self._forward(body, length)
        finally:
            if body is not None:
                body.close()

    def _content_length(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise _Reject(411, "MissingContentLength",
                          "You must provide the Content-Length HTTP header.")
        value = self.headers.get("Content-Length")
        if value is None:
            if self.command == "PUT":
                raise _Reject(411, "MissingContentLength",
                              "You must provide the Content-Length HTTP header.")
            return 0
        try:
            return int(value)
        except ValueError:
            raise _Reject(400, "InvalidArgument", "Content-Length is not a number")

    def _spool_body(self, length, content_sha):
        """Reads the body into a spooled temp file while hashing it. The
        rest of the body is consumed even when the hash does not match."""
        self._body_left = length
        if length == 0 and content_sha == hashlib.sha256(b"").hexdigest():
            return None
        body = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY_BYTES,
                                             dir=self.server.spool_dir)
        digest = hashlib.sha256()
        while self._body_left > 0:
            chunk = self.rfile.read(min(_COPY_CHUNK, self._body_left))
            if not chunk:
                body.close()
                self.close_connection = True
                raise _Reject(400, "IncompleteBody",
                              "You did not provide the number of bytes specified by the "
                              "Content-Length HTTP header")
            self._body_left -= len(chunk)
            digest.update(chunk)
            body.write(chunk)
        body.seek(0)
        if content_sha != "UNSIGNED-PAYLOAD" and digest.hexdigest() != content_sha:
            body.close()
            raise _Reject(400, "XAmzContentSHA256Mismatch",
                          "The provided 'x-amz-content-sha256' header does not match what was "
                          "computed.", ClientComputedContentSHA256=content_sha,
                          S3ComputedContentSHA256=digest.hexdigest())
        return body

    def _drain_body(self):
        left = getattr(self, "_body_left", None)
        if left is None:
            try:
                left = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                left = 0
        while left > 0:
            chunk = self.rfile.read(min(_COPY_CHUNK, left))
            if not chunk:
                self.close_connection = True
                break
            left -= len(chunk)
        self._body_left = 0

    def _forward(self, body, length):
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port,
                                              timeout=60)
        relaying = False
        try:
            upstream.connect()
            upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Header names are matched without case: a client's content-length
            # next to our Content-Length would be a duplicate, which node refuses.
            headers = [(k, v) for k, v in self.headers.items()
                       if k.lower() not in _HOP_BY_HOP and
                       k.lower() not in ("authorization", "host", "content-length")]
            headers.append(("Host", f"127.0.0.1:{self.server.upstream_port}"))
            if self.command in ("PUT", "POST") or length:
                headers.append(("Content-Length", str(length)))
            upstream.putrequest(self.command, self.path, skip_host=True,
                                skip_accept_encoding=True)
            for name, value in headers:
                upstream.putheader(name, value)
            upstream.endheaders()
            if body is not None:
                upstream.send(body)  # reads the file in blocks
            response = upstream.getresponse()
            relaying = True
            self._relay(response)
        except (OSError, http.client.HTTPException) as e:
            if relaying:
                self.close_connection = True  # cut short: the client sees a short body
            else:
                self._send_error(_Reject(502, "InternalError", f"s3rver did not answer: {e}"),
                                 close=True)
        finally:
            upstream.close()

    def _relay(self, response):
        self.send_response(response.status, response.reason)
        length = response.getheader("Content-Length")
        no_body = self.command == "HEAD" or response.status in (204, 304)
        for name, value in response.getheaders():
            if name.lower() in _HOP_BY_HOP or name.lower() in ("date", "server"):
                continue
            self.send_header(name, value)
        chunked = length is None and not no_body
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if no_body:
            return
        while True:
            chunk = response.read(_COPY_CHUNK)
            if not chunk:
                break
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                self.wfile.write(chunk)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _send_error(self, reject, close=False):
        body = _s3_error_xml(reject.code, reject.message, urllib.parse.urlsplit(self.path).path,
                             **reject.extra)
        self.send_response(reject.status)
        self.send_header("Content-Type", "application/xml")
        if self.command == "HEAD":
            # HEAD answers carry no body, as with S3 (the status says it all).
            self.send_header("Content-Length", "0")
            body = b""
        else:
            self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _control(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/__control/fail" and self.command == "POST":
            with self.server.lock:
                self.server.faults.append({"status": int(query.get("status", "503")),
                                           "count": int(query.get("count", "1")),
                                           "method": query.get("method")})
            payload = b"{}"
        elif url.path == "/__control/stats":
            with self.server.lock:
                payload = json.dumps(self.server.stats).encode()
        else:
            return self._send_error(_Reject(404, "NoSuchControl", url.path))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class S3Server:
    """s3rver plus the verifying proxy, for the lifetime of a `with` block.

    Attributes once started: endpoint (the proxy, what clients use), bucket,
    access_key, secret_key, region, s3rver_endpoint (unverified, for debugging).
    Objects live under `directory`/s3rver.
    """

    def __init__(self, directory, bucket=DEFAULT_BUCKET, access_key=DEFAULT_ACCESS_KEY,
                 secret_key=DEFAULT_SECRET_KEY, region=DEFAULT_REGION):
        self.directory = directory
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self._node = None
        self._proxy = None
        self._thread = None
        self._stopping = False

    def start(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        module = s3rver_module()
        data_dir = os.path.join(self.directory, "s3rver")
        spool_dir = os.path.join(self.directory, "spool")
        os.makedirs(data_dir, exist_ok=True)
        os.makedirs(spool_dir, exist_ok=True)
        self._node = subprocess.Popen(
            ["node", "--openssl-legacy-provider", "-e", _S3RVER_LAUNCHER, module, data_dir, self.bucket],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=self.directory)
        line = self._node.stdout.readline()
        if not line:
            raise RuntimeError(f"s3rver exited before it was ready (status {self._node.wait()})")
        port = json.loads(line)["port"]
        self.s3rver_endpoint = f"http://127.0.0.1:{port}"
        self._proxy = _Proxy(port, self.access_key, self.secret_key, self.region, spool_dir)
        self.endpoint = f"http://127.0.0.1:{self._proxy.server_address[1]}"
        # A short poll interval makes stop() quick (tests start and stop a
        # server per test process).
        self._thread = threading.Thread(target=self._proxy.serve_forever, args=(0.05,),
                                        name="s3-proxy", daemon=True)
        self._thread.start()
        threading.Thread(target=self._watch_node, args=(self._node,), name="s3rver-watch",
                         daemon=True).start()

    def _watch_node(self, node):
        # s3rver dies on some errors (an unhandled ENAMETOOLONG, for one); say
        # so, since every later request then fails with 502.
        status = node.wait()
        if not self._stopping:
            sys.stderr.write(f"s3_server: s3rver exited unexpectedly (status {status}); "
                             "requests now fail with 502\n")

    def stop(self):
        self._stopping = True
        if self._proxy is not None:
            self._proxy.shutdown()
            self._proxy.server_close()
            self._proxy = None
        if self._node is not None:
            try:
                self._node.stdin.close()
            except OSError:
                pass
            self._node.terminate()
            try:
                self._node.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._node.kill()
                self._node.wait()
            self._node.stdout.close()
            self._node = None

    def info(self):
        return {"endpoint": self.endpoint, "bucket": self.bucket, "access_key": self.access_key,
                "secret_key": self.secret_key, "region": self.region,
                "s3rver_endpoint": self.s3rver_endpoint}

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="data directory (default: a fresh temp dir, removed "
                        "on exit)")
    parser.add_argument("--bucket", default=DEFAULT_BUCKET)
    parser.add_argument("--access-key", default=DEFAULT_ACCESS_KEY)
    parser.add_argument("--secret-key", default=DEFAULT_SECRET_KEY)
    parser.add_argument("--region", default=DEFAULT_REGION)
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def watch_stdin():
        # os.read, not sys.stdin: a daemon thread blocked inside a buffered
        # reader makes the interpreter abort at exit.
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        stop.set()

    directory = args.dir or tempfile.mkdtemp(prefix="sluice-s3-")
    server = S3Server(directory, args.bucket, args.access_key, args.secret_key, args.region)
    try:
        server.start()
        print(json.dumps(server.info()), flush=True)
        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        if not args.dir:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

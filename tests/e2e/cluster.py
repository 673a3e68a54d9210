"""Starts and stops real sluice processes (coordinator, workers) on loopback."""

import argparse
import glob
import json
import os
import shutil
import sys
import unittest
import random
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request


# Loopback requests must not go through a proxy from the environment.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port():
    """A currently free port below the kernel's ephemeral range (32768+), so
    that servers binding port 0 elsewhere on the machine cannot take it."""
    while True:
        port = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


class Cluster:
    """A coordinator and N workers as separate processes.

    Every process listens on port 0 and reports the ports it got on its first
    line of output; picking free ports up front would race with other
    processes taking them in between.
    """

    def __init__(self, sluice, workers=2, slots=1, heartbeat_timeout=3.0, coordinator_args=(),
                 env=None, coordinator_env=None, worker_env=None, worker_args=()):
        """`env` adds to every process's environment; coordinator_env and
        worker_env (a dict, or a function of the worker index returning
        one) to those of the coordinator and the workers. worker_args adds
        to each worker's command line."""
        self.sluice = sluice
        self.dir = tempfile.mkdtemp(prefix="sluice-e2e-")
        self.procs = {}
        self.metrics = {}
        self.logs_open = []
        self.slots = slots
        self.worker_args = list(worker_args)
        base = dict(os.environ)
        for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "SLUICE_CRASH_AT"):
            base.pop(var, None)
        base.update(env or {})
        self.env = base
        self.coordinator_args = ["--heartbeat-timeout", str(heartbeat_timeout),
                                 *coordinator_args]
        self._start("coordinator", ["coordinator", "--listen", "127.0.0.1:0",
                                    *self.coordinator_args], coordinator_env)
        self.coordinator = self._wait_ready("coordinator")
        self.workers = 0
        for i in range(workers):
            self.start_worker(worker_env(i) if callable(worker_env) else worker_env, wait=False)
        for i in range(workers):
            self._wait_ready(f"worker{i}")

    def start_worker(self, env=None, wait=True):
        """Starts one more worker (a replacement); returns its name."""
        name = f"worker{self.workers}"
        self.workers += 1
        self._start(name, ["worker", "--coordinator", self.coordinator,
                           "--listen", "127.0.0.1:0", "--slots", str(self.slots),
                           *self.worker_args], env)
        if wait:
            self._wait_ready(name)
        return name

    def restart_coordinator(self, env=None):
        """Starts the coordinator again, on the same address, after it died."""
        if self.procs["coordinator"].poll() is None:
            self.kill("coordinator")
        n = sum(1 for k in self.procs if k.startswith("coordinator"))
        name = f"coordinator{n}"
        self._start(name, ["coordinator", "--listen", self.coordinator, *self.coordinator_args],
                    env)
        self._wait_ready(name)
        self.procs["coordinator"] = self.procs.pop(name)
        self.metrics["coordinator"] = self.metrics[name]
        return name

    def wait_exit(self, name, timeout):
        """Waits for a process to end by itself (a crash point); returns its exit code."""
        return self.procs[name].wait(timeout=timeout)

    def _start(self, name, args, env=None):
        log = open(os.path.join(self.dir, f"{name}.log"), "w")
        self.logs_open.append(log)
        penv = dict(self.env)
        penv.update(env or {})
        self.procs[name] = subprocess.Popen([self.sluice] + args + ["--metrics-port", "0"],
                                            stdout=log, stderr=subprocess.STDOUT, env=penv)

    def _wait_ready(self, name, deadline_s=60):
        """Waits for the process's 'listening on ADDR; metrics on port N' line; returns ADDR."""
        path = os.path.join(self.dir, f"{name}.log")
        end = time.time() + deadline_s
        while time.time() < end:
            with open(path) as f:
                m = re.search(r"listening on (\S+); metrics on port (\d+)", f.read())
            if m:
                self.metrics[name] = int(m.group(2))
                return m.group(1)
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{self.logs()}")
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not start:\n{self.logs()}")

    def cli(self, *args, timeout=120):
        return subprocess.run([self.sluice, *args, "--coordinator", self.coordinator],
                              capture_output=True, text=True, timeout=timeout, env=self.env)

    def wait_finished(self, job_id, deadline_s=180):
        """Waits for the job to be FINISHED; returns its `status` text. Raises
        AssertionError when it fails, is canceled, or takes longer."""
        end = time.time() + deadline_s
        text = ""
        while time.time() < end:
            r = self.cli("status", job_id, timeout=30)
            text = r.stdout if r.returncode == 0 else ""
            first = text.splitlines()[0] if text else ""
            if "FINISHED" in first:
                return text
            if "FAILED" in first or "CANCELED" in first:
                raise AssertionError(f"job ended without finishing:\n{text}")
            time.sleep(0.25)
        raise AssertionError(f"job did not finish within {deadline_s} s:\n{text}")

    def kill(self, name):
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=10)

    def scrape(self, name):
        with _LOCAL.open(f"http://127.0.0.1:{self.metrics[name]}/metrics", timeout=5) as r:
            return r.read().decode()

    def wait_for_metrics(self, name, deadline_s=20):
        end = time.time() + deadline_s
        while True:
            try:
                return self.scrape(name)
            except OSError:
                if time.time() > end:
                    raise
                time.sleep(0.2)

    def logs(self):
        out = []
        for path in sorted(glob.glob(os.path.join(self.dir, "*.log"))):
            with open(path) as f:
                out.append(f"--- {os.path.basename(path)} ---\n{f.read()}")
        return "\n".join(out)

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in self.logs_open:
            log.close()


def main(*targets):
    """Runs the calling script's tests: `--sluice PATH` (the sluice binary)
    becomes SLUICE of each of `targets` (test classes, or the script's module
    for a global SLUICE); other arguments go to unittest."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluice", required=True)
    args, rest = parser.parse_known_args()
    for t in targets:
        t.SLUICE = os.path.abspath(args.sluice)
    unittest.main(module="__main__", argv=[sys.argv[0]] + rest, verbosity=2)


def read_part_files(directory):
    """The records of the published part files of a file_sink directory."""
    rows = []
    for path in sorted(glob.glob(os.path.join(directory, "part-*.jsonl"))):
        with open(path) as f:
            rows.extend(json.loads(line) for line in f if line.strip())
    return rows


def metric_sum(text, name, **labels):
    """Sums the samples of metric `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Prometheus:
    """A real Prometheus server scraping the given HOST:PORT targets every second."""

    def __init__(self, directory, targets):
        config = os.path.join(directory, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: sluice\n    static_configs:\n"
                    f"      - targets: [{', '.join(repr(t) for t in targets)}]\n")
        self.log = open(os.path.join(directory, "prometheus.log"), "w")
        # Prometheus cannot report a port it picked itself: choose one, and
        # choose again if another process took it before Prometheus bound it.
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                ["prometheus", f"--config.file={config}",
                 f"--storage.tsdb.path={os.path.join(directory, 'tsdb')}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=self.log, stderr=subprocess.STDOUT)
            if self._wait_listening():
                return
            self.stop()
        raise RuntimeError("prometheus did not start; see prometheus.log")

    def _wait_listening(self, deadline_s=20):
        end = time.time() + deadline_s
        while time.time() < end:
            if self.proc.poll() is not None:
                return False
            try:
                with _LOCAL.open(f"http://127.0.0.1:{self.port}/-/ready", timeout=2):
                    return True
            except OSError:
                time.sleep(0.2)
        return False

    def query(self, expr):
        """Returns the instant-query result vector (a list of samples)."""
        url = (f"http://127.0.0.1:{self.port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expr}))
        with _LOCAL.open(url, timeout=5) as r:
            body = json.loads(r.read().decode())
        return body["data"]["result"]

    def wait_for_value(self, expr, want, deadline_s=60):
        """Polls `expr` until its single value equals `want`; returns the last value seen."""
        end = time.time() + deadline_s
        last = None
        while time.time() < end:
            try:
                result = self.query(expr)
                if result:
                    last = float(result[0]["value"][1])
                    if last == want:
                        return last
            except OSError:
                pass
            time.sleep(0.5)
        return last

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def close(self):
        self.stop()
        self.log.close()


class ClusterTestCase(unittest.TestCase):
    """A test with its own cluster (self.cluster), started in setUp and stopped
    in tearDown; on failure the processes' logs are printed and the work
    directory is kept. Subclasses set SLUICE (and may set WORKERS, SLOTS,
    HEARTBEAT_TIMEOUT)."""

    SLUICE = None
    WORKERS = 2
    SLOTS = 1
    HEARTBEAT_TIMEOUT = 3.0

    def setUp(self):
        self.cluster = Cluster(self.SLUICE, workers=self.WORKERS, slots=self.SLOTS,
                               heartbeat_timeout=self.HEARTBEAT_TIMEOUT)

    def tearDown(self):
        stop_and_report(self, self.cluster)


def stop_and_report(test, cluster):
    """Stops `cluster`; when `test` failed, prints the processes' logs and keeps
    the work directory, else removes it."""
    cluster.stop()
    result = test._outcome.result
    if result and (result.errors or result.failures):
        print(cluster.logs(), file=sys.stderr)
        print(f"work directory kept: {cluster.dir}", file=sys.stderr)
    else:
        shutil.rmtree(cluster.dir, ignore_errors=True)

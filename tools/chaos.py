#!/usr/bin/env python3
"""Chaos test for sluice: proves exactly-once output while processes fail.

Each run starts a fresh cluster in a temporary directory (a coordinator with
an --ha-store and --heartbeat-timeout 2, and W workers with 2 slots each, all
on loopback, each on a port of its own choosing), submits a bounded job

    generator (event_id 0..E-1, paced to last ~15 s) [-> dedup] -> file_sink
                                                               [-> postgres_sink]

with a checkpoint every 500 ms, and while it runs injects K faults at moments
drawn from random.Random(seed + run): mostly `kill -9` of a worker followed
by a replacement worker, about 1 in 6 a `kill -9` of the coordinator and a
restart on the same --ha-store and address, and about 1 in 6 a SIGSTOP of a
worker for longer than the heartbeat timeout, then SIGCONT. The same --seed
gives the same schedule (times after the job started, workers by index).

When the job is FINISHED the tool reads every published part file
(part-*.jsonl; hidden .part-*.inprogress files are not output) and, with
--postgres-dsn, the rows of the run's table, and compares their event_ids
with range(E), computed here, not by sluice. Output, one line per run:

    run 3: 6 faults (4 worker kills, 1 coordinator kill, 1 pause), 200000 rows, 0 missing, 0 duplicated: OK

`rows` counts published lines; `missing` counts event_ids of range(E) seen
nowhere; `duplicated` counts event_ids seen more than once. Anything else
that is wrong (lines that are not JSON, ids outside range(E), a job that
failed or did not finish in time) is named on the line, and a failed run is
followed by the job's status and the tail of every process's log. Notes
that do not fail a run are on the line too: faults that hit a worker running
none of the job's subtasks (they cost the job nothing), planned faults
skipped because the job had already ended, hidden in-progress files left
behind, and processes that exited without being killed. Progress, with
wall-clock times to compare with the logs, goes to stderr (not with --quiet).
The last line sums it up:

    chaos: 20 runs, 118 faults survived, 0 missing, 0 duplicated: PASS

A fault counts as survived only when its run's job then reached FINISHED.
The exit code is 0 for PASS and 1 for FAIL. With --delivery at_least_once,
duplicates are allowed (and reported); rows must still not be missing.

Every process the tool starts is stopped when a run ends, also on Ctrl-C or
an error; temporary directories are removed unless --keep (which also keeps
the postgres tables).
"""

import argparse
import collections
import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HEARTBEAT_TIMEOUT_S = 2
SLOTS_PER_WORKER = 2
PARALLELISM = 2
GENERATE_S = 15.0          # the generator's pace spreads the events over this long
STARTUP_DEADLINE_S = 60    # for a process's "listening on" line
PG_COLUMNS = ("event_id bigint, device_id text, ts bigint, "
              "temperature double precision, humidity double precision")


# ---------------------------------------------------------------- schedule

@dataclass
class Fault:
    at_s: float            # seconds after the job was submitted
    kind: str              # "worker kill", "coordinator kill" or "pause"
    worker: int = 0        # index of the worker slot (kill, pause)
    pause_s: float = 0.0   # how long a paused worker stays stopped


def plan_faults(rng, count, workers, span_s):
    """The run's faults, in time order. Every fault draws the same number of
    values, so a schedule depends only on the seed and the flags."""
    faults = []
    for _ in range(count):
        at_s = rng.uniform(1.0, span_s)
        roll = rng.random()
        worker = rng.randrange(workers)
        pause_s = rng.uniform(HEARTBEAT_TIMEOUT_S + 1.0, HEARTBEAT_TIMEOUT_S + 3.0)
        kind = ("coordinator kill" if roll < 1 / 6 else
                "pause" if roll < 2 / 6 else "worker kill")
        faults.append(Fault(round(at_s, 2), kind, worker, round(pause_s, 2)))
    return sorted(faults, key=lambda f: f.at_s)


def describe_faults(faults):
    """'6 faults (4 worker kills, 1 coordinator kill, 1 pause)'."""
    counts = collections.Counter(f.kind for f in faults)
    parts = [plural(counts[k], k) for k in ("worker kill", "coordinator kill", "pause")
             if counts[k]]
    text = plural(len(faults), "fault")
    return f"{text} ({', '.join(parts)})" if parts else text


def plural(n, noun):
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun}es" if noun.endswith("s") else f"{n} {noun}s"


# ---------------------------------------------------------------- processes

def _die_with_parent():
    """In the child before exec: get SIGKILL if this tool dies (Linux), so
    even a `kill -9` of the tool leaves no cluster behind."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Cluster:
    """A coordinator and W workers as separate processes, logs in `dir`."""

    def __init__(self, sluice, directory, workers):
        self.sluice = sluice
        self.dir = directory
        self.env = {k: v for k, v in os.environ.items()
                    if k.lower() not in ("http_proxy", "https_proxy") and k != "SLUICE_CRASH_AT"}
        self.procs = {}            # name -> Popen, every process ever started
        self.killed = set()        # names of the processes this tool killed
        self.coordinator_name = None
        self.address = None
        self.workers = []          # worker slot index -> current process name
        self._started = collections.Counter()
        self.ha = f"file://{os.path.join(directory, 'ha')}"
        self.start_coordinator("127.0.0.1:0")
        names = [self._spawn_worker() for _ in range(workers)]
        for name in names:
            self._wait_ready(name)
        self.workers = names

    def _next_name(self, role):
        self._started[role] += 1
        return f"{role}{self._started[role] - 1}"

    def _spawn(self, name, args):
        with open(os.path.join(self.dir, f"{name}.log"), "w") as out:
            self.procs[name] = subprocess.Popen(
                [self.sluice, *args, "--metrics-port", "0"], stdout=out,
                stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
                preexec_fn=_die_with_parent)

    def _wait_ready(self, name):
        """Waits for the 'listening on ADDR' line; returns ADDR."""
        path = os.path.join(self.dir, f"{name}.log")
        end = time.monotonic() + STARTUP_DEADLINE_S
        while time.monotonic() < end:
            with open(path, errors="replace") as f:
                m = re.search(r"listening on (\S+);", f.read())
            if m:
                return m.group(1)
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with code {self.procs[name].returncode} "
                                   f"before it listened")
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not start within {STARTUP_DEADLINE_S} s")

    def start_coordinator(self, listen):
        """Starts a coordinator on `listen` (port 0 the first time, then the
        old address, so that workers and the CLI find it again)."""
        for _ in range(20):  # the old port may still be held for a moment
            name = self._next_name("coordinator")
            self._spawn(name, ["coordinator", "--listen", listen, "--ha-store", self.ha,
                               "--heartbeat-timeout", str(HEARTBEAT_TIMEOUT_S)])
            try:
                self.address = self._wait_ready(name)
                self.coordinator_name = name
                return name
            except RuntimeError:
                if self.procs[name].returncode != 3 or listen.endswith(":0"):
                    raise
                time.sleep(0.5)  # exit 3: could not listen on the old address yet
        raise RuntimeError(f"no coordinator could listen on {listen} again")

    def _spawn_worker(self):
        name = self._next_name("worker")
        self._spawn(name, ["worker", "--coordinator", self.address, "--listen", "127.0.0.1:0",
                           "--slots", str(SLOTS_PER_WORKER)])
        return name

    def kill(self, name):
        proc = self.procs[name]
        self.killed.add(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return proc.pid

    def replace_worker(self, index):
        """kill -9 of worker slot `index` and a new worker in its place."""
        old = self.workers[index]
        pid = self.kill(old)
        new = self._spawn_worker()
        self._wait_ready(new)
        self.workers[index] = new
        return f"kill -9 {old} (pid {pid}); {new} started"

    def restart_coordinator(self):
        old = self.coordinator_name
        pid = self.kill(old)
        new = self.start_coordinator(self.address)
        return f"kill -9 {old} (pid {pid}); {new} listening on {self.address}"

    def pause_worker(self, index, seconds):
        name = self.workers[index]
        proc = self.procs[name]
        proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            proc.send_signal(signal.SIGCONT)
        return f"SIGSTOP {name} (pid {proc.pid}) for {seconds:.2f} s, then SIGCONT"

    def cli(self, *args, timeout=60):
        return subprocess.run([self.sluice, *args, "--coordinator", self.address],
                              capture_output=True, text=True, timeout=timeout, env=self.env,
                              preexec_fn=_die_with_parent)

    def worker_id(self, index):
        """The id the coordinator knows worker slot `index` by (it changes
        when a restarted coordinator registers the worker again)."""
        path = os.path.join(self.dir, f"{self.workers[index]}.log")
        with open(path, errors="replace") as f:
            ids = re.findall(r"sluice worker (worker-\d+) listening|registered again with "
                             r"coordinator \S+ as (worker-\d+)", f.read())
        return (ids[-1][0] or ids[-1][1]) if ids else None

    def exited_by_themselves(self):
        """'worker3 (exit 134)' for each process that ended without being killed."""
        return [f"{name} (exit {p.returncode})" for name, p in self.procs.items()
                if name not in self.killed and p.poll() is not None]

    def log_tails(self, lines=15):
        out = []
        for name in self.procs:
            path = os.path.join(self.dir, f"{name}.log")
            with open(path, errors="replace") as f:
                tail = f.read().splitlines()[-lines:]
            out.append(f"--- {name}.log (last {len(tail)} lines) ---")
            out.extend(tail)
        return "\n".join(out)

    def stop(self):
        """Stops every process this cluster started: SIGCONT (a paused one
        could not act on SIGTERM), SIGTERM, and SIGKILL after 10 s."""
        live = [p for p in self.procs.values() if p.poll() is None]
        for p in live:
            for sig in (signal.SIGCONT, signal.SIGTERM):
                try:
                    p.send_signal(sig)
                except ProcessLookupError:
                    pass
        end = time.monotonic() + 10
        for p in live:
            try:
                p.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# ---------------------------------------------------------------- the job

def job_yaml(run, directory, events, rate, seed, delivery, dsn, dedup=False, upsert=False,
             duplicate_rate=0.0):
    q = json.dumps  # a JSON string is a YAML double-quoted string
    lines = [
        f"name: chaos-run-{run}",
        f"parallelism: {PARALLELISM}",
        f"checkpoint: {{interval: 500ms, store: {q('file://' + os.path.join(directory, 'chk'))}}}",
        "restart: {strategy: fixed, initial_delay: 200ms, max_attempts: 1000}",
        f"delivery: {delivery}",
        "operators:",
        f"  - {{id: gen, type: generator, count: {events}, devices: 100, rate: {rate}, "
        f"seed: {seed}, duplicate_rate: {duplicate_rate}}}",
    ]
    source = "gen"
    if dedup:
        lines.append("  - {id: dedup, type: dedup, input: gen, key: [event_id], ttl: 1h}")
        source = "dedup"
    lines.append(f"  - {{id: out, type: file_sink, input: {source}, "
                 f"path: {q(os.path.join(directory, 'out'))}}}")
    if dsn:
        mode = "mode: upsert, key: [event_id]" if upsert else "mode: insert"
        lines.append(f"  - {{id: pg, type: postgres_sink, input: {source}, dsn: {q(dsn)}, "
                     f"table: {pg_table(run)}, {mode}}}")
    return "\n".join(lines) + "\n"


def submit(cluster, path):
    r = cluster.cli("submit", path, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"submit failed (exit {r.returncode}): {r.stderr.strip()}")
    return r.stdout.strip().splitlines()[-1]


def job_state(cluster, job_id):
    """(state, status text); state is None when the coordinator did not answer."""
    try:
        r = cluster.cli("status", job_id, timeout=30)
    except subprocess.TimeoutExpired:
        return None, "(status timed out)"
    if r.returncode != 0 or not r.stdout:
        return None, (r.stdout + r.stderr).strip()
    m = re.match(r"job \S+ \(.*\): (\w+)", r.stdout)
    return (m.group(1) if m else None), r.stdout


TERMINAL = ("FINISHED", "FAILED", "CANCELED")


def wait_until(cluster, job_id, moment, deadline):
    """Polls the job until `moment` (time.monotonic()); returns its state
    early if it ends (or the deadline passes first)."""
    state = None
    while time.monotonic() < min(moment, deadline):
        state, _ = job_state(cluster, job_id)
        if state in TERMINAL:
            return state
        time.sleep(min(0.5, max(0.0, moment - time.monotonic())))
    return state


def hosting_workers(status):
    """Worker ids that the status text shows running the job's subtasks."""
    return set(re.findall(r"^\S+\s+\d+\s+(worker-\d+)\s", status, re.MULTILINE))


def hits_the_job(cluster, job_id, fault):
    """Whether the fault's target runs part of the job right now (a killed
    or paused idle worker costs the job nothing)."""
    if fault.kind == "coordinator kill":
        return True
    _, status = job_state(cluster, job_id)
    return cluster.worker_id(fault.worker) in hosting_workers(status)


def inject(cluster, fault):
    if fault.kind == "worker kill":
        return cluster.replace_worker(fault.worker)
    if fault.kind == "coordinator kill":
        return cluster.restart_coordinator()
    return cluster.pause_worker(fault.worker, fault.pause_s)


# ---------------------------------------------------------------- checks

@dataclass
class Tally:
    rows: int = 0
    missing: int = 0
    duplicated: int = 0
    unexpected: int = 0    # event_ids outside range(E)
    torn: int = 0          # lines that are not JSON objects with an event_id
    notes: list = field(default_factory=list)


def tally(ids, bad_lines, events):
    """Compares the event_ids seen with range(events): each exactly once."""
    counts = collections.Counter(ids)
    expected = range(events)
    t = Tally(rows=len(ids), torn=bad_lines)
    t.missing = sum(1 for i in expected if i not in counts)
    t.duplicated = sum(1 for i, n in counts.items() if n > 1)
    t.unexpected = sum(1 for i in counts if not (isinstance(i, int) and 0 <= i < events))
    return t


def published_ids(out_dir):
    """event_ids of every line of the published part files, and the number
    of lines that are not a JSON object with an event_id."""
    ids, bad = [], 0
    for path in sorted(glob.glob(os.path.join(out_dir, "part-*.jsonl"))):
        with open(path, errors="replace") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    ids.append(json.loads(line)["event_id"])
                except (ValueError, KeyError, TypeError):
                    bad += 1
    return ids, bad


def leftover_inprogress(out_dir, job_id):
    return [n for n in os.listdir(out_dir) if n.startswith(f".part-{job_id}-")] \
        if os.path.isdir(out_dir) else []


# ---------------------------------------------------------------- postgres

def pg_table(run):
    return f"chaos_{run}"


def psql(dsn, sql):
    r = subprocess.run(["psql", dsn, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-At", "-c", sql],
                       capture_output=True, text=True, timeout=120, preexec_fn=_die_with_parent)
    if r.returncode != 0:
        raise RuntimeError(" ".join(r.stderr.split()) or f"psql exited with {r.returncode}")
    return r.stdout


def pg_create(dsn, run, upsert=False):
    columns = PG_COLUMNS.replace("event_id bigint", "event_id bigint primary key") if upsert \
        else PG_COLUMNS
    psql(dsn, f"drop table if exists {pg_table(run)}; "
              f"create table {pg_table(run)} ({columns})")


def pg_ids(dsn, run):
    ids, bad = [], 0
    for line in psql(dsn, f"select event_id from {pg_table(run)}").splitlines():
        try:
            ids.append(int(line))
        except ValueError:
            bad += 1
    return ids, bad


def pg_drop(dsn, run):
    psql(dsn, f"drop table if exists {pg_table(run)}")


# ---------------------------------------------------------------- one run

@dataclass
class RunResult:
    run: int
    faults: list
    finished: bool = False
    files: Tally = None
    pg: Tally = None
    problem: str = ""      # why the run failed, if it did not finish or check
    details: str = ""      # status text and log tails of a failed run
    seconds: float = 0.0

    def ok(self, at_least_once):
        if not self.finished or self.problem:
            return False
        return all(t.missing == 0 and t.unexpected == 0 and t.torn == 0 and
                   (at_least_once or t.duplicated == 0)
                   for t in (self.files, self.pg) if t is not None)


def run_once(args, run, say):
    rng = random.Random(args.seed + run)
    rate = max(1, round(args.events / GENERATE_S))
    faults = plan_faults(rng, args.kills_per_run, args.workers, GENERATE_S * 0.85)
    result = RunResult(run, [])
    directory = tempfile.mkdtemp(prefix=f"sluice-chaos-{run}-")
    cluster = None
    pg_made = False
    started = time.monotonic()
    try:
        cluster = Cluster(args.sluice, directory, args.workers)
        if args.postgres_dsn:
            pg_create(args.postgres_dsn, run, args.upsert)
            pg_made = True
        path = os.path.join(directory, "job.yaml")
        with open(path, "w") as f:
            f.write(job_yaml(run, directory, args.events, rate, args.seed + run, args.delivery,
                             args.postgres_dsn, args.dedup, args.upsert, args.duplicate_rate))
        job_id = submit(cluster, path)
        t0 = time.monotonic()
        say(f"run {run}: job {job_id} submitted ({args.events} events at {rate}/s) to "
            f"{cluster.address}, dir {directory}")
        deadline = t0 + args.deadline
        done, idle = [], 0
        for fault in faults:
            state = wait_until(cluster, job_id, t0 + fault.at_s, deadline)
            if state in TERMINAL:
                say(f"run {run}: job {state} before the fault at +{fault.at_s:.1f} s")
                break
            if time.monotonic() >= deadline:
                break
            at = time.monotonic() - t0  # later than planned while an earlier pause lasts
            hit = hits_the_job(cluster, job_id, fault)
            what = inject(cluster, fault)
            done.append(fault)
            idle += not hit
            say(f"run {run}: +{at:5.1f} s (planned +{fault.at_s:.1f}) {fault.kind}: {what}"
                + ("" if hit else " (it ran none of the job's subtasks)"))
        result.faults = done
        skipped = len(faults) - len(done)
        state = wait_until(cluster, job_id, deadline, deadline)
        state, status = job_state(cluster, job_id)
        result.seconds = time.monotonic() - t0
        if state != "FINISHED":
            result.problem = (f"job {state or 'state unknown'} after {result.seconds:.0f} s"
                              if state in TERMINAL else
                              f"job not FINISHED within {args.deadline:.0f} s "
                              f"(state {state or 'unknown'})")
            result.details = f"{status}\n{cluster.log_tails()}"
            return result
        result.finished = True
        say(f"run {run}: FINISHED after {result.seconds:.1f} s; " + summary_of_status(status))
        out = os.path.join(directory, "out")
        result.files = tally(*published_ids(out), args.events)
        if skipped:
            result.files.notes.append(f"{skipped} planned fault(s) skipped: the job had ended")
        if idle:
            result.files.notes.append(f"{idle} fault(s) hit a worker that ran no subtask")
        left = leftover_inprogress(out, job_id)
        if left:
            result.files.notes.append(f"{len(left)} in-progress file(s) left")
        crashed = cluster.exited_by_themselves()
        if crashed:
            result.files.notes.append(f"exited by themselves: {', '.join(crashed)}")
        if args.postgres_dsn:
            result.pg = tally(*pg_ids(args.postgres_dsn, run), args.events)
        if not result.ok(args.delivery == "at_least_once"):
            result.details = f"{status}\n{cluster.log_tails()}"
        return result
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        result.problem = str(e)
        result.details = cluster.log_tails() if cluster else ""
        return result
    finally:
        if cluster:
            cluster.stop()
        if pg_made and not args.keep:
            try:
                pg_drop(args.postgres_dsn, run)
            except (RuntimeError, subprocess.SubprocessError) as e:
                say(f"run {run}: could not drop {pg_table(run)}: {e}")
        if args.keep:
            say(f"run {run}: kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
        result.seconds = result.seconds or time.monotonic() - started


def summary_of_status(status):
    m = re.search(r"attempt (\d+), (\d+) restart\(s\)", status)
    return f"attempt {m.group(1)}, {m.group(2)} restart(s)" if m else "no restarts"


def format_tally(t, label=""):
    text = f"{label}{t.rows} rows, {t.missing} missing, {t.duplicated} duplicated"
    extra = []
    if t.unexpected:
        extra.append(f"{t.unexpected} unexpected event_ids")
    if t.torn:
        extra.append(f"{t.torn} unreadable lines")
    return ", ".join([text, *extra, *t.notes])


def format_result(r, at_least_once):
    parts = [describe_faults(r.faults)]
    if r.files:
        parts.append(format_tally(r.files))
    if r.pg:
        parts.append(format_tally(r.pg, "postgres: "))
    if r.problem:
        parts.append(r.problem)
    verdict = "OK" if r.ok(at_least_once) else "FAIL"
    return f"run {r.run}: {', '.join(parts)}: {verdict}"


# ---------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sluice", required=True, help="path of the sluice binary")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--kills-per-run", type=int, default=6, help="faults per run")
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--delivery", choices=("exactly_once", "at_least_once"),
                   default="exactly_once")
    p.add_argument("--postgres-dsn", help="also write to a postgres_sink and check its table")
    p.add_argument("--upsert", action="store_true",
                   help="the postgres_sink upserts on event_id (its table gets that primary key)")
    p.add_argument("--dedup", action="store_true",
                   help="put a dedup operator (key event_id, ttl 1h) before the sinks")
    p.add_argument("--duplicate-rate", type=float, default=0.0,
                   help="fraction of events the generator emits twice (with --dedup: removed)")
    p.add_argument("--deadline", type=float, default=300.0,
                   help="seconds after submitting before a run counts as not finishing")
    p.add_argument("--keep", action="store_true", help="keep temp dirs (and postgres tables)")
    p.add_argument("--quiet", action="store_true", help="print only the result lines")
    args = p.parse_args(argv)
    args.sluice = os.path.abspath(args.sluice)
    if not os.access(args.sluice, os.X_OK):
        p.error(f"--sluice {args.sluice} is not an executable")
    for name in ("runs", "kills_per_run", "events"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must not be negative")
    if args.workers < 2:
        p.error("--workers must be at least 2 (one may be down while the job needs 2 slots)")
    if args.postgres_dsn and not shutil.which("psql"):
        p.error("--postgres-dsn needs psql on the PATH")
    return args


def progress(msg):
    """A progress line on stderr, with the wall-clock time to match file times and logs."""
    now = time.time()
    stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"
    print(f"{stamp} {msg}", file=sys.stderr, flush=True)


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt


def main(argv=None):
    args = parse_args(argv)
    say = (lambda _msg: None) if args.quiet else progress
    # SIGTERM ends the tool like Ctrl-C: the run's `finally` stops its cluster.
    signal.signal(signal.SIGTERM, _interrupt)
    at_least_once = args.delivery == "at_least_once"
    results = []
    try:
        for run in range(1, args.runs + 1):
            r = run_once(args, run, say)
            results.append(r)
            print(format_result(r, at_least_once), flush=True)
            if r.details and not r.ok(at_least_once):
                print(r.details, flush=True)
            say(f"run {run}: {r.seconds:.1f} s")
    except KeyboardInterrupt:
        print(f"chaos: interrupted after {len(results)} run(s)", file=sys.stderr)
        return 130
    survived = sum(len(r.faults) for r in results if r.finished)
    missing = sum(t.missing for r in results for t in (r.files, r.pg) if t)
    duplicated = sum(t.duplicated for r in results for t in (r.files, r.pg) if t)
    passed = all(r.ok(at_least_once) for r in results)
    print(f"chaos: {plural(len(results), 'run')}, {plural(survived, 'fault')} survived, "
          f"{missing} missing, {duplicated} duplicated: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

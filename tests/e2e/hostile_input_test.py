#!/usr/bin/env python3
"""Input a hostile or careless user gives sluice: records that overflow,
trap, are not UTF-8, are nested 100,000 levels deep or change type, and job
files that nest, repeat a path or are not UTF-8. Every record comes out as a
result or as a dead letter with the reason, the job finishes, and a bad job
file exits 2 naming the line and the field, in `run` and in `submit`.
Expectations are computed here, in Python, from the input.

Usage: hostile_input_test.py --sluice build/tools/sluice
"""

import base64
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cluster import Cluster, free_port, main, stop_and_report  # noqa: E402

SLUICE = None
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1


def run(*args, cwd=None, timeout=60):
    return subprocess.run([SLUICE, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd)


def read_records(directory):
    """The JSON objects of every visible part file under `directory`."""
    out = []
    for path in sorted(glob.glob(os.path.join(directory, "part-*.jsonl"))):
        with open(path, "rb") as f:
            for line in f.read().decode("utf-8").splitlines():  # strict: must be UTF-8
                out.append(json.loads(line))
    return out


class RecordsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.d = self.dir.name

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, data):
        path = os.path.join(self.d, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def run_job(self, yaml):
        job = self.write("job.yaml", yaml.encode())
        r = run("run", job, cwd=self.d)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("FINISHED", r.stdout)
        return r

    def test_integer_overflow_is_a_dead_letter_never_a_wrapped_value_or_a_crash(self):
        values = [0, 1, -1, 7, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
                  2**62, -2**62, 3037000499, 3037000500]
        self.write("in.jsonl", "".join(json.dumps({"ts": 1000 + i, "n": v}) + "\n"
                                       for i, v in enumerate(values)).encode())
        self.run_job("""name: overflow
operators:
  - {id: src, type: file_source, path: in.jsonl, event_time: {field: ts, unit: ms, min_time: off},
     schema: {ts: int64, n: int64}}
  - id: m
    type: map
    input: src
    set: {plus: "n + 1", minus: "n - 1", twice: "n * 2", square: "n * n", neg: "-n",
          size: "abs(n)", rem: "n % -1", rem3: "n % 3"}
  - {id: out, type: file_sink, input: m, path: out}
  - {id: dead, type: file_sink, input: m.dead_letter, path: dead}
""")
        # In the order the map evaluates them; the first that overflows is the reason.
        ops = [("plus", lambda n: n + 1), ("minus", lambda n: n - 1), ("twice", lambda n: n * 2),
               ("square", lambda n: n * n), ("neg", lambda n: -n), ("size", abs),
               ("rem", lambda n: 0), ("rem3", lambda n: int(n - 3 * int(n / 3)) if abs(n) < 2**53
                                      else n - 3 * (abs(n) // 3) * (1 if n > 0 else -1))]
        want_out, want_dead = [], []
        for v in values:
            results = {name: f(v) for name, f in ops}
            bad = [name for name, r in results.items() if not INT64_MIN <= r <= INT64_MAX]
            if bad:
                want_dead.append((v, bad[0]))
            else:
                want_out.append(dict(ts=1000 + values.index(v), n=v, **results))
        out = read_records(os.path.join(self.d, "out"))
        self.assertEqual(sorted(out, key=lambda r: r["ts"]), want_out)
        dead = read_records(os.path.join(self.d, "dead"))
        got_dead = sorted((json.loads(d["raw"])["n"], d["reason"]) for d in dead)
        self.assertEqual([n for n, _ in got_dead], sorted(n for n, _ in want_dead))
        for (n, reason), (_, field) in zip(got_dead, sorted(want_dead)):
            self.assertTrue(reason.startswith(f"set.{field}: position "), reason)
            self.assertIn("integer overflow", reason)
            self.assertIn("is outside the int64 range", reason)
        for d in dead:
            self.assertEqual((d["source"], d["file"], d["line"], d["raw_base64"]),
                             ("m", None, None, None))

    def test_a_condition_that_is_not_a_bool_is_reported_not_a_silent_drop(self):
        self.write("in.jsonl", b"".join(b'{"ts": %d, "n": %d}\n' % (i, i) for i in range(50)))
        r = self.run_job("""name: not-bool
operators:
  - {id: src, type: file_source, path: in.jsonl, event_time: {field: ts, unit: ms, min_time: off}}
  - {id: f, type: filter, input: src, where: "n + 1"}
  - {id: out, type: file_sink, input: f, path: out}
""")
        self.assertEqual(read_records(os.path.join(self.d, "out")), [])
        # Nobody reads f.dead_letter: counted in the status table, and kept
        # at the side-output location, which run names.
        row = next(line.split() for line in r.stdout.splitlines() if line.startswith("f "))
        self.assertEqual(row[5:7], ["0", "50"])  # records_out, dead_letter
        where = os.path.join(self.d, "side_outputs", "f.dead_letter")
        self.assertIn(f"f.dead_letter is read by no operator; its records go to {where}/", r.stdout)
        dead = read_records(where)
        self.assertEqual(sorted(json.loads(d["raw"])["n"] for d in dead), list(range(50)))
        for d in dead:
            self.assertIn("where: the condition is int64, not bool", d["reason"])

    def test_lines_that_are_not_utf8_or_nest_too_deep_are_dead_letters_that_are_valid_json(self):
        lines = [b'{"ts": 1, "dev": "a", "v": 1}',
                 b'{"ts": 2, "dev": "caf\xe9", "v": 2}',   # Latin-1, not UTF-8
                 b'{"ts": 3, "dev": "\xc3\xa9", "v": 3}',  # UTF-8
                 b'{"ts": 4, "dev": "' + b'\xed\xa0\x80' + b'", "v": 4}',  # a surrogate
                 b'{"ts": 5, "dev": ' + b'[' * 100000 + b']' * 100000 + b', "v": 5}',
                 b'\xff\xfe{"ts": 6}']
        self.write("in.jsonl", b"\n".join(lines) + b"\n")
        self.run_job("""name: bytes
operators:
  - {id: src, type: file_source, path: in.jsonl, event_time: {field: ts, unit: ms, min_time: off}}
  - {id: out, type: file_sink, input: src, path: out}
  - {id: dead, type: file_sink, input: src.dead_letter, path: dead}
""")
        self.assertEqual(sorted(r["ts"] for r in read_records(os.path.join(self.d, "out"))),
                         [1, 3])
        dead = {d["line"]: d for d in read_records(os.path.join(self.d, "dead"))}
        self.assertEqual(sorted(dead), [2, 4, 5, 6])
        for n in [2, 4, 6]:
            self.assertEqual(dead[n]["reason"], "invalid JSON: not valid UTF-8")
            # The exact bytes come back from raw_base64; raw shows them as U+FFFD.
            self.assertEqual(base64.b64decode(dead[n]["raw_base64"]), lines[n - 1])
            self.assertEqual(dead[n]["raw"],
                             lines[n - 1].decode("utf-8", errors="replace").replace(
                                 "\ufffd\ufffd\ufffd", "\ufffd" * 3))
        self.assertEqual(dead[5]["reason"], "invalid JSON: nested deeper than 1024 levels")
        self.assertIsNone(dead[5]["raw_base64"])
        self.assertEqual(len(dead[5]["raw"].encode()), 64 * 1024)  # the first 64 KiB

    def test_values_that_change_type_never_fail_a_window(self):
        # Two files, read by two subtasks that infer different types.
        os.makedirs(os.path.join(self.d, "in"), exist_ok=True)
        rows_a = [{"ts": 1000, "dev": 1, "v": 5}, {"ts": 2000, "dev": 2, "v": 1.5},
                  {"ts": 3000, "dev": 1.0, "v": 2}]
        rows_b = [{"ts": 1000, "dev": "x", "v": "high"}, {"ts": 1500, "dev": "x", "v": None},
                  {"ts": 2000, "dev": 2.5, "v": "7"}, {"ts": 2500, "dev": "2", "v": 7}]
        self.write("in/a.jsonl", "".join(json.dumps(r) + "\n" for r in rows_a).encode())
        self.write("in/b.jsonl", "".join(json.dumps(r) + "\n" for r in rows_b).encode())
        self.run_job("""name: types
parallelism: 2
operators:
  - {id: src, type: file_source, path: in, event_time: {field: ts, unit: ms, min_time: off}}
  - id: w
    type: window
    input: src
    key_by: dev
    window: {type: tumbling, size: 1m}
    aggregates: {n: count(), total: sum(v)}
  - {id: out, type: file_sink, input: w, path: out}
  - {id: dead, type: file_sink, input: w.dead_letter, path: dead}
  - {id: src_dead, type: file_sink, input: src.dead_letter, path: src_dead}
""")
        # File b infers dev and v as strings from its first line, so the
        # source rejects its lines 3 (dev a number) and 4 (v a number);
        # "high" reaches the window as a string and is its dead letter; a
        # null v counts.
        src_dead = read_records(os.path.join(self.d, "src_dead"))
        self.assertEqual(sorted((d["line"], d["reason"]) for d in src_dead),
                         [(3, "field 'dev': expected string, got number"),
                          (4, "field 'v': expected string, got int64")])
        dead = read_records(os.path.join(self.d, "dead"))
        self.assertEqual([json.loads(d["raw"]) for d in dead], [rows_b[0]])
        for d in dead:
            self.assertEqual(d["reason"], "aggregate 'total': field 'v' is string, not a number")
        out = {(json.dumps(r["dev"]), r["window_start"]): (r["n"], r["total"])
               for r in read_records(os.path.join(self.d, "out"))}
        self.assertEqual(out, {("1", 0): (2, 7.0), ("2", 0): (1, 1.5), ('"x"', 0): (1, None)})


    def test_mixed_units_land_in_the_windows_of_their_ms_and_bounds_make_dead_letters(self):
        import datetime
        import random
        rng = random.Random(7)
        now_ms = int(time.time() * 1000)
        base = now_ms - 3 * 86_400_000  # three days ago: inside the default bounds
        spellings = [
            lambda ms: ms / 1000,                 # s, with a fraction
            lambda ms: ms,                        # ms
            lambda ms: ms * 1000,                 # us
            lambda ms: ms * 1_000_000,            # ns
            lambda ms: datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        ]
        events = [(base + rng.randrange(0, 3_600_000), f"d{i % 3}") for i in range(500)]
        mixed = [{"ts": spellings[i % 5](ms), "dev": dev} for i, (ms, dev) in enumerate(events)]
        as_ms = [{"ts": ms, "dev": dev} for ms, dev in events]
        # Outside the bounds: before 2000, two days ahead, and (with
        # max_past: 7d) ten days behind.
        bad = [{"ts": 946_684_799_000, "dev": "x"}, {"ts": now_ms + 2 * 86_400_000, "dev": "x"},
               {"ts": now_ms - 10 * 86_400_000, "dev": "x"}]
        job = """name: {name}
operators:
  - {{id: src, type: file_source, path: {path}, event_time: {{field: ts, unit: {unit}, max_past: 7d}},
     watermark: {{max_out_of_orderness: 1h}}}}  # the hour's events come shuffled: none is late
  - {{id: w, type: window, input: src, key_by: dev, window: {{size: 5m}}, aggregates: {{n: count()}}}}
  - {{id: out, type: file_sink, input: w, path: out-{name}}}
  - {{id: dead, type: file_sink, input: src.dead_letter, path: dead-{name}}}
"""
        results = {}
        for name, rows, unit in [("mixed", mixed + bad, "auto"), ("ms", as_ms, "ms")]:
            path = self.write(f"{name}.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
            self.run_job(job.format(name=name, path=path, unit=unit))
            results[name] = sorted((r["dev"], r["window_start"], r["n"])
                                   for r in read_records(os.path.join(self.d, f"out-{name}")))
        want = {}
        for ms, dev in events:
            key = (dev, ms // 300_000 * 300_000)
            want[key] = want.get(key, 0) + 1
        self.assertEqual(results["ms"], sorted((d, s, n) for (d, s), n in want.items()))
        self.assertEqual(results["mixed"], results["ms"])
        dead = sorted(read_records(os.path.join(self.d, "dead-mixed")), key=lambda d: d["line"])
        self.assertEqual([d["line"] for d in dead], [501, 502, 503])
        self.assertEqual(dead[0]["reason"], "event time 1999-12-31T23:59:59Z is before min_time "
                                            "2000-01-01T00:00:00Z")
        self.assertIn("is more than 1d ahead of the processing clock (max_future", dead[1]["reason"])
        self.assertIn("is more than 7d behind the processing clock (max_past", dead[2]["reason"])


class HugeRecordTest(unittest.TestCase):
    """A record over gRPC's message limit between two workers fails the job
    with a message that says so, not 'the stream ended'."""

    def setUp(self):
        self.cluster = Cluster(SLUICE, workers=2, slots=1)

    def tearDown(self):
        stop_and_report(self, self.cluster)

    def test_a_record_too_large_to_send_says_so(self):
        d = self.cluster.dir
        s = "x" * (15 << 20)
        with open(os.path.join(d, "in.jsonl"), "w") as f:
            for k in range(4):  # at least one goes to the other worker
                f.write(json.dumps({"ts": k, "k": k, "s": s}) + "\n")
        # Five 15 MiB fields: a 75 MiB record, sent by key to the sink's
        # other subtask, on the other worker.
        with open(os.path.join(d, "job.yaml"), "w") as f:
            f.write("""name: huge
operators:
  - {id: src, type: file_source, path: in.jsonl, event_time: {field: ts, unit: ms, min_time: off},
     parallelism: 1}
  - {id: m, type: map, input: src, parallelism: 1,
     set: {a: "concat(s)", b: "concat(s)", c: "concat(s)", e: "concat(s)"}}
  - {id: out, type: file_sink, input: m, path: out, key_by: k, parallelism: 2}
""")
        r = self.cluster.cli("submit", os.path.join(d, "job.yaml"), "--wait", timeout=120)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("more than the 64 MiB a message between workers may carry", r.stderr)
        self.assertIn("a batch of 1 record(s) is 75.0 MiB encoded", r.stderr)
        self.assertNotIn("stream ended", r.stderr)


class JobFileTest(unittest.TestCase):
    """A bad job file exits 2 with the line and the field, in run and submit."""

    @classmethod
    def setUpClass(cls):
        cls.address = f"127.0.0.1:{free_port()}"
        cls.coordinator = subprocess.Popen([SLUICE, "coordinator", "--listen", cls.address],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True)
        assert "listening" in cls.coordinator.stdout.readline()

    @classmethod
    def tearDownClass(cls):
        cls.coordinator.terminate()
        cls.coordinator.communicate(timeout=10)

    def refused(self, job_bytes, says):
        with tempfile.TemporaryDirectory() as d:
            job = os.path.join(d, "job.yaml")
            with open(job, "wb") as f:
                f.write(job_bytes)
            for args in (["run", job], ["submit", job, "--coordinator", self.address]):
                r = run(*args)
                self.assertEqual(r.returncode, 2, f"{args[0]}: {r.stdout}{r.stderr[:500]}")
                self.assertIn(says, r.stderr, args[0])
                self.assertNotIn("libprotobuf", r.stderr, args[0])
                self.assertLess(len(r.stderr), 2000, args[0])

    def job(self, where='"n > 1"', name="j", sink_path="out"):
        return (f"name: {name}\noperators:\n"
                "  - {id: g, type: generator, count: 10}\n"
                f"  - {{id: f, type: filter, input: g, where: {where}}}\n"
                f"  - {{id: s, type: file_sink, input: f, path: {sink_path}}}\n").encode()

    def test_deep_expressions(self):
        self.refused(self.job(where='"' + "(" * 6000 + "temperature" + ")" * 6000 + ' > 1"'),
                     "job.yaml:4: operator 'f', field 'where': position 257: the expression "
                     "nests deeper than 256 levels")
        self.refused(self.job(where='"temperature' + " + 1" * 50000 + ' > 1"'),
                     "the expression nests deeper than 256 levels")

    def test_a_long_chain_of_operators(self):
        ops = ["  - {id: g, type: generator, count: 10}"]
        ops += [f"  - {{id: f{i}, type: filter, input: {'g' if i == 0 else f'f{i - 1}'}, "
                f"where: \"temperature > 1\"}}" for i in range(20000)]
        ops.append("  - {id: s, type: blackhole_sink, input: f19999}")
        self.refused(("name: chain\noperators:\n" + "\n".join(ops) + "\n").encode(),
                     "the job has 20002 operators; at most 10000 are allowed")

    def test_bytes_that_are_not_utf8(self):
        job = self.job(name="cafe").replace(b"cafe", b'"caf\xe9"')  # Latin-1
        self.refused(job, "job.yaml:1: field '(encoding)': byte 11 of the line is not valid UTF-8")

    def test_two_sinks_on_one_path(self):
        job = self.job() + b"  - {id: s2, type: file_sink, input: g, path: ./out/}\n"
        self.refused(job, "job.yaml:6: operator 's2', field 'path': ")
        self.refused(job, "is also the path of file_sink 's' (line 5)")

    def test_durations_and_sizes(self):
        base = ("name: d\noperators:\n"
                "  - {id: g, type: generator, count: 10}\n"
                "  - id: w\n    type: window\n    input: g\n    key_by: device_id\n"
                "    window: {type: tumbling, size: SIZE}\n    aggregates: {n: count()}\n"
                "  - {id: s, type: blackhole_sink, input: w}\n")
        for size, says in [("nan", "bad duration 'nan'"), ("inf", "bad duration 'inf'"),
                           ("-1s", "bad duration '-1s'"),
                           ("1e300s", "bad duration '1e300s': longer than 30,000 years")]:
            self.refused(base.replace("SIZE", size).encode(),
                         f"job.yaml:8: operator 'w', field 'window.size': {says}")


if __name__ == "__main__":
    main(sys.modules[__name__])

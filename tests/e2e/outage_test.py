"""Allowed lateness through a station outage, with real processes (tests/e2e/cluster.py).

The scenario: stations a, b and c report every 10 s from 2026-11-26T08:40:00Z
to 10:46:00 (inclusive, in time order); then station d, back after a 2-hour
outage, sends the 720 readings it buffered, 08:46:00 to 10:45:50. A window
operator counts readings and takes the maximum temperature per station in
5-minute tumbling windows, with a 30 s watermark lag and 10 minutes of
allowed lateness. When d's backlog arrives the watermark stands at
10:45:29.999, so 6 of d's readings are on time (window 10:45), 60 update
windows that fired already (10:35 and 10:40: each brings one more result
row, a revision), and 654 are too late and go to the late output.

This script computes every result row, revision, late record and
disposition count itself by following the definition (`simulate`, one
source split at a time), and compares the job's output with it:

- SingleChannelTest: one file, parallelism 1, batches of 1, 7 and 4096
  rows: every output row exactly.
- TwoSplitTest: two files, each its own scenario, read by two source
  subtasks into two window subtasks. A window fires at the minimum
  watermark of its inputs, so an update that arrives before its window
  fired is folded into revision 0: the late records and the counts are
  exact, and per (window, station) the highest revision holds the final
  values and the revisions run 0..k without gaps.
- WorkerLossTest: a scaled-up scenario slowed by a throttle, with
  checkpoints; kill -9 of the worker running it, after a checkpoint taken
  during the backlogs. The file sink is not transactional (a restart may
  write a row again), so the outputs are compared as sets: with those of an
  uninterrupted run, and with the expectation.
"""

import collections
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from cluster import ClusterTestCase, main, read_part_files  # noqa: E402

START_MS = 1_795_682_400_000  # 2026-11-26T08:40:00Z
MINUTE_MS = 60_000
STEP_MS = 10_000
LIVE_END_MS = START_MS + 126 * MINUTE_MS  # 10:46:00, the last live report
OUTAGE_MS = (START_MS + 6 * MINUTE_MS, START_MS + 126 * MINUTE_MS)  # [08:46:00, 10:46:00)
SIZE_MS = 5 * MINUTE_MS
OOO_MS = 30_000
LATENESS_MS = 10 * MINUTE_MS
MIN_WATERMARK = float("-inf")

# What one buffered station's backlog comes to, by the definition.
BACKLOG_DISPOSITIONS = {"on_time": 6, "updated": 60, "late": 654}


def reading(station, ts):
    """One report; the temperature varies with the time and the station."""
    temp = 15.0 + ((ts - START_MS) // STEP_MS * 37 + sum(map(ord, station)) * 11) % 101 / 10
    return {"ts": ts, "dev": station, "temp": round(temp, 1)}


def outage_readings(live, buffered, shift_ms=0):
    """The scenario as one file holds it: the live stations' reports in time
    order, then each buffered station's backlog. `shift_ms` moves all times."""
    records = [reading(s, ts + shift_ms)
               for ts in range(START_MS, LIVE_END_MS + 1, STEP_MS) for s in live]
    records += [reading(s, ts + shift_ms) for s in buffered for ts in range(*OUTAGE_MS, STEP_MS)]
    return records


def write_jsonl(path, records):
    with open(path, "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in records))


def late_entry(window_start, window_end, record):
    return (window_start, window_end, json.dumps(record, sort_keys=True))


class Expected:
    """One source split's results by the definition: `rows` are result rows
    (dev, window_start, window_end, n, max_temp, revision) in the order they
    are emitted, `late` the late output's entries, `dispositions` counts per
    (station, disposition)."""

    def __init__(self):
        self.rows = []
        self.late = []
        self.dispositions = collections.Counter()

    def totals(self):
        """{disposition: count} over all stations."""
        out = dict.fromkeys(BACKLOG_DISPOSITIONS, 0)
        for (_, disposition), n in self.dispositions.items():
            out[disposition] += n
        return out

    def final_rows(self):
        """The last row per (dev, window_start)."""
        return {(r[0], r[1]): r for r in self.rows}

    def revision_counts(self):
        return collections.Counter((r[0], r[1]) for r in self.rows)


def simulate(records):
    """Reads `records` in order as one source split does. Each record is
    judged by the watermark before it (max event time so far - lag - 1 ms);
    windows fire when the watermark reaches their last ms, each key with
    revision 0; an update of a fired window emits the next revision; at the
    end every unfired window fires."""
    expected = Expected()
    windows = {}  # window_start -> {dev: [n, max_temp]}
    fired = set()
    emitted = collections.Counter()  # (window_start, dev) -> result rows so far

    def emit(start, dev):
        n, max_temp = windows[start][dev]
        expected.rows.append((dev, start, start + SIZE_MS, n, max_temp, emitted[start, dev]))
        emitted[start, dev] += 1

    def fire(start):
        fired.add(start)
        for dev in windows[start]:
            emit(start, dev)

    max_ts = None
    for record in records:
        watermark = MIN_WATERMARK if max_ts is None else max_ts - OOO_MS - 1
        for start in sorted(set(windows) - fired):
            if start + SIZE_MS - 1 <= watermark:
                fire(start)
        ts, dev = record["ts"], record["dev"]
        start = ts // SIZE_MS * SIZE_MS
        last_ms = start + SIZE_MS - 1
        if watermark >= last_ms + LATENESS_MS:
            expected.dispositions[dev, "late"] += 1
            expected.late.append(late_entry(start, start + SIZE_MS, record))
        else:
            agg = windows.setdefault(start, {}).setdefault(dev, [0, record["temp"]])
            agg[0] += 1
            agg[1] = max(agg[1], record["temp"])
            if last_ms > watermark:
                expected.dispositions[dev, "on_time"] += 1
            else:
                expected.dispositions[dev, "updated"] += 1
                fired.add(start)  # a window whose first record is an update has fired
                emit(start, dev)
        max_ts = ts if max_ts is None else max(max_ts, ts)
    for start in sorted(set(windows) - fired):
        fire(start)
    return expected


def job_yaml(name, input_dir, out_dir, parallelism=1, batch_rows=4096, throttle_rate=None,
             checkpoint_store=None):
    """The job: readings -> [throttle ->] per_station window -> results and late sinks."""
    lines = [f"name: {name}", f"parallelism: {parallelism}"]
    if checkpoint_store:
        lines += [f'checkpoint: {{interval: 500ms, timeout: 30s, store: "file://{checkpoint_store}"}}',
                  "restart: {strategy: fixed, initial_delay: 200ms, max_attempts: 20}",
                  "network: {buffer_bytes_per_task: 64KiB}"]
    window_input = "readings"
    lines += ["operators:",
              "  - id: readings",
              "    type: file_source",
              f'    path: "{input_dir}"',
              f"    batch_rows: {batch_rows}",
              "    event_time: {field: ts, unit: ms}",
              "    watermark: {max_out_of_orderness: 30s}"]
    if throttle_rate:
        window_input = "slow"
        lines += ["  - id: slow",
                  "    type: throttle",
                  "    input: readings",
                  f"    rate: {throttle_rate}"]
    lines += ["  - id: per_station",
              "    type: window",
              f"    input: {window_input}",
              "    key_by: [dev]",
              "    window: {type: tumbling, size: 5m, allowed_lateness: 10m}",
              "    aggregates: {n: count(), max_temp: max(temp)}",
              "  - id: results",
              "    type: file_sink",
              "    input: per_station",
              f'    path: "{out_dir}/results"',
              "  - id: late",
              "    type: file_sink",
              "    input: per_station.late",
              f'    path: "{out_dir}/late"']
    return "\n".join(lines) + "\n"


def read_outputs(out_dir):
    """The job's (result rows, late entries), as lists in file order."""
    rows = [(r["dev"], r["window_start"], r["window_end"], r["n"], r["max_temp"], r["revision"])
            for r in read_part_files(os.path.join(out_dir, "results"))]
    late = [late_entry(r["window_start"], r["window_end"], r["record"])
            for r in read_part_files(os.path.join(out_dir, "late"))]
    return rows, late


def last_checkpoint(status_text):
    m = re.search(r"last completed checkpoint: (\d+)", status_text)
    return int(m.group(1)) if m else 0


def restarts(status_text):
    m = re.search(r"(\d+) restart\(s\)", status_text)
    return int(m.group(1)) if m else 0


def window_dispositions(status_text):
    """Sums the on_time, updated and late columns of the window's rows in `sluice status`."""
    totals = dict.fromkeys(BACKLOG_DISPOSITIONS, 0)
    for line in status_text.splitlines():
        fields = line.split()
        if len(fields) >= 10 and fields[0] == "per_station" and fields[1].isdigit():
            totals["on_time"] += int(fields[7])
            totals["updated"] += int(fields[8])
            totals["late"] += int(fields[9])
    return totals


class OutageTestCase(ClusterTestCase):

    def assert_backlog_dispositions(self, expected, buffered):
        """The oracle's own sanity check: each backlog splits 6 / 60 / 654."""
        for station in buffered:
            got = {d: expected.dispositions[station, d] for d in BACKLOG_DISPOSITIONS}
            self.assertEqual(got, BACKLOG_DISPOSITIONS, station)

    def write_input(self, files):
        """Writes {file name: records} into a fresh input directory; returns it."""
        directory = os.path.join(self.cluster.dir, "input")
        os.makedirs(directory)
        for name, records in files.items():
            write_jsonl(os.path.join(directory, name), records)
        return directory

    def submit(self, name, input_dir, **job_args):
        """Writes and submits a job; returns (job id, output directory)."""
        out_dir = os.path.join(self.cluster.dir, name)
        job_file = os.path.join(self.cluster.dir, f"{name}.yaml")
        with open(job_file, "w") as f:
            f.write(job_yaml(name, input_dir, out_dir, **job_args))
        result = self.cluster.cli("submit", job_file)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.strip().splitlines()[-1], out_dir

    def status(self, job_id):
        r = self.cluster.cli("status", job_id, timeout=30)
        return r.stdout if r.returncode == 0 else ""

    def wait_until(self, job_id, predicate, what, deadline_s=60):
        """Polls `sluice status` until predicate(text) holds; returns the text."""
        end = time.time() + deadline_s
        text = ""
        while time.time() < end:
            text = self.status(job_id)
            first = text.splitlines()[0] if text else ""
            if "FAILED" in first or "CANCELED" in first:
                self.fail(f"job ended without finishing:\n{text}")
            if text and predicate(text):
                return text
            time.sleep(0.1)
        self.fail(f"no {what} within {deadline_s} s:\n{text}")

    def wait_finished(self, job_id):
        return self.wait_until(job_id, lambda t: "FINISHED" in t.splitlines()[0],
                               "FINISHED", deadline_s=120)


class SingleChannelTest(OutageTestCase):

    def test_exact_results_revisions_and_late_records_at_every_batch_size(self):
        records = outage_readings(live="abc", buffered="d")
        expected = simulate(records)
        self.assert_backlog_dispositions(expected, "d")
        input_dir = self.write_input({"outage.jsonl": records})
        for batch_rows in (1, 7, 4096):
            with self.subTest(batch_rows=batch_rows):
                job_id, out_dir = self.submit(f"outage-batch-{batch_rows}", input_dir,
                                              batch_rows=batch_rows)
                status = self.wait_finished(job_id)
                rows, late = read_outputs(out_dir)
                self.assertEqual(collections.Counter(rows), collections.Counter(expected.rows))
                self.assertEqual(collections.Counter(late), collections.Counter(expected.late))
                self.assertEqual(window_dispositions(status), expected.totals(), status)


class TwoSplitTest(OutageTestCase):

    def test_final_values_and_gap_free_revisions_with_two_source_splits(self):
        # File 0 goes to source subtask 0, file 1 to subtask 1; the second
        # scenario runs 3 s behind the first, on its own stations.
        splits = {"outage-0.jsonl": outage_readings(live="abc", buffered="d"),
                  "outage-1.jsonl": outage_readings(live="efg", buffered="h", shift_ms=3_000)}
        expected = [simulate(records) for records in splits.values()]
        self.assert_backlog_dispositions(expected[0], "d")
        self.assert_backlog_dispositions(expected[1], "h")
        input_dir = self.write_input(splits)
        job_id, out_dir = self.submit("outage-two-splits", input_dir, parallelism=2)
        status = self.wait_finished(job_id)
        rows, late = read_outputs(out_dir)

        self.assertEqual(collections.Counter(late),
                         collections.Counter(expected[0].late + expected[1].late))
        totals = {d: expected[0].totals()[d] + expected[1].totals()[d]
                  for d in BACKLOG_DISPOSITIONS}
        self.assertEqual(window_dispositions(status), totals, status)
        final = {**expected[0].final_rows(), **expected[1].final_rows()}
        most_revisions = expected[0].revision_counts() + expected[1].revision_counts()
        revisions = collections.defaultdict(list)
        last = {}
        for row in rows:
            key = (row[0], row[1])
            revisions[key].append(row[5])
            if key not in last or row[5] > last[key][5]:
                last[key] = row
        self.assertEqual(set(last), set(final))
        for key, row in last.items():
            # The highest revision holds every on-time and updated record.
            self.assertEqual(row[:5], final[key][:5], key)
            self.assertEqual(sorted(revisions[key]), list(range(len(revisions[key]))), key)
            # Updates folded into revision 0 leave fewer rows, never more.
            self.assertLessEqual(len(revisions[key]), most_revisions[key], key)


class WorkerLossTest(OutageTestCase):
    """kill -9 of the worker running the job while the backlogs arrive."""

    # Eight live stations, then the backlogs of 24 stations: about 23k
    # readings, which the throttle stretches over about 6 s, 4 of them
    # backlog. The job runs at parallelism 1 (one input channel), so its
    # output is exact and two runs can be compared row by row.
    LIVE = [f"live-{i:02d}" for i in range(8)]
    BUFFERED = [f"back-{i:02d}" for i in range(24)]
    THROTTLE_RATE = 4000

    def worker_process(self, worker_id):
        """The cluster's name ("worker0", ...) of the process registered as `worker_id`."""
        for name in self.cluster.procs:
            if name.startswith("worker"):
                with open(os.path.join(self.cluster.dir, f"{name}.log")) as f:
                    if f"sluice worker {worker_id} " in f.read():
                        return name
        self.fail(f"no worker process registered as {worker_id}")

    def run_job(self, name, input_dir, kill=False):
        """Runs the throttled job with checkpoints, killing the worker that
        runs it during the backlogs if `kill`; returns its outputs."""
        job_id, out_dir = self.submit(name, input_dir, throttle_rate=self.THROTTLE_RATE,
                                      checkpoint_store=os.path.join(self.cluster.dir, "checkpoints"))
        if not kill:
            status = self.wait_finished(job_id)
            self.assertEqual(restarts(status), 0, status)
            return read_outputs(out_dir)
        checkpoint = self.kill_during_backlog(job_id)
        status = self.wait_finished(job_id)
        self.assertGreaterEqual(restarts(status), 1, status)
        # The new attempt started from a checkpoint taken during the backlogs.
        m = re.search(r"restored from \S+/chk-(\d+)/_metadata", status)
        self.assertIsNotNone(m, status)
        self.assertGreaterEqual(int(m.group(1)), checkpoint, status)
        return read_outputs(out_dir)

    def kill_during_backlog(self, job_id):
        """Waits for the first late record (the backlogs are arriving) and for
        a checkpoint after it, then kills the worker running the window;
        returns the number of that checkpoint."""
        text = self.wait_until(job_id, lambda t: window_dispositions(t)["late"] > 0, "late record")
        checkpoint = last_checkpoint(text) + 1
        text = self.wait_until(job_id, lambda t: last_checkpoint(t) >= checkpoint,
                               f"checkpoint {checkpoint}")
        window = next(line.split() for line in text.splitlines() if line.startswith("per_station "))
        _, _, worker_id, state = window[:4]
        self.assertEqual(state, "RUNNING", text)
        self.cluster.kill(self.worker_process(worker_id))
        self.cluster.start_worker()
        return checkpoint

    def test_results_after_worker_loss_equal_those_of_an_uninterrupted_run(self):
        records = outage_readings(live=self.LIVE, buffered=self.BUFFERED)
        expected = simulate(records)
        self.assert_backlog_dispositions(expected, self.BUFFERED)
        input_dir = self.write_input({"outage.jsonl": records})

        rows, late = self.run_job("outage-uninterrupted", input_dir)
        self.assertEqual(collections.Counter(rows), collections.Counter(expected.rows))
        self.assertEqual(collections.Counter(late), collections.Counter(expected.late))

        recovered_rows, recovered_late = self.run_job("outage-worker-lost", input_dir, kill=True)
        self.assertEqual(set(recovered_rows), set(rows))
        self.assertEqual(set(recovered_late), set(late))
        self.assertEqual(set(recovered_rows), set(expected.rows))
        self.assertEqual(set(recovered_late), set(expected.late))


if __name__ == "__main__":
    main(ClusterTestCase)

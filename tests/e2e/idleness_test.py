#!/usr/bin/env python3
"""Idle source splits, with real processes (tests/e2e/cluster.py).

A `file_source` with `follow: true` reads a directory that files keep
arriving in, with two subtasks: subtask s reads files s, s+2, ... of the
sorted names. At first there is one file, so subtask 1 has nothing to read.
A window that both subtasks feed (directly, or through a task of its own
in between) takes the minimum of their watermarks, so
without `idle_timeout` subtask 1 holds it back and no window ever fires
while the job runs. With `idle_timeout: 1s`, subtask 1 goes idle and the
windows of subtask 0's readings fire. When subtask 1 then gets a file with
readings from windows that have fired, they are late: a window judges a
record by the larger of its split's watermark and its own, as documented.

The expected windows and late records are computed here from the readings.
Results are checked from the counters of `sluice status` (the jobs never
end), and the late records from the late output, which the sink publishes
at each checkpoint.

Usage: idleness_test.py --sluice build/tools/sluice
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from cluster import ClusterTestCase, main, read_part_files  # noqa: E402

T0 = 1_795_682_400_000  # 2026-11-26T08:40:00Z
MINUTE = 60_000


def job_yaml(name, input_dir, out_dir, store, idle_timeout, throttle=False):
    """With `throttle`, a throttle task of parallelism 2 stands between the
    source and the window, so idleness must cross a task of its own."""
    idle = f", idle_timeout: {idle_timeout}" if idle_timeout else ""
    middle = ("  - {id: slow, type: throttle, input: readings, parallelism: 2, rate: 100000}\n"
              if throttle else "")
    window_input = "slow" if throttle else "readings"
    return f"""name: {name}
checkpoint: {{interval: 300ms, store: "file://{store}"}}
operators:
  - id: readings
    type: file_source
    parallelism: 2
    path: "{input_dir}"
    follow: true
    event_time: {{field: ts, unit: ms}}
    watermark: {{max_out_of_orderness: 0s{idle}}}
{middle}  - id: per_station
    type: window
    parallelism: 1
    input: {window_input}
    key_by: dev
    window: {{size: 1m}}
    aggregates: {{n: count()}}
  - {{id: out, type: file_sink, input: per_station, parallelism: 1, path: "{out_dir}/results"}}
  - {{id: late, type: file_sink, input: per_station.late, parallelism: 1, path: "{out_dir}/late"}}
"""


def write_jsonl(path, records):
    # Written under a hidden name and renamed, as a following source expects.
    hidden = os.path.join(os.path.dirname(path), "." + os.path.basename(path))
    with open(hidden, "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in records))
    os.rename(hidden, path)


def window_counters(status_text):
    """records_out, on_time and late of the window, summed over its subtasks."""
    out = on_time = late = 0
    for line in status_text.splitlines():
        fields = line.split()
        if len(fields) >= 10 and fields[0] == "per_station" and fields[1].isdigit():
            out += int(fields[5])
            on_time += int(fields[7])
            late += int(fields[9])
    return out, on_time, late


class IdlenessTest(ClusterTestCase):

    def setUp(self):
        super().setUp()
        self.input = os.path.join(self.cluster.dir, "input")
        os.makedirs(self.input)
        # Station a every 10 s for 10 minutes: file 0, read by subtask 0.
        self.first = [{"ts": T0 + i * 10_000, "dev": "a"} for i in range(60)]
        write_jsonl(os.path.join(self.input, "readings-00.jsonl"), self.first)

    def submit(self, name, idle_timeout, throttle=False):
        out_dir = os.path.join(self.cluster.dir, name)
        job_file = os.path.join(self.cluster.dir, f"{name}.yaml")
        with open(job_file, "w") as f:
            f.write(job_yaml(name, self.input, out_dir,
                             os.path.join(self.cluster.dir, "checkpoints"), idle_timeout,
                             throttle))
        r = self.cluster.cli("submit", job_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip().splitlines()[-1], out_dir

    def status(self, job_id):
        r = self.cluster.cli("status", job_id, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("RUNNING", r.stdout.splitlines()[0], r.stdout)
        return r.stdout

    def wait_for(self, job_id, predicate, what, deadline_s=30):
        end = time.time() + deadline_s
        text = ""
        while time.time() < end:
            text = self.status(job_id)
            if predicate(window_counters(text)):
                return text
            time.sleep(0.2)
        self.fail(f"no {what} within {deadline_s} s:\n{text}")

    def cancel(self, job_id):
        r = self.cluster.cli("cancel", job_id)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_silent_split_stalls_the_windows_without_idle_timeout(self):
        job_id, _ = self.submit("no-idle", idle_timeout=None)
        # Every reading of file 0 is in; the windows still wait for subtask 1.
        self.wait_for(job_id, lambda c: c[1] == len(self.first), "readings")
        time.sleep(3)
        self.assertEqual(window_counters(self.status(job_id))[0], 0)
        self.cancel(job_id)

    def test_an_idle_split_lets_windows_fire_and_its_late_return_is_late(self):
        job_id, out_dir = self.submit("idle", idle_timeout="1s")
        # The watermark follows subtask 0 alone: 10:49:50 - 1 ms. Windows
        # 08:40 to 08:48 (9 of them, 6 readings each) fire; 08:49 stays open.
        self.wait_for(job_id, lambda c: c[0] == 9, "9 window results")

        # Subtask 1 comes back (file 1 is its own) with two readings from
        # fired windows, and one from the open one.
        back = [{"ts": T0 + 30_000, "dev": "b"}, {"ts": T0 + 5 * MINUTE, "dev": "b"},
                {"ts": T0 + 9 * MINUTE + 5_000, "dev": "b"}]
        write_jsonl(os.path.join(self.input, "readings-01.jsonl"), back)
        watermark = max(r["ts"] for r in self.first) - 1
        want_late = [r for r in back if r["ts"] - r["ts"] % MINUTE + MINUTE - 1 <= watermark]
        self.assertEqual(len(want_late), 2)
        text = self.wait_for(job_id, lambda c: c[2] == len(want_late), "late records")
        self.assertEqual(window_counters(text)[1], len(self.first) + len(back) - len(want_late))

        # The late output (published at the next checkpoint) holds them, each
        # with the window it missed.
        deadline = time.time() + 20
        late = []
        while time.time() < deadline and len(late) < len(want_late):
            time.sleep(0.3)
            late = read_part_files(os.path.join(out_dir, "late"))
        self.assertEqual(sorted(x["record"]["ts"] for x in late),
                         sorted(r["ts"] for r in want_late))
        for x in late:
            self.assertEqual(x["record"]["dev"], "b")
            self.assertEqual(x["window_start"], x["record"]["ts"] - x["record"]["ts"] % MINUTE)
        self.cancel(job_id)

    def test_idleness_crosses_a_task_in_between(self):
        # The throttle's subtask 1 has one input, which is idle: its task
        # says so downstream, and the windows fire as without it.
        job_id, _ = self.submit("idle-through-throttle", idle_timeout="1s", throttle=True)
        self.wait_for(job_id, lambda c: c[0] == 9, "9 window results")
        self.cancel(job_id)


if __name__ == "__main__":
    main(ClusterTestCase)

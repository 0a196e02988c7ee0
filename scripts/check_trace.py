#!/usr/bin/env python3
"""Checks a cfutures trace file (trace.hpp): valid JSON {"traceEvents": [...]}, every
complete event ("ph": "X") with the fields Perfetto needs and cfutures' args (id, executor,
attempt), spans on one thread that do not cross (a waiting worker's nested runs lie inside),
and metadata naming every process. With --calls N, exactly N complete events.

    python3 scripts/check_trace.py run.json [--calls N]
Prints a summary per executor and process; exits 1 on the first violation."""
import argparse
import collections
import json
import sys


def fail(message):
    print(f"check_trace: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--calls", type=int)
    args = parser.parse_args()
    with open(args.path) as f:
        trace = json.load(f)
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        fail('not an object with a "traceEvents" list')
    calls = [e for e in trace["traceEvents"] if e.get("ph") == "X"]
    named = {e["pid"] for e in trace["traceEvents"]
             if e.get("ph") == "M" and e.get("name") == "process_name"}
    for e in calls:
        for key in ("name", "pid", "tid", "ts", "dur", "args"):
            if key not in e:
                fail(f"event without {key}: {e}")
        if e["args"].get("executor") not in ("thread_pool", "process_pool", "mpi"):
            fail(f"unknown executor: {e}")
        if not isinstance(e["args"].get("id"), int) or e["args"].get("attempt", 0) < 1:
            fail(f"bad args: {e}")
        if e["dur"] < 0:
            fail(f"negative duration: {e}")
        if e["pid"] not in named:
            fail(f"process {e['pid']} has no process_name")
    if args.calls is not None and len(calls) != args.calls:
        fail(f"{len(calls)} calls in the trace, expected {args.calls}")
    threads = collections.defaultdict(list)
    for e in calls:
        threads[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
    for thread, spans in threads.items():
        spans.sort()
        open_spans = []
        for start, end in spans:
            open_spans = [s for s in open_spans if s[1] > start + 0.002]
            if open_spans and end > open_spans[-1][1] + 0.002:
                fail(f"spans cross on pid {thread[0]} tid {thread[1]}: {open_spans[-1]} and {(start, end)}")
            open_spans.append((start, end))
    summary = collections.Counter((e["args"]["executor"], e["pid"]) for e in calls)
    for (executor, pid), n in sorted(summary.items()):
        print(f"{executor:12} pid {pid}: {n} calls")
    print(f"{len(calls)} calls, {len(threads)} threads: ok")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Runs each benchmark program and its peers interleaved (A B A B ...), N runs each, and
prints per metric the median and min-max of every implementation and the ratio of cfutures
to each peer (>1 means cfutures is better, whether the unit is a rate or a time).

    python3 bench/run.py [--runs 5] [--build build/bench] [--only process_pool]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LOWER_IS_BETTER = ("us", "ms", "s", "B")


def workloads(build):
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    result = {
        "compose": {
            "cfutures": [os.path.join(build, "bench", "bench_compose")],
            "boost_thread": [os.path.join(build, "bench", "bench_compose_boost_thread")],
            "asio": [os.path.join(build, "bench", "bench_compose_asio")],
        },
        "process_pool": {
            "cfutures": [os.path.join(build, "bench", "bench_process_pool")],
            "cpython": [python, os.path.join(HERE, "process_pool", "python_process_pool.py")],
        },
        "shared_memory": {
            "cfutures": [os.path.join(build, "bench", "bench_shared_memory")],
            "cpython": [python, os.path.join(HERE, "shared_memory", "python_shared_memory.py")],
        },
        "resilience": {
            "cfutures": [os.path.join(build, "bench", "bench_resilience")],
            "cpython": [python, os.path.join(HERE, "process_pool", "python_resilience.py")],
        },
        # as_completed over 100 000 futures as a new user writes it, each case in a fresh
        # process (bench/as_completed).
        "as_completed_done": {
            "cfutures": [os.path.join(build, "bench", "bench_as_completed"), "done"],
            "cpython": [python, os.path.join(HERE, "as_completed", "python_as_completed.py"), "done"],
        },
        "as_completed_racing": {
            "cfutures": [os.path.join(build, "bench", "bench_as_completed"), "racing"],
            "cpython": [python, os.path.join(HERE, "as_completed", "python_as_completed.py"),
                        "racing"],
        },
        "thread_pool": {
            "cfutures": [os.path.join(build, "bench", "bench_thread_pool")],
            "std_async": [os.path.join(build, "bench", "bench_thread_pool_std_async")],
            # Not pools: the fan-out's ceiling on this machine, with both threads running
            # and with the helper woken from sleep (machine_ceiling.cpp).
            "ceiling": [os.path.join(build, "bench", "bench_thread_pool_ceiling")],
            "ceiling_woken": [os.path.join(build, "bench", "bench_thread_pool_ceiling"), "--woken"],
            "asio": [os.path.join(build, "bench", "bench_thread_pool_asio")],
            "tbb": [os.path.join(build, "bench", "bench_thread_pool_tbb")],
            "cpython": [python, os.path.join(HERE, "thread_pool", "python_thread_pool.py")],
        },
    }
    # The MPI workload: built only with the MPI component, run as jobs of 3 ranks (the root
    # and 2 workers), next to mpi4py.futures (Debian's python3-mpi4py).
    mpi_bench = os.path.join(build, "bench", "bench_mpi")
    mpiexec = shutil.which("mpiexec")
    if mpiexec and os.path.exists(mpi_bench):
        job = [mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", "3"]
        result["mpi"] = {
            "cfutures": job + [mpi_bench],
            "mpi4py": job + [python, os.path.join(HERE, "mpi", "mpi4py_futures.py")],
        }
    # Peers built only when their library was found (Boost, Boost.Thread, oneTBB) are skipped if absent.
    return {
        workload: {impl: cmd for impl, cmd in impls.items()
                   if impl == "cfutures" or cmd[0] == python or os.path.exists(cmd[0])}
        for workload, impls in result.items()
    }


def run_once(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    metrics = {}
    for line in out.splitlines():
        name, value, unit = line.split()
        metrics[name] = (float(value), unit)
    return metrics


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build", "bench"))
    parser.add_argument("--only", action="append", metavar="WORKLOAD",
                        help="run only this workload (repeatable), e.g. process_pool")
    args = parser.parse_args()
    for workload, impls in workloads(args.build).items():
        if args.only and workload not in args.only:
            continue
        samples = {impl: {} for impl in impls}
        units = {}
        for _ in range(args.runs):
            for impl, cmd in impls.items():
                for name, (value, unit) in run_once(cmd).items():
                    samples[impl].setdefault(name, []).append(value)
                    units[name] = unit
        print(f"## {workload} ({args.runs} interleaved runs; median [min-max])")
        peers = [i for i in impls if i != "cfutures"]
        header = ["metric"] + list(impls) + [f"cfutures vs {p}" for p in peers]
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for name, unit in units.items():
            row = [f"{name} ({unit})"]
            medians = {}
            for impl in impls:
                values = samples[impl].get(name, [])
                if not values:  # a peer may omit a metric it has no counterpart for
                    medians[impl] = None
                    row.append("—")
                    continue
                medians[impl] = statistics.median(values)
                row.append(f"{medians[impl]:.4g} [{min(values):.4g}-{max(values):.4g}]")
            for peer in peers:
                ours, theirs = medians["cfutures"], medians[peer]
                if ours is None or theirs is None:
                    row.append("—")
                    continue
                ratio = theirs / ours if unit in LOWER_IS_BETTER else ours / theirs
                row.append(f"{ratio:.3g}x")
            print("| " + " | ".join(row) + " |")
        print()


if __name__ == "__main__":
    main()

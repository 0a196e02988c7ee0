#!/usr/bin/env python3
"""Thread-pool workloads, CPython side: concurrent.futures.ThreadPoolExecutor(2). Prints the
same "metric value unit" lines as cfutures_thread_pool.cpp.
  trivial_1m            tasks/s; measured with 100 000 tasks (1 M takes too long here),
                        the rate is reported as is
  round_trip_us         median submit -> result of a trivial task (20 000 samples)
  round_trip_p99_us     99th percentile of the same samples
  fanout_primes_x       serial time / pool time of 64 x count-primes(< 10000) (the GIL keeps
                        this near 1x), results taken in submission order
  fanout_as_completed_x the same, results taken through as_completed
  fanout_fresh_pool_x   the same through map() on a ThreadPoolExecutor(2) created and shut
                        down inside the timing (a `with` block)
  as_completed_100k_ms  ms to iterate as_completed over 100 000 already-finished futures
"""
import concurrent.futures as cf
import time


def plus_one(i):
    return i + 1


def count_primes(below):
    count = 0
    for n in range(2, below):
        d = 2
        while d * d <= n:
            if n % d == 0:
                break
            d += 1
        else:
            count += 1
    return count


def print_fanout(metric, submit_all_collect):
    """Times 64 x count_primes(10000) serially, then through submit_all_collect(tasks), which
    returns the sum of the counts; prints metric = serial time / pool time."""
    tasks = 64
    start = time.perf_counter()
    serial_sum = sum(count_primes(10000) for _ in range(tasks))
    serial = time.perf_counter() - start
    start = time.perf_counter()
    pool_sum = submit_all_collect(tasks)
    parallel = time.perf_counter() - start
    assert serial_sum == pool_sum
    print(f"{metric} {serial / parallel:.6g} x")


def fresh_pool_map(tasks):
    with cf.ThreadPoolExecutor(2) as fresh:
        return sum(fresh.map(count_primes, [10000] * tasks))


def main():
    with cf.ThreadPoolExecutor(2) as pool:
        pool.submit(plus_one, 0).result()

        n = 100_000  # 100 k instead of 1 M: see the docstring
        start = time.perf_counter()
        fs = [pool.submit(plus_one, i) for i in range(n)]
        total = sum(f.result() for f in fs)
        t = time.perf_counter() - start
        assert total > 0
        print(f"trivial_1m {n / t:.6g} tasks/s")

        for i in range(2000):
            pool.submit(plus_one, i).result()
        samples = []
        for i in range(20000):
            start = time.perf_counter()
            pool.submit(plus_one, i).result()
            samples.append((time.perf_counter() - start) * 1e6)
        samples.sort()
        print(f"round_trip_us {samples[len(samples) // 2]:.6g} us")
        print(f"round_trip_p99_us {samples[len(samples) * 99 // 100]:.6g} us")

        def submit_all(tasks):
            return [pool.submit(count_primes, 10000) for _ in range(tasks)]

        print_fanout("fanout_primes_x", lambda n: sum(f.result() for f in submit_all(n)))
        print_fanout("fanout_as_completed_x",
                     lambda n: sum(f.result() for f in cf.as_completed(submit_all(n))))
        print_fanout("fanout_fresh_pool_x", fresh_pool_map)

        fs = [pool.submit(plus_one, i) for i in range(100_000)]
        cf.wait(fs)
        start = time.perf_counter()
        total = sum(f.result() for f in cf.as_completed(fs))
        t = time.perf_counter() - start
        assert total > 0
        print(f"as_completed_100k_ms {t * 1e3:.6g} ms")


if __name__ == "__main__":
    main()

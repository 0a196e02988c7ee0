"""Process-pool workloads, CPython side: the same lines as cfutures_process_pool.cpp."""
import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor


def identity(x):
    return x


def echo(s):
    return s


def round_trip_us():
    with ProcessPoolExecutor(2) as pool:
        for i in range(200):
            pool.submit(identity, i).result()
        samples = []
        for i in range(2000):
            start = time.perf_counter()
            pool.submit(identity, i).result()
            samples.append((time.perf_counter() - start) * 1e6)
    return statistics.median(samples)


def trivial_chunk1():
    with ProcessPoolExecutor(2) as pool:
        pool.submit(identity, 0).result()
        n = 20000
        start = time.perf_counter()
        fs = [pool.submit(identity, i) for i in range(n)]
        for f in fs:
            f.result()
        return n / (time.perf_counter() - start)


def map_chunk100():
    with ProcessPoolExecutor(2) as pool:
        pool.submit(identity, 0).result()
        items = list(range(100000))
        start = time.perf_counter()
        total = sum(pool.map(identity, items, chunksize=100))
        t = time.perf_counter() - start
        return len(items) / t if total > 0 else 0


def echo_rate(big):
    with ProcessPoolExecutor(2) as pool:
        pool.submit(echo, big).result()
        rounds = 10
        start = time.perf_counter()
        for _ in range(rounds):
            assert len(pool.submit(echo, big).result()) == len(big)
        return rounds * len(big) / 1e6 / (time.perf_counter() - start)


def echo_16mib():
    return echo_rate("x" * (16 << 20))


def echo_bytes_16mib():
    return echo_rate(b"x" * (16 << 20))


def echo_16mib_steady():
    with ProcessPoolExecutor(2) as pool:
        big = "x" * (16 << 20)
        for _ in range(3):
            pool.submit(echo, big).result()
        rates = []
        for _ in range(20):
            start = time.perf_counter()
            assert len(pool.submit(echo, big).result()) == len(big)
            rates.append(len(big) / 1e6 / (time.perf_counter() - start))
        return statistics.median(rates)


def startup_ms(method):
    start = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method)) as pool:
        pool.submit(identity, 1).result()
    return (time.perf_counter() - start) * 1e3


if __name__ == "__main__":
    # Start-up first, while the heap is small (as in the C++ program).
    print(f"startup_fork_ms {startup_ms('fork'):.2f} ms")
    print(f"startup_spawn_ms {startup_ms('spawn'):.2f} ms")
    print(f"startup_forkserver_ms {startup_ms('forkserver'):.2f} ms")
    print(f"round_trip_us {round_trip_us():.2f} us")
    print(f"trivial_chunk1 {trivial_chunk1():.0f} tasks/s")
    print(f"map_chunk100 {map_chunk100():.0f} items/s")
    print(f"echo_16mib {echo_16mib():.0f} MB/s")
    print(f"echo_16mib_steady {echo_16mib_steady():.0f} MB/s")
    print(f"echo_bytes_16mib {echo_bytes_16mib():.0f} MB/s")

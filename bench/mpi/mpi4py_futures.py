"""MPI workloads, mpi4py side: the same lines as cfutures_mpi.cpp, for
mpi4py.futures.MPICommExecutor. Run as `mpiexec -n 3 python3 mpi4py_futures.py`, or
`mpiexec -n 1 python3 mpi4py_futures.py --pool` for MPIPoolExecutor(max_workers=2)
(startup_ms: constructor to first result, then the same workloads)."""
import statistics
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPICommExecutor


def identity(x):
    return x


def echo(s):
    return s


def round_trip_us(ex):
    for i in range(200):
        ex.submit(identity, i).result()
    samples = []
    for i in range(2000):
        start = time.perf_counter()
        ex.submit(identity, i).result()
        samples.append((time.perf_counter() - start) * 1e6)
    return statistics.median(samples)


def trivial_chunk1(ex):
    n = 20000
    start = time.perf_counter()
    fs = [ex.submit(identity, i) for i in range(n)]
    for f in fs:
        f.result()
    return n / (time.perf_counter() - start)


def map_chunk100(ex):
    items = list(range(100000))
    start = time.perf_counter()
    total = sum(ex.map(identity, items, chunksize=100))
    t = time.perf_counter() - start
    return len(items) / t if total > 0 else 0


def echo_16mib(ex):
    big = "x" * (16 << 20)
    ex.submit(echo, big).result()
    rounds = 10
    start = time.perf_counter()
    for _ in range(rounds):
        assert len(ex.submit(echo, big).result()) == len(big)
    return rounds * len(big) / 1e6 / (time.perf_counter() - start)


def echo_16mib_steady(ex):
    big = "x" * (16 << 20)
    for _ in range(3):
        ex.submit(echo, big).result()
    rates = []
    for _ in range(20):
        start = time.perf_counter()
        assert len(ex.submit(echo, big).result()) == len(big)
        rates.append(len(big) / 1e6 / (time.perf_counter() - start))
    return statistics.median(rates)


def memcpy_16mib():
    a = bytearray(b"a" * (16 << 20))
    b = bytearray(16 << 20)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        b[:] = a
        times.append(time.perf_counter() - start)
        a, b = b, a
    return len(a) / 1e6 / statistics.median(times)


def run_all(ex):
    print(f"round_trip_us {round_trip_us(ex):.2f} us")
    print(f"trivial_chunk1 {trivial_chunk1(ex):.0f} tasks/s")
    print(f"map_chunk100 {map_chunk100(ex):.0f} items/s")
    echo_rate = echo_16mib(ex)
    bound = memcpy_16mib()
    print(f"echo_16mib {echo_rate:.0f} MB/s")
    print(f"memcpy_16mib {bound:.0f} MB/s")
    print(f"echo_vs_memcpy_x {echo_rate / bound:.3f} x", flush=True)
    steady = echo_16mib_steady(ex)
    print(f"echo_16mib_steady {steady:.0f} MB/s")
    print(f"echo_steady_vs_memcpy_x {steady / bound:.3f} x", flush=True)


if __name__ == "__main__" and sys.argv[1:] == ["--pool"]:
    from mpi4py.futures import MPIPoolExecutor

    start = time.perf_counter()
    # Workers not bound to a core, as cfutures' pool_executor spawns them (bind_to none);
    # "soft" is mpi4py's own default.
    with MPIPoolExecutor(max_workers=2, mpi_info=dict(soft="1:2", bind_to="none")) as pool:
        pool.submit(identity, 1).result()
        print(f"startup_ms {(time.perf_counter() - start) * 1e3:.1f} ms", flush=True)
        run_all(pool)
elif __name__ == "__main__":
    with MPICommExecutor(MPI.COMM_WORLD, root=0) as ex:
        if ex is not None:
            run_all(ex)

"""CPython's counterparts of cfutures_resilience.cpp: a worker's death breaks a
ProcessPoolExecutor, so the way to go on is a new pool — replace_*_ms is the time from
submitting the killing call to the result of the next call on a new pool."""
import multiprocessing
import os
import signal
import statistics
import time
from concurrent.futures import ProcessPoolExecutor


def identity(x):
    return x


def die(x):
    os.kill(os.getpid(), signal.SIGKILL)
    return x


def replace_ms(method):
    ctx = multiprocessing.get_context(method)
    samples = []
    pool = ProcessPoolExecutor(1, mp_context=ctx)
    pool.submit(identity, 0).result()
    for i in range(10):
        start = time.perf_counter()
        crash = pool.submit(die, i)
        crash.exception()
        pool.shutdown(wait=True)
        pool = ProcessPoolExecutor(1, mp_context=ctx)
        pool.submit(identity, i).result()
        samples.append((time.perf_counter() - start) * 1e3)
    pool.shutdown()
    return statistics.median(samples)


if __name__ == "__main__":
    print(f"replace_fork_ms {replace_ms('fork'):.4f} ms")
    print(f"replace_spawn_ms {replace_ms('spawn'):.4f} ms")

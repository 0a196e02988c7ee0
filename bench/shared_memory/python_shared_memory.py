"""shared_buffer workloads, CPython side (Debian's python3, no NumPy): the same metric lines
as cfutures_shared_memory.cpp where Python has the counterpart.
  memcpy_16mib                 one 16 MiB bytearray copy (memcpy), MB/s
  trivial_round_trip_us        ProcessPoolExecutor(1): submit(noop).result()
  shared_256mib_round_trip_us  a call given a 256 MiB multiprocessing.shared_memory block's
                               name, which the worker attaches, touches one byte of, and
                               returns (the Python way to pass a large array without copying)
  shared_vs_trivial_x          the two above
  echo_16mib                   16 MiB of bytes echoed by value (pickled), MB/s both ways
  echo_vs_memcpy_x             echo_16mib / memcpy_16mib
The 1 GiB reduction is not measured: without NumPy a Python loop over 2^27 doubles takes
minutes, which would measure the interpreter, not the transport.
"""
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import shared_memory

MIB = 1 << 20


def noop(x):
    return x


def touch(name):
    block = shared_memory.SharedMemory(name=name)
    block.buf[0] = (block.buf[0] + 1) % 256
    block.close()
    return name


def echo(value):
    return value


def memcpy_mb_s():
    a = bytearray(b"\x01" * (16 * MIB))
    b = bytearray(16 * MIB)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        b[:] = a
        times.append(time.perf_counter() - t0)
        a, b = b, a
    return 16 * MIB / statistics.median(times) / 1e6


def main():
    memcpy_rate = memcpy_mb_s()
    print(f"memcpy_16mib {memcpy_rate:.0f} MB/s")
    with ProcessPoolExecutor(1) as pool:
        for i in range(200):
            pool.submit(noop, i).result()
        times = []
        for i in range(2000):
            t0 = time.perf_counter()
            pool.submit(noop, i).result()
            times.append(time.perf_counter() - t0)
        trivial = statistics.median(times) * 1e6
        block = shared_memory.SharedMemory(create=True, size=256 * MIB)
        try:
            for _ in range(3):
                pool.submit(touch, block.name).result()
            times = []
            for _ in range(50):
                t0 = time.perf_counter()
                pool.submit(touch, block.name).result()
                times.append(time.perf_counter() - t0)
        finally:
            block.close()
            block.unlink()
        shared = statistics.median(times) * 1e6
        print(f"trivial_round_trip_us {trivial:.2f} us")
        print(f"shared_256mib_round_trip_us {shared:.2f} us")
        print(f"shared_vs_trivial_x {shared / trivial:.2f} x")
        value = b"x" * (16 * MIB)
        value = pool.submit(echo, value).result()
        times = []
        for _ in range(10):
            t0 = time.perf_counter()
            value = pool.submit(echo, value).result()
            times.append(time.perf_counter() - t0)
        echo_rate = 2 * 16 * MIB / statistics.median(times) / 1e6
        print(f"echo_16mib {echo_rate:.0f} MB/s")
        print(f"echo_vs_memcpy_x {echo_rate / memcpy_rate:.3f} x")


if __name__ == "__main__":
    main()

"""CPython's peer of cfutures_as_completed.cpp: as_completed over 100 000 futures, every one
already finished ("done") or completed by another thread meanwhile ("racing").
Usage: python3 python_as_completed.py done|racing"""
import sys
import threading
import time
from concurrent.futures import Future, as_completed

N = 100_000


def main():
    racing = len(sys.argv) > 1 and sys.argv[1] == "racing"
    fs = [Future() for _ in range(N)]
    if not racing:
        for i, f in enumerate(fs):
            f.set_result(i)
    t0 = time.perf_counter()
    completer = None
    if racing:
        def complete():
            for i, f in enumerate(fs):
                f.set_result(i)
        completer = threading.Thread(target=complete)
        completer.start()
    total = 0
    for f in as_completed(fs):
        total += f.result()
    t = time.perf_counter() - t0
    if completer:
        completer.join()
    assert total == N * (N - 1) // 2
    print(f"as_completed_{'racing' if racing else 'done'}_ms {t * 1e3:.6g} ms")


if __name__ == "__main__":
    main()

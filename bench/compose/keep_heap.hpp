// Composition workloads: every program (cfutures and its peers) calls bench_keep_heap() first.
// A chain of 10^6 continuations built ahead of its run holds 10^6 nodes (~200 MB); on this
// VM a fresh page costs ~10 µs to fault in, which is the machine's cost, not the library's.
// So each chain is run twice, reported as *_cold_ms (fresh heap) and as the metric itself
// (warm heap), and glibc is asked to keep freed memory rather than give it back between the
// two (M_TRIM_THRESHOLD: freed memory stays in the process up to 1 GiB).
#pragma once

#include <malloc.h>

inline void bench_keep_heap() { mallopt(M_TRIM_THRESHOLD, 1 << 30); }

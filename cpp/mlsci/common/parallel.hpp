// OpenMP helpers shared by all kernels: thread-count resolution and a parallel loop that
// carries the first exception out of the parallel region (none may escape an OpenMP region).
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <string>

#include "mlsci/common/error.hpp"

namespace mlsci {

// The most threads a kernel starts: four per processor this process may run on. More only
// multiplies the waiting (results never depend on the count), and libgomp cannot start
// thousands: it crashes or calls exit(1).
inline int max_threads() { return 4 * std::max(omp_get_num_procs(), 1); }

// The thread count a kernel should use: n_threads >= 1 as given, 0 means the OpenMP default
// (OMP_NUM_THREADS / omp_set_num_threads, which is what threadpoolctl adjusts), capped at
// max_threads(). An explicit count above the cap is refused.
inline int resolve_threads(int n_threads) {
    require(n_threads >= 0, "resolve_threads", "n_threads must be >= 0, got " + std::to_string(n_threads));
    require(n_threads <= max_threads(), "resolve_threads",
            "n_threads must be at most " + std::to_string(max_threads()) + " (4 per processor), got " +
                std::to_string(n_threads));
    return n_threads == 0 ? std::min(omp_get_max_threads(), max_threads()) : n_threads;
}

// Every parallel region wakes the team and, at its end, waits for all of it. On a busy machine a
// thread that has lost its core makes that wait last until the scheduler runs it again: measured
// here (2 cores beside 2 busy processes) a region cost 0.1-0.3 ms more than its work, so a region
// with less work than this (nanoseconds of one core) saves nothing even on an idle machine and
// loses on a loaded one. Kernels estimate their work and ask threads_for.
constexpr double kMinRegionNs = 2e5;

// The threads for a region with `work_ns` nanoseconds of single-core work: resolve_threads
// (n_threads), or 1 below kMinRegionNs. A bad n_threads is refused either way.
inline int threads_for(double work_ns, int n_threads) {
    const int nt = resolve_threads(n_threads);
    return work_ns < kMinRegionNs ? 1 : nt;
}

// How many parallel regions parallel_for has started in this process (for tests: work too small
// to split must start none).
inline std::atomic<std::int64_t>& regions_started() {
    static std::atomic<std::int64_t> count{0};
    return count;
}

// Calls body(i) for i in [begin, end) on up to n_threads threads. The first exception thrown by
// any body is rethrown on the calling thread after the region; the other threads stop picking
// up work once it is set.
//
// On a busy machine a thread can lose its core for a whole time slice (milliseconds), so work is
// handed out in chunks, several per thread, from a shared counter (a dynamic schedule): the
// threads that run take a descheduled one's share instead of waiting for it. The bodies are
// fixed units of the problem, so which thread runs which unit never changes a result. No more
// threads start than there are units, and one unit (or one thread) runs here without a region.
template <class Body>
void parallel_for(std::int64_t begin, std::int64_t end, int n_threads, Body&& body) {
    if (end <= begin) return;
    const std::int64_t n = end - begin;
    const int nt = static_cast<int>(std::min<std::int64_t>(resolve_threads(n_threads), n));
    if (nt == 1) {
        for (std::int64_t i = begin; i < end; ++i) body(i);
        return;
    }
    const std::int64_t chunk = std::max<std::int64_t>(1, n / (std::int64_t{8} * nt));
    std::exception_ptr error;
    std::atomic<bool> failed{false};
    regions_started().fetch_add(1, std::memory_order_relaxed);
#pragma omp parallel for schedule(dynamic, chunk) num_threads(nt)
    for (std::int64_t i = begin; i < end; ++i) {
        if (failed.load(std::memory_order_relaxed)) continue;
        try {
            body(i);
        } catch (...) {
#pragma omp critical(mlsci_parallel_for_error)
            if (!error) error = std::current_exception();
            failed.store(true, std::memory_order_relaxed);
        }
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace mlsci

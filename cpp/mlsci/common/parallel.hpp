// OpenMP helpers shared by all kernels: thread-count resolution and a parallel loop that
// carries the first exception out of the parallel region (none may escape an OpenMP region).
#pragma once

#include <omp.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <string>

#include "mlsci/common/error.hpp"

namespace mlsci {

// The thread count a kernel should use: n_threads >= 1 as given, 0 means the OpenMP default
// (OMP_NUM_THREADS / omp_set_num_threads, which is what threadpoolctl adjusts).
inline int resolve_threads(int n_threads) {
    require(n_threads >= 0, "resolve_threads", "n_threads must be >= 0, got " + std::to_string(n_threads));
    return n_threads == 0 ? omp_get_max_threads() : n_threads;
}

// Calls body(i) for i in [begin, end) on n_threads threads with a static schedule. The first
// exception thrown by any body is rethrown on the calling thread after the region; the other
// threads stop picking up work once it is set.
template <class Body>
void parallel_for(std::int64_t begin, std::int64_t end, int n_threads, Body&& body) {
    if (end <= begin) return;
    const int nt = resolve_threads(n_threads);
    std::exception_ptr error;
    std::atomic<bool> failed{false};
#pragma omp parallel for schedule(static) num_threads(nt)
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

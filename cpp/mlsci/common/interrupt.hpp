// Cooperative cancellation for long kernels: they poll a caller-supplied callback between chunks
// of work and stop with mlsci::Interrupted when it says so (the bindings use it for Ctrl-C).
#pragma once

#include <functional>

#include "mlsci/common/error.hpp"

namespace mlsci {

// Thrown by a kernel whose stop callback returned true.
class Interrupted : public Error {
public:
    Interrupted() : Error("interrupted") {}
};

// Returns true when the kernel should stop. May be empty (never stop).
using StopCheck = std::function<bool()>;

inline void check_stop(const StopCheck& stop) {
    if (stop && stop()) throw Interrupted();
}

}  // namespace mlsci

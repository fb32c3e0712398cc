// Error types thrown by the kernel library; the bindings map them to Python exceptions
// (InvalidArgument -> ValueError, Error -> RuntimeError, std::bad_alloc -> MemoryError).
#pragma once

#include <stdexcept>
#include <string>

namespace mlsci {

// A caller passed something the kernel cannot work with. Messages start with the
// function's name: "gram_matrix: gamma must be >= 0, got -1".
class InvalidArgument : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Anything else that went wrong inside a kernel.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

inline void require(bool ok, const char* where, const std::string& what) {
    if (!ok) throw InvalidArgument(std::string(where) + ": " + what);
}

}  // namespace mlsci

// What the library was built with; the MLSCI_* macros come from CMakeLists.txt.
#include "mlsci/common/build_info.hpp"

#include <omp.h>

#include <Eigen/Core>

namespace mlsci {

namespace {
std::string openmp_version() {
    // _OPENMP is the date of the specification the compiler implements.
    switch (_OPENMP) {
        case 201107: return "3.1 (201107)";
        case 201307: return "4.0 (201307)";
        case 201511: return "4.5 (201511)";
        case 201811: return "5.0 (201811)";
        case 202011: return "5.1 (202011)";
        case 202111: return "5.2 (202111)";
        default: return std::to_string(_OPENMP);
    }
}
}  // namespace

std::vector<std::pair<std::string, std::string>> build_info() {
    return {
        {"version", MLSCI_VERSION},
        {"compiler", MLSCI_COMPILER},
        {"build_type", MLSCI_BUILD_TYPE},
        {"cxx_flags", MLSCI_CXX_FLAGS},
        {"native", MLSCI_NATIVE ? "ON (-march=native: tuned for the building CPU)" : "OFF (portable)"},
        {"openmp", openmp_version()},
        {"eigen", std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                      std::to_string(EIGEN_MINOR_VERSION)},
        {"simd", Eigen::SimdInstructionSetsInUse()},
    };
}

}  // namespace mlsci

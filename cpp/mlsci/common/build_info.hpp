// What the library was built with (compiler, flags, OpenMP, Eigen, SIMD), for show_config().
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace mlsci {

std::vector<std::pair<std::string, std::string>> build_info();

}  // namespace mlsci

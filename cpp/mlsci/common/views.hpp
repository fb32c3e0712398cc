// Non-owning Eigen views of the row-major (C-order) arrays the bindings hand to kernels.
#pragma once

#include <Eigen/Core>

namespace mlsci {

using Index = Eigen::Index;
using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMatrixView = Eigen::Map<const RowMatrixXd>;
using MatrixView = Eigen::Map<RowMatrixXd>;

}  // namespace mlsci

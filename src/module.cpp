// The extension module mlsci_fast._core: one submodule per family.
#include "bind_util.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "internal; see the mlsci_fast package";
    bind_common(m);
    bind_conv(m);
    bind_forcefield(m);
    bind_ga(m);
    bind_ising(m);
    bind_mcmc(m);
    bind_rbm(m);
    bind_svm(m);
    bind_tree(m);
}

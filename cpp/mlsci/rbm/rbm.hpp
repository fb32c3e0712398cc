// Restricted Boltzmann machine with binary units: minibatch training by contrastive divergence
// (CD-k, Hinton 2002) or persistent contrastive divergence (PCD-k, Tieleman 2008), and block
// Gibbs sampling. Random draws come from Philox keyed by (seed, epoch, minibatch) or
// (seed, step, chain), so results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace mlsci::rbm {

using idx = std::int64_t;

// Parameters, updated in place. W is row-major (n_hidden, n_visible).
struct Model {
    double* W;
    double* b_hidden;
    double* b_visible;
    idx n_hidden, n_visible;
};

struct TrainConfig {
    double learning_rate = 0.1;
    idx batch_size = 10;
    int k = 1;                 // Gibbs steps per update
    bool persistent = true;    // PCD: the negative chain continues from the last update's state
    double momentum = 0.0;     // velocity = momentum * velocity + lr * gradient
    double weight_decay = 0.0; // L2 penalty on W (not on the biases)
    std::uint64_t seed = 0;
};

// Optimiser state carried between epochs: the persistent chains' hidden states (batch_size,
// n_hidden) of 0/1, and the momentum velocities (shapes of W, b_hidden, b_visible).
struct State {
    double* chain;
    double* vel_W;
    double* vel_bh;
    double* vel_bv;
};

// One pass over rows order[0..n) of X (row-major, n_visible columns), in minibatches of
// batch_size (the last may be smaller). epoch keys the random draws.
void train_epoch(const Model& m, State& s, const double* X, const idx* order, idx n, const TrainConfig& cfg,
                 std::uint32_t epoch);

// n_steps of block Gibbs sampling (v -> h -> v) on n chains; v (n, n_visible) holds the
// visible states and is overwritten with the last ones (0/1). Draws: (seed, step0 + step, chain).
void gibbs(const Model& m, double* v, idx n, int n_steps, std::uint64_t seed, std::uint32_t step0, int n_threads);

}  // namespace mlsci::rbm

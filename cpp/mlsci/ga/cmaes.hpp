// CMA-ES (N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772; the
// (mu/mu_w, lambda) strategy with cumulative step-size adaptation and rank-one plus rank-mu
// covariance updates, the tutorial's default constants) with IPOP restarts (Auger & Hansen,
// CEC 2005: after a stop criterion, restart from a uniform point with twice the population).
//
// The search runs in the unit box: a gene x = lower + u (upper - lower), u in [0, 1]; samples
// outside are mirrored back in, and the mirrored step is the one the update learns from. The
// normals of sample k of generation g of restart r come from Philox(seed, Cmaes, g, k, r), a
// restart's uniform start from sample index 2^31, so a run is the same on any thread count and
// a run resumed from its state equals one that never stopped (the state is all in the arrays).
#pragma once

#include <cstdint>
#include <vector>

namespace mlsci::ga {

struct CmaesConfig {
    int dim = 0;
    int lambda0 = 0;          // population of the first start (0: 4 + floor(3 ln dim))
    double sigma0 = 0.3;      // initial step size in the unit box
    double tol_fun = 1e-12;   // stop a start when its recent bests and current values span less
    double tol_x = 1e-11;     // ... or when every coordinate's step (unit box) is below this
    int max_restarts = 9;     // IPOP restarts after the first start (population doubles each time)
    std::uint64_t seed = 0;
    std::vector<double> lower, upper;
};

// The state, in caller-owned arrays (dim d): mean (d, unit box), cov (d x d), basis (d x d) and
// scales (d) of its eigendecomposition (refreshed by ask), paths pc, ps (d), best_x (d, in
// genes), scalars = {sigma, best_f}, counters = {generation (all starts), generation within the
// start, restart, lambda, evaluations, finished (1 once the last start stopped)}, and recent
// (10 + 30 d + 2 values): the best value of each recent generation of the start, recent[0] the
// count.
struct CmaesState {
    double* mean;
    double* cov;
    double* basis;
    double* scales;
    double* pc;
    double* ps;
    double* best_x;
    double* scalars;
    std::int64_t* counters;
    double* recent;
};

enum CmaesCounter : int { kGeneration = 0, kGenInStart, kRestart, kLambda, kEvaluations, kFinished, kCounters };

void check_config(const CmaesConfig& cfg);
int default_lambda(int dim);
std::int64_t recent_capacity(int dim);

// A new state: the first start at `start` (genes, or uniform in the box when null).
void cmaes_init(const CmaesConfig& cfg, const CmaesState& st, const double* start);

// The samples of the next generation: steps (lambda x d, in the unit box, for tell) and their
// genes x (lambda x d). Throws when the run has finished.
void cmaes_ask(const CmaesConfig& cfg, const CmaesState& st, double* steps, double* x);

// Updates the state from the generation's values f (lambda; lower is better, +inf allowed, NaN
// an error naming the sample); on a stop criterion restarts (IPOP) or finishes the run.
// Returns the stop reason ("" when the start goes on).
const char* cmaes_tell(const CmaesConfig& cfg, const CmaesState& st, const double* steps, const double* x,
                       const double* f);

}  // namespace mlsci::ga

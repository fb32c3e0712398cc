// Built-in optimisation problems for the genetic algorithm, evaluated in C++ on many threads.
// Test functions as defined by Jamil & Yang (2013, "A literature survey of benchmark functions
// for global optimisation problems", IJMMNO 4:150); the Lennard-Jones cluster energy in reduced
// units (epsilon = sigma = 1), whose global minima the Cambridge Cluster Database lists.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace mlsci::ga {

// A function to minimise on R^dim. Immutable after construction: evaluated from many threads.
class Problem {
public:
    virtual ~Problem() = default;
    virtual int dim() const = 0;
    virtual double evaluate(const double* x) const = 0;
    // f(x) and its gradient; problems without one throw.
    virtual double evaluate_grad(const double* x, double* grad) const;
    virtual bool has_gradient() const { return false; }
    // Rough cost of one evaluation in flops: whether a population is worth spreading over threads.
    virtual double cost() const = 0;
    virtual std::string name() const = 0;
};

using ProblemPtr = std::shared_ptr<Problem>;

ProblemPtr make_sphere(int dim);
ProblemPtr make_rastrigin(int dim, double a);
ProblemPtr make_ackley(int dim, double a, double b, double c);
ProblemPtr make_rosenbrock(int dim);
// x = (x0, y0, z0, x1, ...): 3 n_atoms coordinates; E = 4 sum_{i<j} (r^-12 - r^-6).
ProblemPtr make_lennard_jones(int n_atoms);

}  // namespace mlsci::ga

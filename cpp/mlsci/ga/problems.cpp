// Built-in optimisation problems (see problems.hpp).
#include "mlsci/ga/problems.hpp"

#include <cmath>

#include "mlsci/common/error.hpp"

namespace mlsci::ga {

double Problem::evaluate_grad(const double*, double*) const {
    throw InvalidArgument(name() + ": this problem has no gradient");
}

namespace {

constexpr double kPi = 3.14159265358979323846;

void require_dim(int d, const char* where, int min_dim = 1) {
    require(d >= min_dim, where, "dim must be >= " + std::to_string(min_dim) + ", got " + std::to_string(d));
}

class Sphere final : public Problem {
public:
    explicit Sphere(int d) : d_(d) { require_dim(d, "Sphere"); }
    int dim() const override { return d_; }
    double evaluate(const double* x) const override {
        double s = 0.0;
        for (int i = 0; i < d_; ++i) s += x[i] * x[i];
        return s;
    }
    double cost() const override { return 2.0 * d_; }
    std::string name() const override { return "Sphere"; }

private:
    int d_;
};

class Rastrigin final : public Problem {
public:
    Rastrigin(int d, double a) : d_(d), a_(a) {
        require_dim(d, "Rastrigin");
        require(std::isfinite(a) && a >= 0.0, "Rastrigin", "a must be finite and >= 0");
    }
    int dim() const override { return d_; }
    double evaluate(const double* x) const override {
        double s = a_ * d_;
        for (int i = 0; i < d_; ++i) s += x[i] * x[i] - a_ * std::cos(2.0 * kPi * x[i]);
        return s;
    }
    double cost() const override { return 20.0 * d_; }
    std::string name() const override { return "Rastrigin"; }

private:
    int d_;
    double a_;
};

class Ackley final : public Problem {
public:
    Ackley(int d, double a, double b, double c) : d_(d), a_(a), b_(b), c_(c) {
        require_dim(d, "Ackley");
        require(std::isfinite(a) && std::isfinite(b) && std::isfinite(c), "Ackley", "a, b, c must be finite");
    }
    int dim() const override { return d_; }
    double evaluate(const double* x) const override {
        double s2 = 0.0, sc = 0.0;
        for (int i = 0; i < d_; ++i) {
            s2 += x[i] * x[i];
            sc += std::cos(c_ * x[i]);
        }
        return -a_ * std::exp(-b_ * std::sqrt(s2 / d_)) - std::exp(sc / d_) + a_ + std::exp(1.0);
    }
    double cost() const override { return 20.0 * d_; }
    std::string name() const override { return "Ackley"; }

private:
    int d_;
    double a_, b_, c_;
};

class Rosenbrock final : public Problem {
public:
    explicit Rosenbrock(int d) : d_(d) { require_dim(d, "Rosenbrock", 2); }
    int dim() const override { return d_; }
    double evaluate(const double* x) const override {
        double s = 0.0;
        for (int i = 0; i + 1 < d_; ++i) {
            const double t = x[i + 1] - x[i] * x[i], u = 1.0 - x[i];
            s += 100.0 * t * t + u * u;
        }
        return s;
    }
    double cost() const override { return 6.0 * d_; }
    std::string name() const override { return "Rosenbrock"; }

private:
    int d_;
};

class LennardJones final : public Problem {
public:
    explicit LennardJones(int n) : n_(n) { require(n >= 2, "LennardJonesCluster", "n_atoms must be >= 2"); }
    int dim() const override { return 3 * n_; }
    double evaluate(const double* x) const override { return eval(x, nullptr); }
    double evaluate_grad(const double* x, double* grad) const override { return eval(x, grad); }
    bool has_gradient() const override { return true; }
    double cost() const override { return 15.0 * n_ * n_; }
    std::string name() const override { return "LennardJonesCluster"; }

private:
    double eval(const double* x, double* grad) const {
        double e = 0.0;
        if (grad)
            for (int i = 0; i < 3 * n_; ++i) grad[i] = 0.0;
        for (int i = 0; i < n_; ++i) {
            for (int j = i + 1; j < n_; ++j) {
                const double dx = x[3 * i] - x[3 * j], dy = x[3 * i + 1] - x[3 * j + 1], dz = x[3 * i + 2] - x[3 * j + 2];
                const double r2 = dx * dx + dy * dy + dz * dz;
                const double ir2 = 1.0 / r2, ir6 = ir2 * ir2 * ir2;
                e += ir6 * (ir6 - 1.0);
                if (grad) {
                    const double f = -24.0 * ir2 * ir6 * (2.0 * ir6 - 1.0);  // (1/r) dE/dr
                    grad[3 * i] += f * dx;
                    grad[3 * i + 1] += f * dy;
                    grad[3 * i + 2] += f * dz;
                    grad[3 * j] -= f * dx;
                    grad[3 * j + 1] -= f * dy;
                    grad[3 * j + 2] -= f * dz;
                }
            }
        }
        return 4.0 * e;
    }
    int n_;
};

}  // namespace

ProblemPtr make_sphere(int dim) { return std::make_shared<Sphere>(dim); }
ProblemPtr make_rastrigin(int dim, double a) { return std::make_shared<Rastrigin>(dim, a); }
ProblemPtr make_ackley(int dim, double a, double b, double c) { return std::make_shared<Ackley>(dim, a, b, c); }
ProblemPtr make_rosenbrock(int dim) { return std::make_shared<Rosenbrock>(dim); }
ProblemPtr make_lennard_jones(int n_atoms) { return std::make_shared<LennardJones>(n_atoms); }

}  // namespace mlsci::ga

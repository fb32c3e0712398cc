// Forward-mode derivatives for small local functions: a Dual<N> carries a value and its gradient
// with respect to N inputs. ReaxFF's terms are written once as templates over the scalar type:
// with double they give the energy, with Dual<N> the energy and its exact derivatives with
// respect to the N local inputs of one interaction (bond orders, total bond orders, angles,
// distances), which the caller then chains to atomic forces.
#pragma once

#include <algorithm>
#include <cmath>

namespace mlsci::forcefield {

template <int N>
struct Dual {
    double v = 0.0;
    double d[N] = {};
    Dual() = default;
    Dual(double x) : v(x) {}  // NOLINT(google-explicit-constructor): a constant converts implicitly
    static Dual input(double x, int k) {
        Dual r(x);
        r.d[k] = 1.0;
        return r;
    }
};

inline double value(double x) { return x; }
template <int N>
double value(const Dual<N>& x) {
    return x.v;
}

// f(x) given f and f'(x).
template <int N>
Dual<N> chain(const Dual<N>& x, double f, double df) {
    Dual<N> r(f);
    for (int k = 0; k < N; ++k) r.d[k] = df * x.d[k];
    return r;
}

template <int N>
Dual<N> operator-(const Dual<N>& a) {
    return chain(a, -a.v, -1.0);
}
template <int N>
Dual<N> operator+(Dual<N> a, const Dual<N>& b) {
    a.v += b.v;
    for (int k = 0; k < N; ++k) a.d[k] += b.d[k];
    return a;
}
template <int N>
Dual<N> operator-(Dual<N> a, const Dual<N>& b) {
    a.v -= b.v;
    for (int k = 0; k < N; ++k) a.d[k] -= b.d[k];
    return a;
}
template <int N>
Dual<N> operator*(const Dual<N>& a, const Dual<N>& b) {
    Dual<N> r(a.v * b.v);
    for (int k = 0; k < N; ++k) r.d[k] = a.d[k] * b.v + a.v * b.d[k];
    return r;
}
template <int N>
Dual<N> operator/(const Dual<N>& a, const Dual<N>& b) {
    const double q = a.v / b.v;
    Dual<N> r(q);
    for (int k = 0; k < N; ++k) r.d[k] = (a.d[k] - q * b.d[k]) / b.v;
    return r;
}
template <int N>
Dual<N> operator+(Dual<N> a, double b) {
    a.v += b;
    return a;
}
template <int N>
Dual<N> operator+(double a, Dual<N> b) {
    b.v = a + b.v;
    return b;
}
template <int N>
Dual<N> operator-(Dual<N> a, double b) {
    a.v -= b;
    return a;
}
template <int N>
Dual<N> operator-(double a, const Dual<N>& b) {
    return chain(b, a - b.v, -1.0);
}
template <int N>
Dual<N> operator*(const Dual<N>& a, double b) {
    return chain(a, a.v * b, b);
}
template <int N>
Dual<N> operator*(double a, const Dual<N>& b) {
    return chain(b, a * b.v, a);
}
template <int N>
Dual<N> operator/(const Dual<N>& a, double b) {
    return chain(a, a.v / b, 1.0 / b);
}
template <int N>
Dual<N> operator/(double a, const Dual<N>& b) {
    const double q = a / b.v;
    return chain(b, q, -q / b.v);
}
template <int N>
Dual<N>& operator+=(Dual<N>& a, const Dual<N>& b) {
    return a = a + b;
}
template <int N>
Dual<N>& operator-=(Dual<N>& a, const Dual<N>& b) {
    return a = a - b;
}

template <int N>
Dual<N> exp(const Dual<N>& x) {
    const double e = std::exp(x.v);
    return chain(x, e, e);
}
template <int N>
Dual<N> log(const Dual<N>& x) {
    return chain(x, std::log(x.v), 1.0 / x.v);
}
template <int N>
Dual<N> sqrt(const Dual<N>& x) {
    const double s = std::sqrt(x.v);
    return chain(x, s, 0.5 / s);
}
template <int N>
Dual<N> pow(const Dual<N>& x, double p) {
    const double y = std::pow(x.v, p);
    return chain(x, y, x.v != 0.0 ? p * y / x.v : p * std::pow(x.v, p - 1.0));
}
template <int N>
Dual<N> cbrt(const Dual<N>& x) {
    const double y = std::cbrt(x.v);
    return chain(x, y, y / (3.0 * x.v));
}
template <int N>
Dual<N> sin(const Dual<N>& x) {
    return chain(x, std::sin(x.v), std::cos(x.v));
}
template <int N>
Dual<N> cos(const Dual<N>& x) {
    return chain(x, std::cos(x.v), -std::sin(x.v));
}
// Piecewise constant: derivative zero (as LAMMPS treats ReaxFF's integer lone-pair count).
template <int N>
Dual<N> trunc(const Dual<N>& x) {
    return Dual<N>(std::trunc(x.v));
}
inline double trunc(double x) { return std::trunc(x); }

// c clamped to [-1, 1] (a constant outside).
template <class T>
T clamp_unit(const T& c) {
    if (value(c) > 1.0) return T(1.0);
    if (value(c) < -1.0) return T(-1.0);
    return c;
}

}  // namespace mlsci::forcefield

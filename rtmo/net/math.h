// Scalar maths of the modules in the precision PyTorch uses for T: in float32, PyTorch
// evaluates sin/cos of a float32 argument to about 1 ulp; we evaluate them in double and round
// once (<= 0.5 ulp, so never less accurate); in float64 both use the double functions.
#ifndef RTMO_NET_MATH_H_
#define RTMO_NET_MATH_H_

#include <cmath>

namespace rtmo::math {

template <typename T>
T Cos(T x) {
  return static_cast<T>(std::cos(static_cast<double>(x)));
}
template <typename T>
T Sin(T x) {
  return static_cast<T>(std::sin(static_cast<double>(x)));
}

}  // namespace rtmo::math

#endif  // RTMO_NET_MATH_H_

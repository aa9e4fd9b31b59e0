// The one error type of rtmo.cpp. Thrown at the boundaries (weights reader, image I/O,
// CLI argument handling). The kernels check their call contracts themselves and throw
// std::invalid_argument (kernels/check.h): the model validates every tensor at load time,
// so such a throw is a bug in the caller. Messages name the file and the field or tensor,
// say what was expected and what was found.
#ifndef RTMO_ERROR_H_
#define RTMO_ERROR_H_

#include <stdexcept>
#include <string>

namespace rtmo {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace rtmo

#endif  // RTMO_ERROR_H_

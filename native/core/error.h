// lmf::Error: every failure a user can cause is thrown as one of these; the binding turns it into a JS
// error of the matching class (lib/errors.ts). Nothing in the library aborts or exits.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace lmf {

// Kinds map one to one onto the JS error classes.
enum class ErrorKind { shape, dtype, device, value, memory, type, disposed, internal };

inline const char* error_kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::shape: return "ShapeError";
    case ErrorKind::dtype: return "DTypeError";
    case ErrorKind::device: return "DeviceError";
    case ErrorKind::value: return "ValueError";
    case ErrorKind::memory: return "OutOfMemoryError";
    case ErrorKind::type: return "TypeError";
    case ErrorKind::disposed: return "DisposedError";
    case ErrorKind::internal: return "NativeError";
  }
  return "NativeError";
}

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string op, const std::string& message, const char* file, int line)
      : std::runtime_error(op + ": " + message), kind_(kind), op_(std::move(op)), where_(where(file, line)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& op() const { return op_; }
  const std::string& where_str() const { return where_; }

 private:
  static std::string where(const char* file, int line) {
    std::string f(file);
    auto slash = f.find("native/");  // keep the repository-relative part only
    return (slash == std::string::npos ? f : f.substr(slash)) + ":" + std::to_string(line);
  }
  ErrorKind kind_;
  std::string op_;
  std::string where_;
};

// Builds a message from stream pieces: LMF_THROW(shape, "matmul", "inner sizes differ: " << k1 << " vs " << k2)
#define LMF_THROW(kind, op, msg)                                                              \
  do {                                                                                        \
    std::ostringstream lmf_oss_;                                                              \
    lmf_oss_ << msg;                                                                          \
    throw ::lmf::Error(::lmf::ErrorKind::kind, (op), lmf_oss_.str(), __FILE__, __LINE__);     \
  } while (0)

#define LMF_CHECK(cond, kind, op, msg) \
  do {                                 \
    if (!(cond)) LMF_THROW(kind, op, msg); \
  } while (0)

}  // namespace lmf

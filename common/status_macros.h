// The two macros Abseil 20220623 does not ship.
#ifndef MAILFLEET_COMMON_STATUS_MACROS_H_
#define MAILFLEET_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MF_STATUS_CONCAT_INNER_(a, b) a##b
#define MF_STATUS_CONCAT_(a, b) MF_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define MF_RETURN_IF_ERROR(expr)                        \
  do {                                                  \
    ::absl::Status mf_status_ = (expr);                 \
    if (!mf_status_.ok()) return mf_status_;            \
  } while (0)

// `MF_ASSIGN_OR_RETURN(auto x, F())` assigns F()'s value or returns its
// status.
#define MF_ASSIGN_OR_RETURN(lhs, expr) \
  MF_ASSIGN_OR_RETURN_IMPL_(MF_STATUS_CONCAT_(mf_statusor_, __LINE__), lhs, expr)
#define MF_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(tmp).value()

#endif  // MAILFLEET_COMMON_STATUS_MACROS_H_

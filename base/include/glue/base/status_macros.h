// Early-return helpers for absl::Status and absl::StatusOr, which Abseil 20220623 does
// not ship. The project's only copy; every layer uses these.
//
//   GLUE_RETURN_IF_ERROR(socket.Bind(address));
//   GLUE_ASSIGN_OR_RETURN(auto address, ParseAddress(text));
#ifndef GLUE_BASE_STATUS_MACROS_H_
#define GLUE_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// GLUE_RETURN_IF_ERROR evaluates `expr` (an absl::Status) once and returns it from the
// enclosing function when it is not OK.
#define GLUE_RETURN_IF_ERROR(expr)                                  \
  do {                                                              \
    if (::absl::Status glue_status_ = (expr); !glue_status_.ok()) { \
      return glue_status_;                                          \
    }                                                               \
  } while (false)

#define GLUE_STATUS_CONCAT_INNER_(a, b) a##b
#define GLUE_STATUS_CONCAT_(a, b) GLUE_STATUS_CONCAT_INNER_(a, b)

// GLUE_ASSIGN_OR_RETURN evaluates `rexpr` (an absl::StatusOr<T>) once; on error it
// returns the status, otherwise it moves the value into `lhs`, which may declare a
// variable (`auto x`). Use at most once per line.
#define GLUE_ASSIGN_OR_RETURN(lhs, rexpr) \
  GLUE_ASSIGN_OR_RETURN_IMPL_(GLUE_STATUS_CONCAT_(glue_statusor_, __LINE__), lhs, rexpr)

#define GLUE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                \
  if (!statusor.ok()) {                                   \
    return std::move(statusor).status();                  \
  }                                                       \
  lhs = *std::move(statusor)

#endif  // GLUE_BASE_STATUS_MACROS_H_

#include "glue/transport/rtt_estimator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace glue::transport {
namespace {

absl::Status Invalid(absl::string_view field, absl::Duration value,
                     absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("RttOptions.", field, " = ", absl::FormatDuration(value), ": ", why));
}

}  // namespace

RttEstimator::RttEstimator(RttOptions options) : options_(options) {
  rto_ = ComputeRto();
}

absl::Status RttEstimator::Validate(const RttOptions& options) {
  struct Field {
    absl::string_view name;
    absl::Duration value;
    bool may_be_zero;
  };
  const Field fields[] = {
      {"initial_rto", options.initial_rto, false},
      {"min_rto", options.min_rto, false},
      {"max_rto", options.max_rto, false},
      {"granularity", options.granularity, true},
      {"max_ack_delay", options.max_ack_delay, true},
  };
  for (const Field& field : fields) {
    if (field.value == absl::InfiniteDuration() ||
        field.value == -absl::InfiniteDuration()) {
      return Invalid(field.name, field.value, "must be finite");
    }
    if (field.may_be_zero ? field.value < absl::ZeroDuration()
                          : field.value <= absl::ZeroDuration()) {
      return Invalid(field.name, field.value,
                     field.may_be_zero ? "must be >= 0" : "must be > 0");
    }
  }
  if (options.min_rto > options.max_rto) {
    return Invalid(
        "min_rto", options.min_rto,
        absl::StrCat("must be <= max_rto (", absl::FormatDuration(options.max_rto), ")"));
  }
  if (options.initial_rto < options.min_rto) {
    return Invalid(
        "initial_rto", options.initial_rto,
        absl::StrCat("must be >= min_rto (", absl::FormatDuration(options.min_rto), ")"));
  }
  if (options.initial_rto > options.max_rto) {
    return Invalid(
        "initial_rto", options.initial_rto,
        absl::StrCat("must be <= max_rto (", absl::FormatDuration(options.max_rto), ")"));
  }
  return absl::OkStatus();
}

void RttEstimator::OnSample(absl::Duration rtt) {
  latest_ = std::max(rtt, absl::Microseconds(1));
  if (!has_sample_) {
    srtt_ = latest_;
    rttvar_ = latest_ / 2;
    has_sample_ = true;
  } else {
    rttvar_ = (rttvar_ * 3 + absl::AbsDuration(srtt_ - latest_)) / 4;
    srtt_ = (srtt_ * 7 + latest_) / 8;
  }
  backoff_exponent_ = 0;
  rto_ = ComputeRto();
}

absl::Duration RttEstimator::ComputeRto() const {
  absl::Duration rto = options_.initial_rto;
  if (has_sample_) {
    rto = srtt_ + std::max(options_.granularity, rttvar_ * 4) + options_.max_ack_delay;
  }
  rto = std::min(std::max(rto, options_.min_rto), options_.max_rto);
  // Backoff() stops counting once max_rto is reached, so this loop is short.
  for (int i = 0; i < backoff_exponent_ && rto < options_.max_rto; ++i) rto *= 2;
  return std::min(rto, options_.max_rto);
}

void RttEstimator::Backoff() {
  if (rto_ < options_.max_rto) {
    ++backoff_exponent_;
    rto_ = ComputeRto();
  }
}

void RttEstimator::ResetBackoff() {
  if (backoff_exponent_ == 0) return;
  backoff_exponent_ = 0;
  rto_ = ComputeRto();
}

}  // namespace glue::transport

// RttEstimator: the retransmission timeout of one peer session, from measured round
// trips as RFC 6298 computes it, with bounds suited to a LAN. The transport layer; it
// does no I/O and reads no clock: the session passes in what it measured.
//
//   RttEstimator rtt;                       // rto() is initial_rto until a sample
//   rtt.OnSample(acked_at - sent_at);       // only for frames sent once (Karn)
//   timer.expires_after(rtt.rto());
//   rtt.Backoff();                          // when that timer fired: twice as long
#ifndef GLUE_TRANSPORT_RTT_ESTIMATOR_H_
#define GLUE_TRANSPORT_RTT_ESTIMATOR_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace glue::transport {

// RttOptions bound and tune the estimate. A plain value; RttEstimator::Validate says
// whether a set of them is usable.
struct RttOptions {
  // The timeout before any sample. RFC 6298 says 1 s; a LAN needs far less.
  absl::Duration initial_rto = absl::Milliseconds(100);
  // The floor of the timeout. RFC 6298 says 1 s, which on a LAN would leave a lost
  // frame unrepaired for a thousand round trips. Below some 20 ms, a receiver that a
  // busy host deschedules for a few milliseconds draws a spurious timeout, which
  // resends the whole window (at 5 ms, 4% of a 64 KiB stream on loopback).
  absl::Duration min_rto = absl::Milliseconds(20);
  // The ceiling of the timeout, also after any number of backoffs.
  absl::Duration max_rto = absl::Seconds(2);
  // G of RFC 6298: the clock granularity, the least the variance term adds.
  absl::Duration granularity = absl::Microseconds(100);
  // The receiver's delayed-ack timer: an acknowledgement may wait this long, so the
  // timeout allows for it.
  absl::Duration max_ack_delay = absl::Milliseconds(1);
};

// RttEstimator is not thread-safe: one owner, one thread (or strand) at a time.
class RttEstimator {
 public:
  // Needs `options` that Validate accepts; with others the timeouts are meaningless.
  explicit RttEstimator(RttOptions options = {});

  RttEstimator(const RttEstimator&) = delete;
  RttEstimator& operator=(const RttEstimator&) = delete;

  // Validate returns OK, or kInvalidArgument naming the offending field and its value:
  // every duration finite; initial_rto, min_rto and max_rto > 0 with
  // min_rto <= initial_rto <= max_rto; granularity and max_ack_delay >= 0.
  static absl::Status Validate(const RttOptions& options);

  // OnSample takes a measured round trip; a zero or negative one counts as 1 us. The
  // first sample sets srtt = R and rttvar = R/2; later ones set
  // rttvar = 3/4 rttvar + 1/4 |srtt - R|, then srtt = 7/8 srtt + 1/8 R (RFC 6298
  // 2.2, 2.3). An acknowledgement after a timeout shows the peer is there, so a sample
  // also resets the backoff. Pass only round trips of frames sent once: which copy a
  // resent frame's acknowledgement answers is unknown (Karn's algorithm).
  void OnSample(absl::Duration rtt);

  // rto returns the retransmission timeout: srtt + max(G, 4 rttvar) + max_ack_delay,
  // or initial_rto before any sample, held within [min_rto, max_rto], then doubled
  // once per backoff and capped at max_rto. The floor applies before the doubling so
  // that each backoff doubles the timeout actually in use.
  absl::Duration rto() const { return rto_; }

  // Backoff records that a retransmission timed out: rto() doubles, up to max_rto.
  // Once rto() is max_rto, further calls change nothing, so backoff_exponent() stays
  // bounded.
  void Backoff();

  // ResetBackoff undoes the backoff without a sample: the peer acknowledged something
  // new, so it is there (as QUIC resets its probe timeout on any new acknowledgement).
  void ResetBackoff();

  // has_sample returns whether OnSample was ever called.
  bool has_sample() const { return has_sample_; }
  // smoothed returns srtt, variance rttvar, latest the last sample as clamped; each is
  // zero before the first sample.
  absl::Duration smoothed() const { return srtt_; }
  absl::Duration variance() const { return rttvar_; }
  absl::Duration latest() const { return latest_; }
  // backoff_exponent returns how many times rto() has doubled since the last sample.
  int backoff_exponent() const { return backoff_exponent_; }

  const RttOptions& options() const { return options_; }

 private:
  const RttOptions options_;
  bool has_sample_ = false;
  absl::Duration srtt_;
  absl::Duration rttvar_;
  absl::Duration latest_;
  int backoff_exponent_ = 0;
  absl::Duration rto_;  // ComputeRto() of the above, kept: rto() is asked per frame

  absl::Duration ComputeRto() const;
};

}  // namespace glue::transport

#endif  // GLUE_TRANSPORT_RTT_ESTIMATOR_H_

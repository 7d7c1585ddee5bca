// DatagramBatch: the datagrams the transport's handlers encode, back to back in one
// buffer, sent together by as few system calls as the network takes; and PackFrames,
// which packs one session's frames into them. Internal to the transport layer
// (transport.cc), on discovery's SendBatch.
#ifndef GLUE_TRANSPORT_DATAGRAM_BATCH_H_
#define GLUE_TRANSPORT_DATAGRAM_BATCH_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "glue/network/address.h"
#include "glue/network/link.h"
#include "glue/serialization/codec.h"
#include "glue/transport/session.h"

namespace glue::transport::internal {

// A batch is sent when it holds this many datagrams, or would pass this many bytes:
// the most one system call takes (UIO_MAXIOV), and a bound on the memory.
inline constexpr size_t kMaxBatchDatagrams = 1024;
inline constexpr size_t kMaxBatchBytes = 1 << 20;

// DatagramBatch is not thread-safe: the transport's send_mu guards it.
//
//   uint8_t* at = batch.Reserve();  // encode one datagram of at most
//   ...                             // max_datagram_bytes at `at`
//   batch.Queue(to, encoded);
//   batch.Send();                   // once the transport's lock is released
class DatagramBatch {
 public:
  // SendFn sends datagrams as Discovery::SendBatch does: returns how many of them,
  // from the first, the network took, or an error.
  using SendFn =
      std::function<absl::StatusOr<size_t>(absl::Span<const network::OutgoingDatagram>)>;

  // Room for kMaxBatchBytes and one more datagram of `max_datagram_bytes`.
  DatagramBatch(size_t max_datagram_bytes, SendFn send);
  DatagramBatch(const DatagramBatch&) = delete;
  DatagramBatch& operator=(const DatagramBatch&) = delete;

  // Reserve returns where the next datagram is encoded, max_datagram_bytes at most,
  // sending the batch first when it is full.
  uint8_t* Reserve() {
    if (encoded_.size() >= kMaxBatchDatagrams || used_ > kMaxBatchBytes) Send();
    return bytes_.get() + used_;
  }

  // Queue adds the datagram just encoded where Reserve said, bound for `to`.
  void Queue(const network::Address& to, absl::Span<const uint8_t> bytes) {
    assert(bytes.data() == bytes_.get() + used_);
    encoded_.push_back({to, used_, bytes.size()});
    used_ += bytes.size();
  }

  // Send sends the datagrams queued so far and empties the batch. A datagram the
  // network refuses (the socket buffer is full) is counted in send_failures and left
  // to the retransmission timer, like a loss.
  void Send();

  uint64_t datagrams_sent() const { return datagrams_sent_; }
  uint64_t send_failures() const { return send_failures_; }

 private:
  // Where each datagram queued goes, and where in bytes_ it starts.
  struct Encoded {
    network::Address to;
    size_t offset;
    size_t size;
  };

  const SendFn send_;
  const std::unique_ptr<uint8_t[]> bytes_;
  size_t used_ = 0;
  std::vector<Encoded> encoded_;
  std::vector<network::OutgoingDatagram> outgoing_;  // Send's, kept for its capacity
  uint64_t datagrams_sent_ = 0;
  uint64_t send_failures_ = 0;
};

// PackFrames packs `out`, what one session's Poll gave, into as few datagrams to `to`
// as `encoder`'s budget allows, the ack first, each with `header`, and queues them in
// `batch`. The oldest ranges of an ack too large for a datagram are left out: the
// cumulative point and the newest ranges matter most, and the others come again in
// later acks. Errors: those of the encoder, when the header, the ack or a frame does
// not fit (the transport checked at Create that they do); the frames not queued are
// left to be resent.
absl::Status PackFrames(const serialization::Header& header, const network::Address& to,
                        Outgoing& out, serialization::DatagramEncoder& encoder,
                        DatagramBatch& batch);

}  // namespace glue::transport::internal

#endif  // GLUE_TRANSPORT_DATAGRAM_BATCH_H_

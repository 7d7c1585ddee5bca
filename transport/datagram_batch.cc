#include "transport/datagram_batch.h"

#include <algorithm>
#include <utility>

#include "glue/base/status_macros.h"

namespace glue::transport::internal {

DatagramBatch::DatagramBatch(size_t max_datagram_bytes, SendFn send)
    : send_(std::move(send)),
      bytes_(std::make_unique_for_overwrite<uint8_t[]>(kMaxBatchBytes +
                                                       max_datagram_bytes)) {}

void DatagramBatch::Send() {
  outgoing_.clear();
  for (const Encoded& encoded : encoded_) {
    outgoing_.push_back(
        {encoded.to, absl::MakeConstSpan(bytes_.get() + encoded.offset, encoded.size)});
  }
  absl::Span<const network::OutgoingDatagram> left = outgoing_;
  while (!left.empty()) {
    absl::StatusOr<size_t> sent = send_(left);
    if (!sent.ok()) {
      send_failures_ += left.size();
      break;
    }
    datagrams_sent_ += *sent;
    left.remove_prefix(*sent);
  }
  encoded_.clear();
  used_ = 0;
}

absl::Status PackFrames(const serialization::Header& header, const network::Address& to,
                        Outgoing& out, serialization::DatagramEncoder& encoder,
                        DatagramBatch& batch) {
  GLUE_RETURN_IF_ERROR(encoder.BeginFramesAt(header, batch.Reserve()));
  if (out.ack) {
    serialization::AckFrame& ack = *out.ack;
    while (!ack.ranges.empty() && serialization::DatagramEncoder::EncodedAckFrameSize(
                                      ack) > encoder.remaining()) {
      ack.ranges.remove_suffix(std::max<size_t>(1, ack.ranges.size() / 8));
    }
    GLUE_RETURN_IF_ERROR(encoder.AddAck(ack));
  }
  for (const serialization::DataFrame& frame : out.data) {
    absl::Status added = encoder.AddData(frame);
    if (absl::IsResourceExhausted(added)) {
      GLUE_ASSIGN_OR_RETURN(absl::Span<const uint8_t> datagram, encoder.Finish());
      batch.Queue(to, datagram);
      GLUE_RETURN_IF_ERROR(encoder.BeginFramesAt(header, batch.Reserve()));
      added = encoder.AddData(frame);
    }
    GLUE_RETURN_IF_ERROR(added);
  }
  GLUE_ASSIGN_OR_RETURN(absl::Span<const uint8_t> datagram, encoder.Finish());
  batch.Queue(to, datagram);
  return absl::OkStatus();
}

}  // namespace glue::transport::internal

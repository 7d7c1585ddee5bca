// The send queue: what each peer's messages wait in while the transport's send window
// is full, within max_queued_messages and max_queued_bytes, and the reports of their
// end. Internal to the fragmentation layer (message_transport.cc), on the transport.
#ifndef GLUE_FRAGMENTATION_SEND_QUEUE_H_
#define GLUE_FRAGMENTATION_SEND_QUEUE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "fragmentation/message_transport_state.h"
#include "glue/fragmentation/fragment_header.h"
#include "glue/fragmentation/message_transport.h"
#include "glue/fragmentation/splitter.h"
#include "glue/transport/transport.h"

namespace glue::fragmentation::internal {

// OutMessage is one message accepted by Send and not yet finished with: some of its
// frames wait in its peer's queue, or wait for the transport's report.
struct OutMessage {
  std::shared_ptr<const void> owner;  // keeps `bytes` alive
  absl::Span<const uint8_t> bytes;
  SplitPlan plan;
  FragmentHeader header;           // index set per fragment; unused when not fragmented
  transport::SendOptions options;  // options.token is the caller's
  // The token the transport reports this message's frames by; kUntracked for a whole
  // message no caller awaits a report of (see MessageTransport::Send).
  uint64_t key = 0;
  uint32_t next = 0;         // the next frame to hand to the transport
  uint32_t outstanding = 0;  // frames handed, reliable, not yet reported
  bool reported = false;     // OnSendDone ran for it

  // queued_bytes is what of the message is not yet handed to the transport.
  size_t queued_bytes() const {
    const uint64_t handed = uint64_t{next} * plan.fragment_bytes;
    return plan.message_bytes - std::min<uint64_t>(handed, plan.message_bytes);
  }
};

// The key of messages sent whole whose end only the counters record: nothing is
// kept of them but what the transport keeps, and its report needs no lookup.
constexpr uint64_t kUntracked = 0;

// Done is a reliable message's end, reported once the lock is released.
struct Done {
  uint64_t peer_id;
  uint64_t token;
  transport::SendOutcome outcome;
};

// QueueRoom says whether a message of `size` bytes fits in the queue to `peer_id`,
// which holds `messages` messages and `bytes` bytes not yet handed to the transport:
// kResourceExhausted naming the bound it would pass otherwise.
absl::Status QueueRoom(uint64_t peer_id, size_t messages, size_t bytes, size_t size,
                       const MessageTransportOptions& options);

// Count counts the end of a reliable message.
void Count(MessageTransportState& s, transport::SendOutcome outcome)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu);

// Report records the end of reliable message `m`, once.
void Report(MessageTransportState& s, uint64_t peer_id, OutMessage& m,
            transport::SendOutcome outcome, std::vector<Done>* done)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu);

// Withdraw takes what remains of `m` out of its peer's queue. Pump hands frames from
// the front of the queue only, so a message with frames both handed and not is at the
// front; one with none handed is not reported, so not withdrawn.
void Withdraw(MessageTransportState& s, PeerState& ps, OutMessage& m)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu);

// Settle forgets reliable message `m` once it is reported, or all of it is handed,
// and the transport reported every frame handed.
void Settle(PeerState& ps, const OutMessage& m);

// HandNext hands the next frame of `m` to the transport.
absl::Status HandNext(MessageTransportState& s, uint64_t peer_id, PeerState& ps,
                      OutMessage& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu);

// Pump hands the transport the peer's queued frames, in order, until its send window
// is full. A message the transport refuses otherwise is released. A queue it empties
// wakes AwaitQueueEmpty.
void Pump(MessageTransportState& s, uint64_t peer_id, PeerState& ps,
          std::vector<Done>* done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu);

// ReleaseAll reports every reliable message of the peer not yet reported as released
// and empties its queue.
void ReleaseAll(MessageTransportState& s, uint64_t peer_id, PeerState& ps,
                std::vector<Done>* done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu);

// RunDone reports each of `done` to the listener's OnSendDone, without the lock.
void RunDone(const MessageTransportState& s, const std::vector<Done>& done);

}  // namespace glue::fragmentation::internal

#endif  // GLUE_FRAGMENTATION_SEND_QUEUE_H_

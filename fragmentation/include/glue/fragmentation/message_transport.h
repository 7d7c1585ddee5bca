// MessageTransport: messages of any size up to max_message_bytes to peers, over the
// Transport it is given. A message that fits one frame goes whole; a larger one goes
// as fragments, each a view of the caller's buffer with a FragmentHeader in its meta,
// reassembled at the receiver. The fragmentation layer, on the transport.
//
//   auto messages = MessageTransport::Create(*transport, MessageTransportOptions());
//   (*messages)->Start(&listener);  // a MessageTransport::Listener
//   (*messages)->Send(peer_id, std::move(big_message), {.token = 7});
#ifndef GLUE_FRAGMENTATION_MESSAGE_TRANSPORT_H_
#define GLUE_FRAGMENTATION_MESSAGE_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "glue/base/clock.h"
#include "glue/base/environment.h"
#include "glue/discovery/discovery.h"
#include "glue/fragmentation/fragment_header.h"
#include "glue/fragmentation/reassembler.h"
#include "glue/transport/transport.h"

namespace glue::fragmentation {
namespace internal {
struct MessageTransportState;
}  // namespace internal

// The range of GLUE_MAX_MESSAGE_BYTES: 1 byte to 4 GiB.
inline constexpr uint64_t kMaxMaxMessageBytes = uint64_t{4} << 30;

// kMaxTimeToLiveVariable names the variable that sets reassembly.max_time_to_live, in
// milliseconds, 1..kMaxMaxTimeToLiveMilliseconds (one hour).
inline constexpr char kMaxTimeToLiveVariable[] =
    "GLUE_REASSEMBLY_MAX_TIME_TO_LIVE_MILLISECONDS";
inline constexpr uint64_t kMaxMaxTimeToLiveMilliseconds = 3'600'000;

// MessageTransportOptions tune and bound a MessageTransport.
struct MessageTransportOptions {
  // The largest message sent or reassembled (GLUE_MAX_MESSAGE_BYTES). Peers should
  // agree on it. reassembly.max_message_bytes is set to it.
  uint64_t max_message_bytes = kDefaultMaxMessageBytes;
  // Bytes of messages accepted by Send but not yet handed to the transport, per peer:
  // what waits while the peer's send window is full. A Send beyond it fails with
  // kResourceExhausted. At least max_message_bytes, so that any message can be sent.
  size_t max_queued_bytes = size_t{128} << 20;
  // Messages queued so, per peer: each costs some 200 bytes of bookkeeping beyond its
  // bytes, which for small messages max_queued_bytes would not bound. A Send beyond it
  // fails with kResourceExhausted. At least 1.
  size_t max_queued_messages = size_t{1} << 16;
  // Each peer's reassembly bounds, and its default and longest time to live.
  ReassemblerOptions reassembly;
  // Bytes all the peers' incomplete messages may hold together.
  size_t reassembly_budget_bytes = ReassemblyBudget::kDefaultMaxBytes;
};

// OptionsFromEnvironment returns the default options with GLUE_MAX_MESSAGE_BYTES
// (1..kMaxMaxMessageBytes) and kMaxTimeToLiveVariable read from `env`;
// max_queued_bytes grows to max_message_bytes when that is larger, and
// reassembly.default_time_to_live shrinks to reassembly.max_time_to_live when that is
// shorter. Error: kInvalidArgument naming the variable and its value. Any thread.
absl::StatusOr<MessageTransportOptions> OptionsFromEnvironment(
    const EnvironmentLookup& env);

// MessageTransportCounters count what the layer did since it was made.
struct MessageTransportCounters {
  uint64_t messages_sent = 0;         // accepted by Send
  uint64_t sent_whole = 0;            // of which sent in one frame
  uint64_t sent_fragmented = 0;       // of which split into fragments
  uint64_t fragments_sent = 0;        // fragments handed to the transport
  uint64_t refused_queue_full = 0;    // Sends failed at max_queued_bytes or _messages
  uint64_t acknowledged = 0;          // reliable messages reported acknowledged
  uint64_t expired = 0;               // ... expired
  uint64_t released = 0;              // ... released
  size_t bytes_queued = 0;            // now, over every peer
  uint64_t received_whole = 0;        // messages that arrived in one frame
  uint64_t received_reassembled = 0;  // messages reassembled from fragments
  uint64_t malformed_headers = 0;     // fragments whose meta did not decode: dropped
  // Incomplete messages dropped because their peer was removed or started a new
  // session (which numbers its messages anew): their fragments will never all come.
  uint64_t reassembly_abandoned = 0;
  // Bytes held for incomplete messages now, over every peer (at most
  // reassembly_budget_bytes), as Reassembler::bytes_held counts them.
  size_t reassembly_bytes_held = 0;
  // Every peer's reassembler added up, those of removed peers included.
  ReassemblerCounters reassembly;
  ReassemblyBudgetCounters budget;
  transport::TransportCounters transport;
};

// MessageTransport runs on the transport's strand and reads its clock (see Transport);
// its reassembly alarm too. Public methods may be called from any thread. The
// listener is called on that strand, one call at a time; it may call Send, but not
// Stop.
class MessageTransport {
 public:
  // Listener is what the layer above (topics) implements.
  class Listener : public discovery::PeerListener {
   public:
    // A whole message from `from`, which sent it in its session `peer_session`
    // (transport::Delivery::peer_session): the number changes when the peer starts a
    // new session with us, so that what the layer above learned of the peer's last
    // session (a restarted process's, say) is not taken for this one's.
    virtual void OnMessage(const discovery::Peer& from, uint64_t peer_session,
                           std::vector<uint8_t> message) = 0;
    // The end of a reliable send, once per message accepted by Send: acknowledged when
    // every fragment was; otherwise expired or released as soon as one fragment was,
    // its fragments not yet handed to the transport then dropped.
    virtual void OnSendDone(uint64_t peer_id, uint64_t token,
                            transport::SendOutcome outcome) = 0;
    // Whether OnSendDone is wanted. A listener that never awaits the end of its sends
    // says no: a reliable message that fits one frame then goes straight to the
    // transport, with no bookkeeping here, and its end is only counted.
    virtual bool WantsSendDone() const { return true; }
  };

  // Create makes a message transport over `transport`, which must outlive it and
  // which is its alone from then on (Start starts it, Stop stops it). Nothing is
  // opened until Start. Error: kInvalidArgument for options out of range (named with
  // their values).
  static absl::StatusOr<std::unique_ptr<MessageTransport>> Create(
      transport::Transport& transport, MessageTransportOptions options);

  // Stops (see Stop).
  ~MessageTransport();
  MessageTransport(const MessageTransport&) = delete;
  MessageTransport& operator=(const MessageTransport&) = delete;

  // Start starts the transport (whose errors it returns). `listener` (null: none) is
  // called until Stop returns, and must outlive that.
  absl::Status Start(Listener* listener);

  // Stop stops the transport, reports every reliable message not yet reported as
  // kReleased and cancels the reassembly alarm. When it returns the listener is not
  // called any more. Idempotent. Not from the listener.
  void Stop();

  // Send queues `message` to peer `peer_id` and hands the transport as much of it as
  // the peer's send window takes; the rest follows as acknowledgements make room. The
  // buffer is kept, never copied, until the message is reported (reliable) or sent.
  // options.token is given back to on_send_done; options.wait_until is ignored (Send
  // never waits). A best-effort message goes to the transport at once, all its
  // frames; the transport's best-effort queue drops its oldest frames beyond
  // SessionOptions::max_best_effort_queue, so a best-effort message of more fragments
  // than that never arrives whole. Errors: kInvalidArgument for a
  // message larger than max_message_bytes (both sizes named), or ordered without
  // reliable; kNotFound for an unknown peer; kResourceExhausted when the peer's queue
  // would hold more than max_queued_bytes or max_queued_messages; kFailedPrecondition
  // before Start or after Stop.
  absl::Status Send(uint64_t peer_id, std::shared_ptr<const std::vector<uint8_t>> message,
                    const transport::SendOptions& options);
  absl::Status Send(uint64_t peer_id, std::vector<uint8_t> message,
                    const transport::SendOptions& options);
  // This Send takes the message as a view of bytes that `owner` keeps alive; it sets
  // `*queued` (when not null) to whether the message waits in the queue.
  absl::Status Send(uint64_t peer_id, std::shared_ptr<const void> owner,
                    absl::Span<const uint8_t> message,
                    const transport::SendOptions& options, bool* queued = nullptr);

  // AwaitQueueEmpty waits until nothing waits in the queue to peer `peer_id` (what
  // was queued is in the transport's send window), the peer or the transport is
  // gone, or `deadline` (of the clock). Returns whether the queue is empty. From a
  // handler of the transport (a callback on the network thread), which the wait would
  // hold up, it does not wait.
  bool AwaitQueueEmpty(uint64_t peer_id, absl::Time deadline);

  // max_message_bytes is the largest message Send accepts.
  uint64_t max_message_bytes() const;

  MessageTransportCounters counters() const;

  // The limits of the transport beneath, which messages that fit one frame meet.
  size_t max_body_bytes(size_t meta_bytes) const;

  // The strand and the clock of the stack, for the layer above to run on.
  const discovery::Strand& strand() const;
  Clock& clock() const;

 private:
  explicit MessageTransport(std::shared_ptr<internal::MessageTransportState> state);

  std::shared_ptr<internal::MessageTransportState> state_;
};

}  // namespace glue::fragmentation

#endif  // GLUE_FRAGMENTATION_MESSAGE_TRANSPORT_H_

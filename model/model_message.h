// ModelMessage: what the model layer sends over its topics, and its encoding
// (docs/PROTOCOL.md §11). Internal to the model layer; no I/O.
//
//   hello    on $glue/model/NAME/hello, kept in history: "this run of mine opened it"
//   delta    on $glue/model/NAME/all (a writer's batch of writes), or on
//            $glue/model/NAME/to/ID (a chunk of what that peer lacked)
//   summary  on $glue/model/NAME/to/ID: what this replica has seen, per writer
//   ack      on $glue/model/NAME/to/ID: how far this replica holds ID's writes
#ifndef GLUE_MODEL_MODEL_MESSAGE_H_
#define GLUE_MODEL_MODEL_MESSAGE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "glue/model/causal_context.h"
#include "glue/model/hybrid_clock.h"

namespace glue::model::internal {

// The topics layer's type name of every model message.
inline constexpr char kModelType[] = "glue.model.1";

inline constexpr uint8_t kHelloKind = 0x40;
inline constexpr uint8_t kSummaryKind = 0x41;
inline constexpr uint8_t kDeltaKind = 0x42;
inline constexpr uint8_t kAckKind = 0x43;

// Bounds a decoder holds a message to.
inline constexpr uint64_t kMaxTimeToLiveMs = uint64_t{1} << 42;  // 139 years

// Hello says that run `incarnation` of its sender opened the model, or, with
// incarnation 0, that its sender closed it.
struct Hello {
  uint64_t incarnation = 0;
};

// Ack says that its sender holds every write of the recipient's run `incarnation`
// up to `counter`.
struct Ack {
  uint64_t incarnation = 0;  // the recipient's
  uint64_t counter = 0;
};

// WriterSummary is what a replica has seen of one writer: the runs of counters, and
// how many of those writes it still holds (live) with a digest of their dots, so that
// two replicas that saw the same writes can tell whether they removed the same.
struct WriterSummary {
  Writer writer;
  std::vector<Run> seen;
  uint64_t live_count = 0;
  uint64_t live_digest = 0;
};

// Summary is a replica's whole summary: O(writers), whatever the number of keys. A
// peer answers with what the sender lacks, ending with a delta whose answer_to is
// `request`; with reply_wanted it sends its own summary back.
struct Summary {
  uint64_t incarnation = 0;  // the sender's
  uint64_t request = 0;
  bool reply_wanted = false;
  std::vector<WriterSummary> writers;
};

// WireWriter names a writer a delta's versions refer to by index.
struct WireWriter {
  Writer writer;
  std::string name;
};

// WireVersion is one write: a put (with a value) or a delete (without). Views point
// into the bytes decoded (or, to encode, into what the caller holds).
struct WireVersion {
  uint32_t writer = 0;  // index into Delta::writers
  uint64_t counter = 0;
  HybridTime time;
  bool ephemeral = false;
  uint64_t time_to_live_ms = 0;  // 0: none; from when it is received
  absl::string_view key;
  std::optional<absl::string_view> value;
  // The writes of the key it replaces, (writer index, counter): those its writer held
  // for the key when it wrote. Empty in an answer (the answer's dots say it).
  absl::InlinedVector<std::pair<uint32_t, uint64_t>, 1> replaced;
};

// DotsOf says, of one writer, which writes the sender has seen (`seen`), and which of
// those it still holds (`live`, within `seen`): the rest were replaced or deleted, and
// a receiver that holds one of them drops it.
struct DotsOf {
  uint32_t writer = 0;  // index into Delta::writers
  std::vector<Run> seen;
  std::vector<Run> live;
};

// Delta is writes and what is known of writes. answer_to 0: the sender's own new
// writes, in the order made; otherwise a chunk of the answer to that summary request,
// `last` on its last.
struct Delta {
  uint64_t incarnation = 0;  // the sender's
  uint64_t answer_to = 0;
  bool last = false;
  bool ack_wanted = false;  // the sender waits for an Ack
  std::vector<WireWriter> writers;
  std::vector<WireVersion> versions;
  std::vector<DotsOf> dots;
};

using ModelMessage = std::variant<Hello, Summary, Delta, Ack>;

std::vector<uint8_t> EncodeModelMessage(const ModelMessage& message);

// VersionWireBytes is about what `version` adds to a delta: for chunking.
size_t VersionWireBytes(const WireVersion& version);

// DecodeModelMessage reads one message; a delta's keys and values view `bytes`.
// Errors, kInvalidArgument naming the field and where: an unknown kind, reserved
// flags, truncated or non-canonical varints, a writer index out of range, a counter
// of 0, runs out of order, live runs outside the seen runs, a writer named twice, an
// invalid key, a time to live above kMaxTimeToLiveMs, and bytes left over.
absl::StatusOr<ModelMessage> DecodeModelMessage(absl::Span<const uint8_t> bytes);

}  // namespace glue::model::internal

#endif  // GLUE_MODEL_MODEL_MESSAGE_H_

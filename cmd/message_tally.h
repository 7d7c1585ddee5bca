// MessageTally: what a simple_endpoint subscriber (cmd/simple_endpoint.cc) counts of
// the messages it receives, and the payload its publisher sends, which carries a
// CRC-32C to be checked. Apart from the program so that the counting can be tested.
//
//   MessageTally tally;
//   endpoint->Subscribe(topic, type, [&](const Message& m) { tally.Count(m); });
//   PrintLine(tally.Line("stats", topic));
#ifndef GLUE_CMD_MESSAGE_TALLY_H_
#define GLUE_CMD_MESSAGE_TALLY_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "glue/base/mutex.h"
#include "glue/topics/topics.h"

namespace glue {

// A payload: the publisher's count of what it published, 1, 2, ... (8 bytes,
// little-endian), the CRC-32C of what follows it (4 bytes), then filler.
inline constexpr size_t kPayloadHeaderBytes = 12;

// MakePayload returns the payload of message `sequence`, `size` bytes long; `size` is
// at least kPayloadHeaderBytes.
std::vector<uint8_t> MakePayload(uint64_t sequence, size_t size);

// TallyTotals are the counts of every publisher. Messages are told apart by the
// number the publisher's endpoint gave them (Message::sequence) in its epoch.
struct TallyTotals {
  uint64_t received = 0;    // intact, and new
  uint64_t lost = 0;        // the gaps between the sequences heard of an epoch
  uint64_t duplicates = 0;  // a sequence not above the last heard of its epoch
  uint64_t corrupt = 0;     // payloads too short, or whose CRC-32C does not match
  // Messages of an epoch before the first one heard of it (that one's sequence less
  // 1): published before this subscriber heard of the publisher, and older than the
  // publisher's history. Not in `lost`: nothing here could have received them.
  uint64_t missed_at_start = 0;
};

// MessageTally counts per run of a publisher, per (publisher_id, publisher_epoch): a
// publisher restarted with the same GLUE_ENDPOINT_ID numbers its messages from 1
// again, in a new epoch, and is counted anew rather than as duplicates. Thread-safe.
class MessageTally {
 public:
  MessageTally() = default;
  MessageTally(const MessageTally&) = delete;
  MessageTally& operator=(const MessageTally&) = delete;

  // Count counts one message received.
  void Count(const topics::Message& m);

  TallyTotals totals() const;

  // Line is a line of simple_endpoint's output:
  //   WHAT topic=T received=N lost=N duplicates=N corrupt=N missed_at_start=N
  std::string Line(absl::string_view what, absl::string_view topic) const;

 private:
  mutable Mutex mu_;
  TallyTotals totals_ ABSL_GUARDED_BY(mu_);
  // The last sequence heard, by (publisher_id, publisher_epoch).
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace glue

#endif  // GLUE_CMD_MESSAGE_TALLY_H_

// DuplicateFilter: the last message delivered from each remembered publisher on each
// topic, so that a message heard again (a resend, history sent to us twice) is
// dropped, within a bound on the publishers remembered. Internal to the topics layer
// (topics.cc).
#ifndef GLUE_TOPICS_DUPLICATE_FILTER_H_
#define GLUE_TOPICS_DUPLICATE_FILTER_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace glue::topics::internal {

// DuplicateFilter is not thread-safe: the topics' lock guards it.
class DuplicateFilter {
 public:
  // Remembers at most `max_publishers` pairs of publisher and topic (at least 1).
  explicit DuplicateFilter(size_t max_publishers) : max_publishers_(max_publishers) {}
  DuplicateFilter(const DuplicateFilter&) = delete;
  DuplicateFilter& operator=(const DuplicateFilter&) = delete;

  // Fresh says whether message (epoch, sequence) from `publisher` on `topic` is one
  // not delivered yet, and records it as delivered if so: of another epoch than the
  // last delivered from it there, or of the same epoch and a larger sequence. The
  // caller passes only epochs the publisher declared, so another epoch is another
  // run of the publisher, which numbers its messages from 1 again, whether its epoch
  // is larger or smaller (a clock that went back). Past the bound it forgets the pair
  // heard from least recently, counted in *forgotten.
  bool Fresh(uint64_t publisher, absl::string_view topic, uint64_t epoch,
             uint64_t sequence, uint64_t* forgotten);

 private:
  using Key = std::pair<uint64_t, std::string>;

  // Heard is the last message delivered from one publisher on one topic.
  struct Heard {
    uint64_t epoch = 0;
    uint64_t sequence = 0;
    std::list<Key>::iterator age;  // in ages_
  };

  // HeardOrder orders heard_ by publisher, then topic, and finds a key by a view of
  // its topic.
  struct HeardOrder {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      if (a.first != b.first) return a.first < b.first;
      return absl::string_view(a.second) < absl::string_view(b.second);
    }
  };

  const size_t max_publishers_;
  std::map<Key, Heard, HeardOrder> heard_;
  std::list<Key> ages_;  // least recently heard first
};

}  // namespace glue::topics::internal

#endif  // GLUE_TOPICS_DUPLICATE_FILTER_H_

// CausalContext: the writes a replica has seen, as dots, (writer, counter) pairs: for
// each writer the counters 1..n all seen, and the few beyond n seen out of order. It
// is what a replica's summary carries (it grows with the number of writers, not of
// keys), what tells a replica which of a peer's writes it lacks, and what makes a
// delete stick without a tombstone per key: a write whose dot the context holds but
// the store does not was overwritten or deleted, and is never taken back.
//
//   CausalContext seen;
//   Dot dot = seen.Next(self);     // a new write of ours
//   seen.Add(dot);
//   if (!seen.Contains(remote)) ...  // a write not seen yet
//   seen.Merge(peer_context);
//
// The model layer's (after Almeida, Shoker and Baquero's delta-state CRDTs).
#ifndef GLUE_MODEL_CAUSAL_CONTEXT_H_
#define GLUE_MODEL_CAUSAL_CONTEXT_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"

namespace glue::model {

// Writer is one run of one endpoint's replica of a model: its id and a random
// incarnation drawn each time the model is opened, so that a restarted writer never
// reuses the counters of its earlier life.
struct Writer {
  uint64_t endpoint_id = 0;
  uint64_t incarnation = 0;

  friend auto operator<=>(const Writer&, const Writer&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Writer& w) {
    return H::combine(std::move(h), w.endpoint_id, w.incarnation);
  }
};

// Dot names one write: the writer's counter-th, from 1.
struct Dot {
  Writer writer;
  uint64_t counter = 0;

  friend auto operator<=>(const Dot&, const Dot&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Dot& d) {
    return H::combine(std::move(h), d.writer, d.counter);
  }
};

// DotRange is the dots first..last (inclusive) of one writer.
struct DotRange {
  Writer writer;
  uint64_t first = 0;
  uint64_t last = 0;

  friend bool operator==(const DotRange&, const DotRange&) = default;
};

// Run is the counters first..last (inclusive) of one writer.
using Run = std::pair<uint64_t, uint64_t>;

// SubtractRuns returns the counters of `a` not in `b`, both ordered and disjoint.
std::vector<Run> SubtractRuns(const std::vector<Run>& a, const std::vector<Run>& b);

// CausalContext is not thread-safe: its owner's lock guards it.
class CausalContext {
 public:
  // Contains says whether dot `dot` was seen.
  bool Contains(const Dot& dot) const;

  // Add records that `dot` was seen (counter 0 is no dot: ignored).
  void Add(const Dot& dot);

  // AddRange records the dots of `range`.
  void AddRange(const DotRange& range);

  // Next is the dot of `writer`'s next write, for the writer itself: one past the
  // largest counter seen of it.
  Dot Next(const Writer& writer) const;

  // Merge adds every dot `other` has seen.
  void Merge(const CausalContext& other);

  // Missing lists, as ranges ordered by writer and counter, the dots this context has
  // seen and `other` has not: what a replica holding `other` lacks.
  std::vector<DotRange> Missing(const CausalContext& other) const;

  // Ranges lists every dot seen, as ranges ordered by writer and counter: the
  // summary's content.
  std::vector<DotRange> Ranges() const;

  // RunsOf lists the runs of `writer`'s dots seen, in order (none: empty).
  std::vector<Run> RunsOf(const Writer& writer) const;

  // Contiguous is the largest n such that `writer`'s dots 1..n were all seen.
  uint64_t Contiguous(const Writer& writer) const;

  // Writers lists the writers seen, ordered.
  std::vector<Writer> Writers() const;

  // writers is how many writers it has seen; gaps how many runs of dots it holds
  // beyond its writers' first contiguous runs (seen out of order, waiting for what is
  // missing before them). Memory grows with these two, never with a counter's size.
  size_t writers() const { return writers_.size(); }
  size_t gaps() const;

  // Equal when they have seen the same dots: a writer holds an entry only once a dot
  // of it was seen, and its runs are kept in one canonical form.
  friend bool operator==(const CausalContext&, const CausalContext&) = default;

 private:
  // Seen is one writer's: 1..contiguous all seen, and the runs `extra` (first ->
  // last, disjoint, none touching another or contiguous + 1) beyond.
  struct Seen {
    uint64_t contiguous = 0;
    absl::btree_map<uint64_t, uint64_t> extra;

    bool Contains(uint64_t counter) const;
    void Add(uint64_t first, uint64_t last);
    uint64_t largest() const {
      return extra.empty() ? contiguous : extra.rbegin()->second;
    }
    // Runs lists 1..contiguous (when not empty) and the extra runs, in order.
    std::vector<std::pair<uint64_t, uint64_t>> Runs() const;
    friend bool operator==(const Seen&, const Seen&) = default;
  };

  absl::flat_hash_map<Writer, Seen> writers_;
};

}  // namespace glue::model

#endif  // GLUE_MODEL_CAUSAL_CONTEXT_H_

#include "glue/model/causal_context.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace glue::model {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// One past `n`, held at the largest counter rather than wrapping to 0.
uint64_t After(uint64_t n) { return n == kMax ? kMax : n + 1; }

template <typename Map>
std::vector<typename Map::key_type> SortedKeys(const Map& map) {
  std::vector<typename Map::key_type> keys;
  keys.reserve(map.size());
  for (const auto& [key, value] : map) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace

std::vector<Run> SubtractRuns(const std::vector<Run>& a, const std::vector<Run>& b) {
  std::vector<Run> out;
  size_t j = 0;
  for (Run run : a) {
    while (j < b.size() && b[j].second < run.first) ++j;
    uint64_t first = run.first;
    bool done = false;
    for (size_t k = j; k < b.size() && b[k].first <= run.second; ++k) {
      if (b[k].first > first) out.emplace_back(first, b[k].first - 1);
      if (b[k].second >= run.second) {
        done = true;
        break;
      }
      first = b[k].second + 1;
    }
    if (!done) out.emplace_back(first, run.second);
  }
  return out;
}

bool CausalContext::Seen::Contains(uint64_t counter) const {
  if (counter <= contiguous) return true;
  auto it = extra.upper_bound(counter);
  if (it == extra.begin()) return false;
  --it;
  return it->second >= counter;
}

void CausalContext::Seen::Add(uint64_t first, uint64_t last) {
  first = std::max<uint64_t>(first, 1);
  if (first > last || last <= contiguous) return;
  if (first <= After(contiguous)) {
    contiguous = last;
    // Runs beyond that now touch it, or lie within it, join it.
    while (!extra.empty() && extra.begin()->first <= After(contiguous)) {
      contiguous = std::max(contiguous, extra.begin()->second);
      extra.erase(extra.begin());
    }
    return;
  }
  // Join every run that overlaps or touches first..last.
  auto it = extra.upper_bound(After(last));
  while (it != extra.begin()) {
    auto before = std::prev(it);
    if (After(before->second) < first) break;
    first = std::min(first, before->first);
    last = std::max(last, before->second);
    it = extra.erase(before);
  }
  extra.emplace(first, last);
}

std::vector<Run> CausalContext::Seen::Runs() const {
  std::vector<Run> runs;
  runs.reserve(extra.size() + 1);
  if (contiguous > 0) runs.emplace_back(1, contiguous);
  for (const auto& [first, last] : extra) runs.emplace_back(first, last);
  return runs;
}

bool CausalContext::Contains(const Dot& dot) const {
  const auto it = writers_.find(dot.writer);
  return it != writers_.end() && dot.counter > 0 && it->second.Contains(dot.counter);
}

void CausalContext::Add(const Dot& dot) {
  if (dot.counter == 0) return;
  writers_[dot.writer].Add(dot.counter, dot.counter);
}

void CausalContext::AddRange(const DotRange& range) {
  if (range.last == 0 || range.first > range.last) return;
  writers_[range.writer].Add(range.first, range.last);
}

Dot CausalContext::Next(const Writer& writer) const {
  const auto it = writers_.find(writer);
  const uint64_t largest = it == writers_.end() ? 0 : it->second.largest();
  return Dot{writer, After(largest)};
}

void CausalContext::Merge(const CausalContext& other) {
  for (const auto& [writer, seen] : other.writers_) {
    Seen& ours = writers_[writer];
    for (const auto& [first, last] : seen.Runs()) ours.Add(first, last);
  }
}

std::vector<DotRange> CausalContext::Missing(const CausalContext& other) const {
  std::vector<DotRange> missing;
  for (const Writer& writer : SortedKeys(writers_)) {
    const auto theirs = other.writers_.find(writer);
    const std::vector<Run> ours = writers_.at(writer).Runs();
    const std::vector<Run> lacking =
        theirs == other.writers_.end() ? ours : SubtractRuns(ours, theirs->second.Runs());
    for (const auto& [first, last] : lacking) missing.push_back({writer, first, last});
  }
  return missing;
}

std::vector<DotRange> CausalContext::Ranges() const { return Missing(CausalContext()); }

std::vector<Run> CausalContext::RunsOf(const Writer& writer) const {
  const auto it = writers_.find(writer);
  return it == writers_.end() ? std::vector<Run>() : it->second.Runs();
}

uint64_t CausalContext::Contiguous(const Writer& writer) const {
  const auto it = writers_.find(writer);
  return it == writers_.end() ? 0 : it->second.contiguous;
}

std::vector<Writer> CausalContext::Writers() const { return SortedKeys(writers_); }

size_t CausalContext::gaps() const {
  size_t gaps = 0;
  for (const auto& [writer, seen] : writers_) gaps += seen.extra.size();
  return gaps;
}

}  // namespace glue::model

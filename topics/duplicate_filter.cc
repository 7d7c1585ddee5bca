#include "topics/duplicate_filter.h"

namespace glue::topics::internal {

bool DuplicateFilter::Fresh(uint64_t publisher, absl::string_view topic, uint64_t epoch,
                            uint64_t sequence, uint64_t* forgotten) {
  auto it = heard_.find(std::make_pair(publisher, topic));
  const bool added = it == heard_.end();
  if (added) {
    auto key = std::make_pair(publisher, std::string(topic));
    it = heard_.emplace(key, Heard{}).first;
    it->second.age = ages_.insert(ages_.end(), std::move(key));
    if (heard_.size() > max_publishers_) {
      heard_.erase(ages_.front());
      ages_.pop_front();
      ++*forgotten;
    }
  }
  Heard& heard = it->second;
  if (!added) {
    if (epoch == heard.epoch && sequence <= heard.sequence) return false;
    ages_.splice(ages_.end(), ages_, heard.age);
  }
  heard.epoch = epoch;
  heard.sequence = sequence;
  return true;
}

}  // namespace glue::topics::internal

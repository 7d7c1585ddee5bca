#include "glue/model/value.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace glue::model {

Value::Value(absl::string_view bytes) {
  if (bytes.empty()) return;
  if (bytes.size() > kMaxBytes) {  // as std::string past max_size(): a caller's bug
    std::fprintf(stderr, "glue::model::Value of %zu bytes: at most %zu\n", bytes.size(),
                 kMaxBytes);
    std::abort();
  }
  void* block = ::operator new(sizeof(Rep) + bytes.size());
  rep_ = new (block) Rep{.references{1}, .size = static_cast<uint32_t>(bytes.size())};
  std::memcpy(rep_->bytes(), bytes.data(), bytes.size());
}

void Value::Release() noexcept {
  if (rep_ == nullptr) return;
  if (rep_->references.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    rep_->~Rep();
    ::operator delete(rep_);
  }
  rep_ = nullptr;
}

}  // namespace glue::model

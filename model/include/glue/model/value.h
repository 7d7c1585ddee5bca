// Value: the bytes of one write, immutable and shared by whoever holds them (the
// replica's entries, a write waiting to be sent, watch events, the application's
// Entry) without copying. One allocation holds a reference count, the size and the
// bytes, so that a value costs 8 bytes beyond itself on the heap (a
// std::shared_ptr<std::string> would cost a control block, a string and its buffer).
#ifndef GLUE_MODEL_VALUE_H_
#define GLUE_MODEL_VALUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <ostream>
#include <utility>

#include "absl/strings/string_view.h"

namespace glue::model {

class Value {
 public:
  // The largest value: its size is kept in 32 bits. The model's bounds
  // (ModelOptions::max_value_bytes) are far below it.
  static constexpr size_t kMaxBytes = std::numeric_limits<uint32_t>::max();

  Value() = default;  // empty
  // Copies `bytes`, which must be at most kMaxBytes long (checked: a larger one aborts).
  explicit Value(absl::string_view bytes);
  Value(const Value& other) noexcept : rep_(other.rep_) {
    if (rep_ != nullptr) rep_->references.fetch_add(1, std::memory_order_relaxed);
  }
  Value(Value&& other) noexcept : rep_(std::exchange(other.rep_, nullptr)) {}
  Value& operator=(const Value& other) noexcept {
    Value copy(other);
    std::swap(rep_, copy.rep_);
    return *this;
  }
  Value& operator=(Value&& other) noexcept {
    std::swap(rep_, other.rep_);
    return *this;
  }
  ~Value() { Release(); }

  const char* data() const { return rep_ == nullptr ? nullptr : rep_->bytes(); }
  size_t size() const { return rep_ == nullptr ? 0 : rep_->size; }
  bool empty() const { return size() == 0; }
  absl::string_view view() const { return absl::string_view(data(), size()); }
  // *value is value.view(): StrCat(*entry.value), std::string(*entry.value).
  absl::string_view operator*() const { return view(); }
  operator absl::string_view() const { return view(); }  // NOLINT: a view of bytes

  friend bool operator==(const Value& a, const Value& b) { return a.view() == b.view(); }
  friend bool operator==(const Value& a, absl::string_view b) { return a.view() == b; }
  friend std::ostream& operator<<(std::ostream& os, const Value& v) {
    return os << v.view();
  }

 private:
  struct Rep {
    std::atomic<uint32_t> references;
    uint32_t size;
    char* bytes() { return reinterpret_cast<char*>(this + 1); }
  };
  static_assert(sizeof(Rep) == 8);

  void Release() noexcept;

  Rep* rep_ = nullptr;
};

}  // namespace glue::model

#endif  // GLUE_MODEL_VALUE_H_

#include "fragmentation/chunked_bytes.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

namespace glue::fragmentation::internal {

ChunkedBytes::ChunkedBytes(ChunkedBytes&& other) noexcept
    : blocks_(std::exchange(other.blocks_, {})),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

ChunkedBytes::~ChunkedBytes() { Clear(); }

void ChunkedBytes::Clear() {
  for (const Block& block : blocks_) BlockPool::Global().Free(block.data, block.capacity);
  blocks_.clear();
  size_ = 0;
  capacity_ = 0;
}

size_t ChunkedBytes::NextBlockBytes(size_t bytes, size_t held, size_t limit) {
  // As large as what is held (so the blocks are at most about twice the bytes), but
  // not beyond what may still come; and large enough for `bytes`.
  const size_t grown = std::min(std::bit_floor(held), std::bit_ceil(limit - held));
  const size_t block = std::max(std::bit_ceil(bytes), grown);
  return std::clamp(block, kMinBlockBytes, kMaxBlockBytes);
}

ChunkedBytes::Growth ChunkedBytes::GrowthBeyondRoom(size_t bytes, size_t limit) const {
  Growth growth;
  const size_t room = Room();
  size_t held = size_ + room;
  bytes -= room;
  while (bytes > 0) {
    const size_t block = NextBlockBytes(bytes, held, limit);
    const size_t taken = std::min(bytes, block);
    growth.bytes += block;
    ++growth.blocks;
    held += taken;
    bytes -= taken;
  }
  return growth;
}

void ChunkedBytes::AppendBeyondRoom(absl::Span<const uint8_t> bytes, size_t limit) {
  while (!bytes.empty()) {
    if (blocks_.empty() || blocks_.back().size == blocks_.back().capacity) {
      const size_t capacity = NextBlockBytes(bytes.size(), size_, limit);
      blocks_.push_back({static_cast<uint8_t*>(BlockPool::Global().Allocate(capacity)), 0,
                         static_cast<uint32_t>(capacity)});
      capacity_ += capacity;
    }
    Block& last = blocks_.back();
    const size_t taken = std::min<size_t>(bytes.size(), last.capacity - last.size);
    std::memcpy(last.data + last.size, bytes.data(), taken);
    last.size += taken;
    size_ += taken;
    bytes.remove_prefix(taken);
  }
}

void ChunkedBytes::Splice(ChunkedBytes& other) {
  blocks_.insert(blocks_.end(), other.blocks_.begin(), other.blocks_.end());
  size_ += std::exchange(other.size_, 0);
  capacity_ += std::exchange(other.capacity_, 0);
  other.blocks_.clear();
}

void ChunkedBytes::CopyTo(std::vector<uint8_t>& out) const {
  for (const Block& block : blocks_) {
    out.insert(out.end(), block.data, block.data + block.size);
  }
}

}  // namespace glue::fragmentation::internal

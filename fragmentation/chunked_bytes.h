// ChunkedBytes: bytes appended in order into blocks of the BlockPool that never move,
// for the pieces of a message that arrives a fragment at a time. Internal to the
// fragmentation layer: the Reassembler's, on the receiving side.
//
//   ChunkedBytes bytes;
//   const ChunkedBytes::Growth growth = bytes.GrowthFor(payload.size(), limit);
//   ...  // make room for growth.bytes, then
//   bytes.Append(payload, limit);
//   std::vector<uint8_t> whole;
//   bytes.CopyTo(whole);
#ifndef GLUE_FRAGMENTATION_CHUNKED_BYTES_H_
#define GLUE_FRAGMENTATION_CHUNKED_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/types/span.h"
#include "glue/base/block_pool.h"

namespace glue::fragmentation::internal {

// ChunkedBytes holds bytes in blocks of BlockPool::Global(): what is appended fills the
// last block, then new ones. A block is a power of two of bytes, kMinBlockBytes to
// kMaxBlockBytes: large enough for what is appended, and otherwise as large as what
// is held already, but no larger than the most the bytes will ever be (`limit`). So
// nothing is copied as the bytes grow, the blocks hold no more than about twice the
// bytes (and at least kMinBlockBytes), and every block comes back to the pool, where
// the next message finds it. Not thread-safe; move-only.
class ChunkedBytes {
 public:
  static constexpr size_t kMinBlockBytes = BlockPool::kMinBytes;
  static constexpr size_t kMaxBlockBytes = BlockPool::kMaxBytes;
  // kRecordBytes is what it keeps of each block beyond the block.
  static constexpr size_t kRecordBytes = sizeof(void*) + 2 * sizeof(uint32_t);

  ChunkedBytes() = default;
  ChunkedBytes(ChunkedBytes&& other) noexcept;
  ChunkedBytes& operator=(ChunkedBytes&&) = delete;
  // Gives the blocks back to the pool.
  ~ChunkedBytes();

  // size returns the bytes held.
  size_t size() const { return size_; }
  // capacity returns the bytes of the blocks.
  size_t capacity() const { return capacity_; }
  // blocks returns how many blocks hold them.
  size_t blocks() const { return blocks_.size(); }

  // Growth is what an Append adds to capacity() and blocks().
  struct Growth {
    size_t bytes = 0;
    size_t blocks = 0;
  };
  // GrowthFor returns what Append of `bytes` bytes would add, with the same `limit`.
  Growth GrowthFor(size_t bytes, size_t limit) const {
    if (bytes <= Room()) return {};
    return GrowthBeyondRoom(bytes, limit);
  }

  // Append copies `bytes` after those held. `limit` is the most bytes this will ever
  // hold: at least size() + bytes.size().
  void Append(absl::Span<const uint8_t> bytes, size_t limit) {
    if (bytes.size() > Room()) return AppendBeyondRoom(bytes, limit);
    if (bytes.empty()) return;
    // The most frequent case, kept inline: the bytes fit the last block.
    Block& last = blocks_.back();
    std::memcpy(last.data + last.size, bytes.data(), bytes.size());
    last.size += static_cast<uint32_t>(bytes.size());
    size_ += bytes.size();
  }

  // Splice moves the blocks of `other` after these, copying nothing, and leaves
  // `other` empty. A block of these with room left keeps it unused.
  void Splice(ChunkedBytes& other);

  // CopyTo appends the bytes held, in order, to `out`.
  void CopyTo(std::vector<uint8_t>& out) const;

  // Clear gives the blocks back to the pool, leaving this empty.
  void Clear();

 private:
  struct Block {
    uint8_t* data;
    uint32_t size;
    uint32_t capacity;  // at most kMaxBlockBytes
  };
  static_assert(sizeof(Block) == kRecordBytes);

  // Room returns the bytes left in the last block.
  size_t Room() const {
    return blocks_.empty() ? 0 : size_t{blocks_.back().capacity} - blocks_.back().size;
  }
  // GrowthFor and Append for more bytes than Room().
  Growth GrowthBeyondRoom(size_t bytes, size_t limit) const;
  void AppendBeyondRoom(absl::Span<const uint8_t> bytes, size_t limit);
  // NextBlockBytes returns the size of the block to add for `bytes` more, after `held`,
  // when the bytes will never be more than `limit`.
  static size_t NextBlockBytes(size_t bytes, size_t held, size_t limit);

  std::vector<Block> blocks_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace glue::fragmentation::internal

#endif  // GLUE_FRAGMENTATION_CHUNKED_BYTES_H_

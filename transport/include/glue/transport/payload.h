// Payload: what one data frame carries, without copying it into the transport. The
// transport layer.
//
//   auto message = std::make_shared<const std::vector<uint8_t>>(...);
//   Payload fragment = Payload::View(message, absl::MakeConstSpan(*message).subspan(0,
//   1300)); fragment.meta.assign(header, header + header_size);
#ifndef GLUE_TRANSPORT_PAYLOAD_H_
#define GLUE_TRANSPORT_PAYLOAD_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/types/span.h"

namespace glue::transport {

// kInlineMetaBytes is how much meta a Payload holds without allocating: room for the
// fragmentation layer's largest header.
inline constexpr size_t kInlineMetaBytes = 48;

// Payload is `body`, a view into a buffer that `owner` keeps alive (sent and resent
// from there, never copied until it is encoded into a datagram), and `meta`, a few
// bytes the layers above put with it (a fragment's position), carried untouched to
// the peer. Copies share the buffer.
struct Payload {
  Payload() = default;
  // Owns `bytes`: what a caller with a vector of its own passes.
  Payload(std::vector<uint8_t> bytes)  // NOLINT(google-explicit-constructor)
      : Payload(Own(std::move(bytes))) {}

  // View refers to `body`, within a buffer `owner` keeps alive.
  static Payload View(std::shared_ptr<const void> owner, absl::Span<const uint8_t> body) {
    Payload payload;
    payload.owner = std::move(owner);
    payload.body = body;
    return payload;
  }

  // size is what the payload weighs against the transport's bounds.
  size_t size() const { return body.size() + meta.size(); }

  std::shared_ptr<const void> owner;
  absl::Span<const uint8_t> body;
  absl::InlinedVector<uint8_t, kInlineMetaBytes> meta;

 private:
  static Payload Own(std::vector<uint8_t> bytes) {
    auto owned = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
    const absl::Span<const uint8_t> body = *owned;
    return View(std::move(owned), body);
  }
};

}  // namespace glue::transport

#endif  // GLUE_TRANSPORT_PAYLOAD_H_

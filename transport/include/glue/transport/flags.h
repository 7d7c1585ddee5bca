// What DataFrame::flags mean on the wire (docs/PROTOCOL.md §7). The transport layer.
#ifndef GLUE_TRANSPORT_FLAGS_H_
#define GLUE_TRANSPORT_FLAGS_H_

#include <cstdint>

namespace glue::transport {

// What DataFrame::flags mean on the wire. A frame with kFlagReliable is acknowledged
// and resent, and its sequence is in the reliable space, the one AckFrame
// acknowledges. A frame without it is best-effort: sent once, never acknowledged, its
// sequence in a separate space (from 1) used only to suppress duplicates and count
// losses. kFlagOrdered, only with kFlagReliable, asks that the frame be handed up
// after every reliable frame of lower sequence.
//
// kFlagSkip, alone and with an empty payload, is no data: its sequence is a point in
// the reliable space below which the sender will send nothing more, because what it
// has not had acknowledged there expired. The receiver gives up the gaps below it and
// hands up the ordered frames that were waiting for them. Any other combination of
// flags, or bits beyond these, is invalid.
inline constexpr uint32_t kFlagReliable = 1;
inline constexpr uint32_t kFlagOrdered = 2;
inline constexpr uint32_t kFlagSkip = 4;

}  // namespace glue::transport

#endif  // GLUE_TRANSPORT_FLAGS_H_

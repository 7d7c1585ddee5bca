// The serialization layer's codec: the messages of messages.h into UDP datagrams, and
// validated datagrams back into messages. Above the network layer (for Address), below
// discovery and transport. Zero-copy, and allocation-free once warmed up. Every
// datagram ends with a 5-byte CRC-32C checksum (serialization/wire.proto,
// Envelope.checksum), which the encoder appends and the decoder checks first.
//
// Its parts, each in its own header, which this one includes:
//   codec_limits.h      CodecLimits: the bounds of what both halves write and accept
//   datagram_encoder.h  DatagramEncoder: messages into datagrams
//   datagram_decoder.h  DatagramDecoder: datagrams into a DecodedDatagram
#ifndef GLUE_SERIALIZATION_CODEC_H_
#define GLUE_SERIALIZATION_CODEC_H_

#include "glue/serialization/codec_limits.h"
#include "glue/serialization/datagram_decoder.h"
#include "glue/serialization/datagram_encoder.h"
#include "glue/serialization/messages.h"

#endif  // GLUE_SERIALIZATION_CODEC_H_

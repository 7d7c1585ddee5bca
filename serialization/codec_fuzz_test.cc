// Bad input: the decoder is fed random bytes and mutations of valid datagrams. Each
// must be rejected with a status or accepted; whatever is accepted must be accepted,
// with the same content, by the generated parser (the decoder is the stricter of the
// two) and must survive a round trip through the encoder. Most inputs are sealed with
// a valid checksum after mutation, so that the parser behind the check sees them; the
// rest go raw, and the check must stop them.
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "glue/base/sanitized.h"
#include "glue/base/status_matchers.h"
#include "glue/base/varint.h"
#include "glue/serialization/codec.h"
#include "glue/serialization/codec_testing.h"
#include "gtest/gtest.h"
#include "serialization/wire_format.h"

namespace glue::serialization {
namespace {

using testing::Encode;
using testing::OwnedDatagram;
using testing::ProtoDifference;
using testing::RandomDatagram;
using testing::Reseal;
using testing::TestSeed;
using testing::ToProto;

// Under a sanitizer a tenth as many (the fuzz target, GLUE_FUZZ, goes on for longer).
constexpr int kIterations = ::glue::testing::kSanitized ? 50000 : 500000;
constexpr int kCorpusSize = 256;

// LengthPrefix is where a length-delimited field's length is, and how many bytes it
// takes.
struct LengthPrefix {
  size_t offset;
  size_t size;
};

// CollectLengthPrefixes walks `bytes` as a message, descending into every
// length-delimited field that parses as one, and records the length prefixes.
void CollectLengthPrefixes(absl::Span<const uint8_t> bytes, const uint8_t* origin,
                           int depth, std::vector<LengthPrefix>* out) {
  wire_format::WireReader reader(bytes, origin);
  while (!reader.AtEnd()) {
    wire_format::Tag tag;
    if (!reader.ReadTag(&tag)) {
      return;
    }
    if (tag.type != wire_format::WireType::kLengthDelimited) {
      if (!reader.SkipField(tag.type)) {
        return;
      }
      continue;
    }
    const size_t offset = reader.offset();
    absl::Span<const uint8_t> content;
    if (!reader.ReadLengthDelimited(&content)) {
      return;
    }
    out->push_back({offset, reader.offset() - offset - content.size()});
    if (depth < 5) {
      CollectLengthPrefixes(content, origin, depth + 1, out);
    }
  }
}

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  std::mt19937_64& rng() { return rng_; }

  size_t Below(size_t bound) {
    return std::uniform_int_distribution<size_t>(0, bound - 1)(rng_);
  }

  uint8_t InterestingByte() {
    static constexpr uint8_t kBytes[] = {0x00, 0x01, 0x02, 0x07, 0x08, 0x0a,
                                         0x12, 0x52, 0x7f, 0x80, 0x81, 0xff};
    return Below(2) == 0 ? kBytes[Below(sizeof(kBytes))] : static_cast<uint8_t>(rng_());
  }

  std::vector<uint8_t> RandomBytes() {
    std::vector<uint8_t> bytes(Below(200));
    for (uint8_t& byte : bytes) byte = InterestingByte();
    return bytes;
  }

  // Mutate applies one to four random edits to `bytes`.
  void Mutate(std::vector<uint8_t>* bytes) {
    const size_t edits = 1 + Below(4);
    for (size_t i = 0; i < edits; ++i) {
      MutateOnce(bytes);
    }
  }

 private:
  void MutateOnce(std::vector<uint8_t>* bytes) {
    switch (Below(8)) {
      case 0:  // bit flip
        if (!bytes->empty()) {
          (*bytes)[Below(bytes->size())] ^= static_cast<uint8_t>(1u << Below(8));
        }
        break;
      case 1:  // byte replacement
        if (!bytes->empty()) {
          (*bytes)[Below(bytes->size())] = InterestingByte();
        }
        break;
      case 2:  // truncation
        bytes->resize(Below(bytes->size() + 1));
        break;
      case 3: {  // insertion
        std::vector<uint8_t> inserted(1 + Below(4));
        for (uint8_t& byte : inserted) byte = InterestingByte();
        bytes->insert(bytes->begin() + static_cast<ptrdiff_t>(Below(bytes->size() + 1)),
                      inserted.begin(), inserted.end());
        break;
      }
      case 4: {  // erasure of a range
        if (bytes->empty()) break;
        const size_t at = Below(bytes->size());
        const size_t count = 1 + Below(std::min<size_t>(8, bytes->size() - at));
        bytes->erase(bytes->begin() + static_cast<ptrdiff_t>(at),
                     bytes->begin() + static_cast<ptrdiff_t>(at + count));
        break;
      }
      case 5: {  // duplication of a range (fields appearing twice)
        if (bytes->empty()) break;
        const size_t at = Below(bytes->size());
        const size_t count = 1 + Below(std::min<size_t>(32, bytes->size() - at));
        const std::vector<uint8_t> copy(
            bytes->begin() + static_cast<ptrdiff_t>(at),
            bytes->begin() + static_cast<ptrdiff_t>(at + count));
        bytes->insert(bytes->begin() + static_cast<ptrdiff_t>(Below(bytes->size() + 1)),
                      copy.begin(), copy.end());
        break;
      }
      default:  // length-field tweak
        TweakLength(bytes);
    }
  }

  void TweakLength(std::vector<uint8_t>* bytes) {
    std::vector<LengthPrefix> prefixes;
    CollectLengthPrefixes(*bytes, bytes->data(), 0, &prefixes);
    if (prefixes.empty()) {
      return;
    }
    const LengthPrefix prefix = prefixes[Below(prefixes.size())];
    wire_format::WireReader reader(
        absl::MakeConstSpan(bytes->data() + prefix.offset, prefix.size));
    uint64_t length = 0;
    if (!reader.ReadVarint(&length)) {
      return;
    }
    switch (Below(5)) {
      case 0:
        length += 1 + Below(3);
        break;
      case 1:
        length -= std::min<uint64_t>(length, 1 + Below(3));
        break;
      case 2:
        length = 0;
        break;
      case 3:
        length = bytes->size() + Below(100);
        break;
      default:
        length = rng_() >> Below(64);
    }
    uint8_t encoded[kMaxVarintBytes];
    const size_t size = static_cast<size_t>(PutVarint(length, encoded) - encoded);
    const auto at = bytes->begin() + static_cast<ptrdiff_t>(prefix.offset);
    bytes->erase(at, at + static_cast<ptrdiff_t>(prefix.size));
    bytes->insert(bytes->begin() + static_cast<ptrdiff_t>(prefix.offset), encoded,
                  encoded + size);
  }

  std::mt19937_64 rng_;
};

TEST(DatagramDecoderBadInput, RejectsOrRoundTripsRandomAndMutatedDatagrams) {
  const uint64_t seed = TestSeed(20240611);
  SCOPED_TRACE(absl::StrFormat("seed %d", seed));
  Mutator mutator(seed);
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(65507));

  // Valid datagrams to mutate, kept small so that each iteration is quick.
  std::vector<std::vector<uint8_t>> corpus;
  while (corpus.size() < kCorpusSize) {
    OwnedDatagram content;
    RandomDatagram(mutator.rng(), &content);
    ASSERT_OK_AND_ASSIGN(auto bytes, Encode(content.datagram, &encoder));
    if (bytes.size() <= 600) {
      corpus.emplace_back(bytes.begin(), bytes.end());
    }
  }

  DatagramDecoder decoder;
  DecodedDatagram decoded;
  DecodedDatagram again;
  ::glue::wire::Envelope reference;
  int accepted = 0;
  int unimplemented = 0;
  int corrupt = 0;
  for (int i = 0; i < kIterations; ++i) {
    std::vector<uint8_t> input;
    if (mutator.Below(10) == 0) {
      input = mutator.RandomBytes();
    } else {
      input = corpus[mutator.Below(corpus.size())];
      mutator.Mutate(&input);
    }
    const bool sealed = mutator.Below(8) != 0;
    if (sealed) {
      Reseal(&input);
    }
    const absl::Status status = decoder.Decode(input, &decoded);
    if (!status.ok()) {
      if (status.code() == absl::StatusCode::kUnimplemented) {
        ++unimplemented;
      } else if (status.code() == absl::StatusCode::kDataLoss) {
        ASSERT_FALSE(sealed) << "a sealed input failed its checksum: " << status;
        ++corrupt;
      } else {
        ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
      }
      continue;
    }
    ++accepted;
    SCOPED_TRACE(
        absl::StrFormat("iteration %d, input %s", i,
                        absl::BytesToHexString(std::string(input.begin(), input.end()))));
    ASSERT_TRUE(reference.ParseFromArray(input.data(), static_cast<int>(input.size())))
        << "the generated parser rejects what the decoder accepts";
    ASSERT_EQ(ProtoDifference(reference, ToProto(decoded)), "");
    ASSERT_OK_AND_ASSIGN(auto reencoded, Encode(decoded, &encoder));
    ASSERT_OK(decoder.Decode(reencoded, &again));
    ASSERT_EQ(again, decoded);
  }
  std::printf(
      "%d inputs: %d accepted, %d of another major version, %d corrupt, %d malformed\n",
      kIterations, accepted, unimplemented, corrupt,
      kIterations - accepted - unimplemented - corrupt);
  // Every outcome must be common, or the inputs test little.
  EXPECT_GT(accepted, kIterations / 50);
  EXPECT_GT(corrupt, kIterations / 20);
  EXPECT_GT(kIterations - accepted - corrupt, kIterations / 4);
}

// CRC-32C detects every error of a single bit, so the checksum stops every datagram
// the fault-injecting link corrupts, wherever the bit is, the checksum included.
TEST(DatagramDecoderBadInput, RejectsEverySingleBitFlipAsDataLoss) {
  const uint64_t seed = TestSeed(20261124);
  SCOPED_TRACE(absl::StrFormat("seed %d", seed));
  std::mt19937_64 rng(seed);
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(65507));
  DatagramDecoder decoder;
  DecodedDatagram decoded;
  bool kinds_seen[3] = {false, false, false};
  int datagrams = 0;
  while (datagrams < 12) {
    OwnedDatagram content;
    RandomDatagram(rng, &content);
    const auto kind = static_cast<size_t>(content.datagram.kind);
    ASSERT_OK_AND_ASSIGN(auto encoded, Encode(content.datagram, &encoder));
    // Small ones, and each kind first, so that every kind is in.
    if (encoded.size() > 1000 || (datagrams < 3 && kinds_seen[kind])) {
      continue;
    }
    kinds_seen[kind] = true;
    ++datagrams;
    std::vector<uint8_t> bytes(encoded.begin(), encoded.end());
    ASSERT_OK(decoder.Decode(bytes, &decoded));
    for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
      bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      const absl::Status status = decoder.Decode(bytes, &decoded);
      bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      ASSERT_EQ(status.code(), absl::StatusCode::kDataLoss)
          << "datagram " << datagrams << " of " << bytes.size() << " bytes, bit " << bit
          << " flipped: " << status;
    }
  }
}

}  // namespace
}  // namespace glue::serialization

// libFuzzer target for the serialization layer's decoder (built with GLUE_FUZZ=ON and
// clang). Any input must be rejected with a status or accepted; what is accepted must
// be accepted with the same content by the generated parser and must survive a round
// trip through the encoder. A broken property aborts, which libFuzzer reports.
//
// A mutated input would nearly always fail its checksum, and the parser behind the
// check would go untested; so a custom mutator seals most inputs again after
// libFuzzer's mutations, and leaves one in eight as mutated, for the check itself.
//
//   codec_fuzzer -max_total_time=60 corpus_dir/
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "glue/serialization/codec.h"
#include "glue/serialization/codec_testing.h"

namespace glue::serialization {
namespace {

[[noreturn]] void Fail(const char* what, absl::Span<const uint8_t> input,
                       const std::string& detail) {
  std::fprintf(stderr, "codec_fuzzer: %s\ninput: %s\n%s\n", what,
               absl::BytesToHexString(std::string(input.begin(), input.end())).c_str(),
               detail.c_str());
  std::abort();
}

void CheckOne(absl::Span<const uint8_t> input) {
  static const DatagramDecoder decoder;
  static DatagramEncoder encoder =
      *DatagramEncoder::Create(decoder.limits().max_datagram_bytes, decoder.limits());
  static DecodedDatagram decoded;
  static DecodedDatagram again;
  static wire::Envelope reference;

  const absl::Status status = decoder.Decode(input, &decoded);
  if (!status.ok()) {
    if (status.code() != absl::StatusCode::kInvalidArgument &&
        status.code() != absl::StatusCode::kUnimplemented &&
        status.code() != absl::StatusCode::kDataLoss) {
      Fail("unexpected status code", input, status.ToString());
    }
    return;
  }
  if (!reference.ParseFromArray(input.data(), static_cast<int>(input.size()))) {
    Fail("the generated parser rejects what the decoder accepts", input,
         testing::Describe(decoded));
  }
  if (std::string difference =
          testing::ProtoDifference(reference, testing::ToProto(decoded));
      !difference.empty()) {
    Fail("the generated parser sees other content", input, difference);
  }
  const absl::StatusOr<absl::Span<const uint8_t>> reencoded =
      testing::Encode(decoded, &encoder);
  if (!reencoded.ok()) {
    Fail("accepted content does not encode", input, reencoded.status().ToString());
  }
  if (const absl::Status again_status = decoder.Decode(*reencoded, &again);
      !again_status.ok()) {
    Fail("re-encoded content does not decode", input, again_status.ToString());
  }
  if (!(again == decoded)) {
    Fail("re-encoded content decodes differently", input,
         testing::Describe(decoded) + "\nbecame\n" + testing::Describe(again));
  }
}

}  // namespace
}  // namespace glue::serialization

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  size = LLVMFuzzerMutate(data, size, max_size);
  if (seed % 8 == 0) {
    return size;
  }
  std::vector<uint8_t> sealed(data, data + size);
  glue::serialization::testing::Reseal(&sealed);
  if (sealed.size() > max_size) {
    return size;  // no room for the checksum: the input stays raw
  }
  std::memcpy(data, sealed.data(), sealed.size());
  return sealed.size();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  glue::serialization::CheckOne(absl::Span<const uint8_t>(data, size));
  return 0;
}

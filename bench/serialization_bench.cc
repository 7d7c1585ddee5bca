// Benchmarks of the serialization layer's codec: encoding and decoding one data frame
// of 64 B to 64 KiB, decoding a datagram full of 64-byte frames, and, as a reference
// line, the generated Protocol Buffers parser on the same bytes. Encoding and decoding
// include the CRC-32C checksum of every datagram, whose cost alone is measured too.
//
//   serialization_bench --benchmark_filter=Decode
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "glue/base/crc32c.h"
#include "glue/serialization/codec.h"
#include "serialization/wire.pb.h"

namespace glue::serialization {
namespace {

// Large enough for a 64 KiB payload; datagrams over UDP stop at 65507 bytes.
constexpr size_t kBudget = 128 * 1024;
constexpr CodecLimits kLimits{.max_datagram_bytes = kBudget,
                              .max_name_bytes = 255,
                              .max_frames = 1024,
                              .max_ack_ranges = 256};

const Header kHeader{.protocol_major = kProtocolMajor,
                     .protocol_minor = kProtocolMinor,
                     .network_id = 1,
                     .endpoint_id = 0x0123456789abcdef,
                     .endpoint_name = "bench-endpoint"};

DatagramEncoder MakeEncoder(size_t budget) {
  absl::StatusOr<DatagramEncoder> encoder = DatagramEncoder::Create(budget, kLimits);
  if (!encoder.ok()) {
    std::abort();
  }
  return *std::move(encoder);
}

void Check(const absl::Status& status, benchmark::State& state) {
  if (!status.ok()) {
    state.SkipWithError(std::string(status.message()).c_str());
  }
}

// A datagram of one data frame carrying `payload_bytes` bytes.
std::vector<uint8_t> OneFrameDatagram(size_t payload_bytes) {
  DatagramEncoder encoder = MakeEncoder(kBudget);
  const std::vector<uint8_t> payload(payload_bytes, 0xab);
  if (!encoder.BeginFrames(kHeader).ok() ||
      !encoder.AddData(DataFrame{.sequence = 123456, .flags = 1, .payload = payload})
           .ok()) {
    std::abort();
  }
  const absl::Span<const uint8_t> bytes = *encoder.Finish();
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

// A datagram of at most `budget` bytes filled with data frames of 64 bytes.
std::vector<uint8_t> FullDatagram(size_t budget, size_t* frames) {
  DatagramEncoder encoder = MakeEncoder(budget);
  const std::vector<uint8_t> payload(64, 0xab);
  if (!encoder.BeginFrames(kHeader).ok()) {
    std::abort();
  }
  for (uint64_t sequence = 1000;
       encoder.AddData(DataFrame{.sequence = sequence, .payload = payload}).ok();
       ++sequence) {
  }
  *frames = encoder.frame_count();
  const absl::Span<const uint8_t> bytes = *encoder.Finish();
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

void BM_EncodeOneDataFrame(benchmark::State& state) {
  const std::vector<uint8_t> payload(static_cast<size_t>(state.range(0)), 0xab);
  DatagramEncoder encoder = MakeEncoder(kBudget);
  uint64_t sequence = 123456;
  for (auto _ : state) {
    Check(encoder.BeginFrames(kHeader), state);
    Check(encoder.AddData(
              DataFrame{.sequence = sequence++, .flags = 1, .payload = payload}),
          state);
    absl::StatusOr<absl::Span<const uint8_t>> bytes = encoder.Finish();
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EncodeOneDataFrame)->Arg(64)->Arg(1024)->Arg(64 * 1024);

void BM_DecodeOneDataFrame(benchmark::State& state) {
  const std::vector<uint8_t> datagram =
      OneFrameDatagram(static_cast<size_t>(state.range(0)));
  const DatagramDecoder decoder(kLimits);
  DecodedDatagram decoded;
  for (auto _ : state) {
    Check(decoder.Decode(datagram, &decoded), state);
    benchmark::DoNotOptimize(decoded.frames.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DecodeOneDataFrame)->Arg(64)->Arg(1024)->Arg(64 * 1024);

// Reference: the generated parser on the same datagrams (the message is reused, as a
// careful caller would).
void BM_ReferenceParseOneDataFrame(benchmark::State& state) {
  const std::vector<uint8_t> datagram =
      OneFrameDatagram(static_cast<size_t>(state.range(0)));
  wire::Envelope envelope;
  for (auto _ : state) {
    if (!envelope.ParseFromArray(datagram.data(), static_cast<int>(datagram.size()))) {
      state.SkipWithError("the generated parser rejects the datagram");
    }
    benchmark::DoNotOptimize(envelope);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ReferenceParseOneDataFrame)->Arg(64)->Arg(1024)->Arg(64 * 1024);

// Datagrams full of 64-byte frames: of an Ethernet MTU (1472 bytes of UDP payload)
// and of the largest UDP datagram. Items are frames, so the time per item is the cost
// of one frame.
void BM_DecodeFullDatagram(benchmark::State& state) {
  size_t frames = 0;
  const std::vector<uint8_t> datagram =
      FullDatagram(static_cast<size_t>(state.range(0)), &frames);
  const DatagramDecoder decoder(kLimits);
  DecodedDatagram decoded;
  for (auto _ : state) {
    Check(decoder.Decode(datagram, &decoded), state);
    benchmark::DoNotOptimize(decoded.frames.data());
    benchmark::ClobberMemory();
  }
  state.counters["frames"] = static_cast<double>(frames);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(frames));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(datagram.size()));
}
BENCHMARK(BM_DecodeFullDatagram)->Arg(1472)->Arg(65507);

void BM_ReferenceParseFullDatagram(benchmark::State& state) {
  size_t frames = 0;
  const std::vector<uint8_t> datagram =
      FullDatagram(static_cast<size_t>(state.range(0)), &frames);
  wire::Envelope envelope;
  for (auto _ : state) {
    if (!envelope.ParseFromArray(datagram.data(), static_cast<int>(datagram.size()))) {
      state.SkipWithError("the generated parser rejects the datagram");
    }
    benchmark::DoNotOptimize(envelope);
  }
  state.counters["frames"] = static_cast<double>(frames);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(frames));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(datagram.size()));
}
BENCHMARK(BM_ReferenceParseFullDatagram)->Arg(1472)->Arg(65507);

// Encoding a datagram full of 64-byte frames, per frame.
void BM_EncodeFullDatagram(benchmark::State& state) {
  const std::vector<uint8_t> payload(64, 0xab);
  DatagramEncoder encoder = MakeEncoder(static_cast<size_t>(state.range(0)));
  const size_t frame_size = DatagramEncoder::EncodedDataFrameSize(64, 0, 1000, 0);
  int64_t frames = 0;
  for (auto _ : state) {
    Check(encoder.BeginFrames(kHeader), state);
    for (uint64_t sequence = 1000; encoder.remaining() >= frame_size; ++sequence) {
      Check(encoder.AddData(DataFrame{.sequence = sequence, .payload = payload}), state);
    }
    frames += static_cast<int64_t>(encoder.frame_count());
    absl::StatusOr<absl::Span<const uint8_t>> bytes = encoder.Finish();
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(frames);
}
BENCHMARK(BM_EncodeFullDatagram)->Arg(1472)->Arg(65507);

// The checksum alone, over a small datagram, an Ethernet-sized one and a large one;
// the portable path is what a CPU without SSE4.2 would run.
void BM_Crc32c(benchmark::State& state) {
  const std::vector<uint8_t> bytes(static_cast<size_t>(state.range(0)), 0xab);
  for (auto _ : state) {
    benchmark::DoNotOptimize(Crc32c(bytes));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32c)->Arg(64)->Arg(1400)->Arg(16 * 1024)->Arg(64 * 1024);

void BM_Crc32cPortable(benchmark::State& state) {
  const std::vector<uint8_t> bytes(static_cast<size_t>(state.range(0)), 0xab);
  for (auto _ : state) {
    benchmark::DoNotOptimize(internal::ExtendCrc32cPortable(0, bytes));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Crc32cPortable)->Arg(64)->Arg(1400)->Arg(64 * 1024);

}  // namespace
}  // namespace glue::serialization

BENCHMARK_MAIN();

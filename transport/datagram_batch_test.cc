#include "transport/datagram_batch.h"

#include <cstring>
#include <string>
#include <variant>
#include <vector>

#include "glue/base/status_matchers.h"
#include "glue/network/address.h"
#include "gtest/gtest.h"

namespace glue::transport::internal {
namespace {

constexpr size_t kDatagramBytes = 1400;

// Network records what it is sent, taking at most `per_call` datagrams a call, and
// refuses everything once `refuse` is set.
struct Network {
  std::vector<std::vector<uint8_t>> datagrams;
  size_t calls = 0;
  size_t per_call = kMaxBatchDatagrams;
  bool refuse = false;

  DatagramBatch::SendFn Sender() {
    return
        [this](
            absl::Span<const network::OutgoingDatagram> batch) -> absl::StatusOr<size_t> {
          ++calls;
          if (refuse) return absl::UnavailableError("socket buffer full");
          const size_t n = std::min(per_call, batch.size());
          for (size_t i = 0; i < n; ++i) {
            datagrams.emplace_back(batch[i].bytes.begin(), batch[i].bytes.end());
          }
          return n;
        };
  }
};

network::Address To() { return *network::ParseAddress("127.0.0.1:9"); }

// QueueBytes queues a datagram of `size` bytes, each `fill`.
void QueueBytes(DatagramBatch& batch, size_t size, uint8_t fill) {
  uint8_t* at = batch.Reserve();
  std::memset(at, fill, size);
  batch.Queue(To(), absl::MakeConstSpan(at, size));
}

TEST(DatagramBatch, SendsWhatWasQueuedInOrderAndEmpties) {
  Network net;
  DatagramBatch batch(kDatagramBytes, net.Sender());
  QueueBytes(batch, 10, 1);
  QueueBytes(batch, 20, 2);
  batch.Send();
  ASSERT_EQ(net.datagrams.size(), 2u);
  EXPECT_EQ(net.datagrams[0], std::vector<uint8_t>(10, 1));
  EXPECT_EQ(net.datagrams[1], std::vector<uint8_t>(20, 2));
  EXPECT_EQ(batch.datagrams_sent(), 2u);
  batch.Send();
  EXPECT_EQ(net.datagrams.size(), 2u);
  EXPECT_EQ(batch.datagrams_sent(), 2u);
}

TEST(DatagramBatch, SendsTheRestWhenTheNetworkTakesPart) {
  Network net;
  net.per_call = 2;
  DatagramBatch batch(kDatagramBytes, net.Sender());
  for (uint8_t i = 0; i < 5; ++i) QueueBytes(batch, 3, i);
  batch.Send();
  EXPECT_EQ(net.calls, 3u);
  ASSERT_EQ(net.datagrams.size(), 5u);
  EXPECT_EQ(net.datagrams[4], std::vector<uint8_t>(3, 4));
  EXPECT_EQ(batch.datagrams_sent(), 5u);
  EXPECT_EQ(batch.send_failures(), 0u);
}

TEST(DatagramBatch, CountsWhatTheNetworkRefusesAsFailures) {
  Network net;
  net.refuse = true;
  DatagramBatch batch(kDatagramBytes, net.Sender());
  for (uint8_t i = 0; i < 3; ++i) QueueBytes(batch, 3, i);
  batch.Send();
  EXPECT_EQ(batch.send_failures(), 3u);
  EXPECT_EQ(batch.datagrams_sent(), 0u);
  net.refuse = false;
  batch.Send();  // nothing left of the refused batch
  EXPECT_TRUE(net.datagrams.empty());
}

TEST(DatagramBatch, SendsAFullBatchBeforeReservingMore) {
  Network net;
  DatagramBatch batch(kDatagramBytes, net.Sender());
  for (size_t i = 0; i < kMaxBatchDatagrams; ++i) QueueBytes(batch, 1, 0);
  EXPECT_EQ(net.calls, 0u);
  QueueBytes(batch, 1, 0);
  EXPECT_EQ(net.calls, 1u);
  EXPECT_EQ(net.datagrams.size(), kMaxBatchDatagrams);
}

TEST(DatagramBatch, SendsABatchPastItsBytesBeforeReservingMore) {
  Network net;
  DatagramBatch batch(kDatagramBytes, net.Sender());
  size_t queued = 0;
  for (; queued * kDatagramBytes <= kMaxBatchBytes; ++queued) {
    QueueBytes(batch, kDatagramBytes, 0);
  }
  EXPECT_EQ(net.calls, 0u);
  QueueBytes(batch, kDatagramBytes, 0);
  EXPECT_EQ(net.datagrams.size(), queued);
}

serialization::Header TestHeader() {
  return {.endpoint_id = 1, .endpoint_name = "a", .session = 5, .peer_session = 6};
}

// Decoded decodes the frames of every datagram `net` was sent (views into `net`).
std::vector<serialization::DecodedDatagram> Decoded(const Network& net) {
  serialization::DatagramDecoder decoder;
  std::vector<serialization::DecodedDatagram> datagrams;
  for (const std::vector<uint8_t>& bytes : net.datagrams) {
    serialization::DecodedDatagram& decoded = datagrams.emplace_back();
    EXPECT_OK(decoder.Decode(bytes, &decoded));
    EXPECT_EQ(decoded.header.session, 5u);
    EXPECT_EQ(decoded.header.peer_session, 6u);
  }
  return datagrams;
}

TEST(PackFrames, FillsEachDatagramWithinTheBudgetTheAckFirst) {
  Network net;
  DatagramBatch batch(kDatagramBytes, net.Sender());
  ASSERT_OK_AND_ASSIGN(serialization::DatagramEncoder encoder,
                       serialization::DatagramEncoder::Create(kDatagramBytes));
  const std::vector<uint8_t> body(500, 7);
  Outgoing out;
  for (uint64_t sequence = 1; sequence <= 5; ++sequence) {
    out.data.push_back({.sequence = sequence, .flags = kFlagReliable, .payload = body});
  }
  out.ack = serialization::AckFrame{.cumulative = 3};
  ASSERT_OK(PackFrames(TestHeader(), To(), out, encoder, batch));
  batch.Send();

  std::vector<serialization::DecodedDatagram> datagrams = Decoded(net);
  ASSERT_EQ(datagrams.size(), 3u);  // two bodies of 500 bytes fit in 1400
  for (const std::vector<uint8_t>& datagram : net.datagrams) {
    EXPECT_LE(datagram.size(), kDatagramBytes);
  }
  ASSERT_TRUE(std::holds_alternative<serialization::AckFrame>(datagrams[0].frames[0]));
  EXPECT_EQ(std::get<serialization::AckFrame>(datagrams[0].frames[0]).cumulative, 3u);
  std::vector<uint64_t> sequences;
  for (const serialization::DecodedDatagram& datagram : datagrams) {
    for (const serialization::Frame& frame : datagram.frames) {
      if (const auto* data = std::get_if<serialization::DataFrame>(&frame)) {
        sequences.push_back(data->sequence);
      }
    }
  }
  EXPECT_EQ(sequences, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST(PackFrames, LeavesOutTheOldestAckRangesThatDoNotFit) {
  Network net;
  DatagramBatch batch(kDatagramBytes, net.Sender());
  ASSERT_OK_AND_ASSIGN(serialization::DatagramEncoder encoder,
                       serialization::DatagramEncoder::Create(kDatagramBytes));
  // Newest first, as a receive tracker lists them; far apart, so that each takes many
  // bytes and not all fit.
  std::vector<serialization::AckRange> ranges;
  for (uint64_t i = 200; i > 0; --i) {
    ranges.push_back({.first = i << 50, .last = (i << 50) + 1});
  }
  Outgoing out;
  out.ack = serialization::AckFrame{.cumulative = 1, .ranges = ranges};
  ASSERT_OK(PackFrames(TestHeader(), To(), out, encoder, batch));
  batch.Send();

  std::vector<serialization::DecodedDatagram> datagrams = Decoded(net);
  ASSERT_EQ(datagrams.size(), 1u);
  const auto& ack = std::get<serialization::AckFrame>(datagrams[0].frames[0]);
  EXPECT_EQ(ack.cumulative, 1u);
  ASSERT_FALSE(ack.ranges.empty());
  EXPECT_LT(ack.ranges.size(), ranges.size());
  EXPECT_EQ(ack.ranges.front(), ranges.front());
}

}  // namespace
}  // namespace glue::transport::internal

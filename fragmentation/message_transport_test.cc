#include "glue/fragmentation/message_transport.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "glue/base/crc32c.h"
#include "glue/base/mutex.h"
#include "glue/base/run_until.h"
#include "glue/base/sanitized.h"
#include "glue/base/status_matchers.h"
#include "glue/transport/node_test.h"

namespace glue::fragmentation {
namespace {

using ::glue::testing::kSanitized;
using ::glue::testing::RunUntil;
using ::glue::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using transport::SendOutcome;

constexpr auto kLongRun = std::chrono::seconds(120);

constexpr uint32_t kCorrupt = UINT32_MAX;

// Message carries `index` and then bytes derived from it, so that the receiver can
// tell messages apart and see any corruption.
std::vector<uint8_t> Message(uint32_t index, size_t size) {
  std::vector<uint8_t> message(size);
  // The bytes of `index` that fit (none in an empty message, whose data() may be null).
  for (size_t i = 0; i < std::min(size, sizeof(index)); ++i) {
    message[i] = static_cast<uint8_t>(index >> (8 * i));
  }
  for (size_t i = sizeof(index); i < size; ++i) {
    message[i] = static_cast<uint8_t>(index * 31 + i + i / 251);
  }
  return message;
}

// IndexOf returns the index a Message of at least 4 bytes carries, or kCorrupt.
uint32_t IndexOf(const std::vector<uint8_t>& message) {
  uint32_t index = 0;
  if (message.size() < sizeof(index)) return kCorrupt;
  for (size_t i = 0; i < sizeof(index); ++i) index |= uint32_t{message[i]} << (8 * i);
  return message == Message(index, message.size()) ? index : kCorrupt;
}

// NodeOptions are the options of each layer of a node's stack.
struct NodeOptions {
  discovery::Discovery::Options discovery;
  transport::TransportOptions transport;
  MessageTransportOptions messages;
};

// Node is one MessageTransport under test, over its transport and discovery, and what
// its listener saw.
struct Node : transport::testing::Observed, MessageTransport::Listener {
  std::unique_ptr<discovery::Discovery> discovery;
  std::unique_ptr<transport::Transport> transport;
  std::unique_ptr<MessageTransport> messages;
  bool report_sends = true;
  // Whole messages when `keep`; otherwise only what IndexOf makes of them.
  bool keep ABSL_GUARDED_BY(mu) = true;
  std::vector<std::vector<uint8_t>> received ABSL_GUARDED_BY(mu);
  std::vector<uint32_t> indices ABSL_GUARDED_BY(mu);
  std::vector<uint64_t> sessions ABSL_GUARDED_BY(mu);  // each message's peer_session

  void OnPeerAdded(const discovery::Peer& peer) override { PeerAdded(peer); }
  void OnPeerRemoved(const discovery::Peer& peer, discovery::RemovalReason) override {
    PeerRemoved(peer);
  }
  void OnMessage(const discovery::Peer&, uint64_t peer_session,
                 std::vector<uint8_t> message) override {
    const uint32_t index = IndexOf(message);
    MutexLock lock(&mu);
    indices.push_back(index);
    sessions.push_back(peer_session);
    if (keep) received.push_back(std::move(message));
  }
  void OnSendDone(uint64_t, uint64_t token, SendOutcome outcome) override {
    SendDone(token, outcome);
  }
  bool WantsSendDone() const override { return report_sends; }

  uint64_t id() const { return discovery->config().endpoint_id; }
  void Stop() { messages->Stop(); }
  size_t received_count() const {
    MutexLock lock(&mu);
    return indices.size();
  }
};

class MessageTransportTest : public transport::testing::NodeTest<Node> {
 protected:
  // Add starts a node on `io` (the fixture's by default). Without `report_sends`, its
  // listener wants no OnSendDone.
  Node* Add(const discovery::Config& config, NodeOptions options = {},
            boost::asio::io_context* io = nullptr, bool report_sends = true) {
    auto node = std::make_unique<Node>();
    node->report_sends = report_sends;
    options.discovery.datagram_budget = options.transport.max_datagram_bytes;
    node->discovery = MakeDiscovery(config, options.discovery, io);
    if (node->discovery == nullptr) return nullptr;
    auto transport = transport::Transport::Create(*node->discovery, options.transport);
    EXPECT_OK(transport);
    if (!transport.ok()) return nullptr;
    node->transport = *std::move(transport);
    auto messages =
        MessageTransport::Create(*node->transport, std::move(options.messages));
    EXPECT_OK(messages);
    if (!messages.ok()) return nullptr;
    node->messages = *std::move(messages);
    EXPECT_OK(node->messages->Start(node.get()));
    return Keep(std::move(node));
  }

  Node* Add(uint64_t id, NodeOptions options = {},
            boost::asio::io_context* io = nullptr) {
    return Add(Config(id), std::move(options), io);
  }
};

TEST_F(MessageTransportTest, MessagesOfEverySizeArriveIntact) {
  // Checking the 64 MiB message holds the loop long enough for a fast-announcing peer
  // to be removed.
  Node* a = Add(Lossy(1, "a"));
  Node* b = Add(Lossy(2, "b"));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  const size_t max_payload = a->transport->max_payload_bytes();
  const std::vector<size_t> sizes = {0,
                                     1,
                                     max_payload - 1,
                                     max_payload,
                                     max_payload + 1,
                                     size_t{1} << 20,
                                     size_t{64} << 20};
  for (uint32_t i = 0; i < sizes.size(); ++i) {
    ASSERT_OK(
        a->messages->Send(b->id(), Message(i, sizes[i]), {.ordered = true, .token = i}));
  }
  ASSERT_TRUE(RunUntil(
      io_,
      [&] {
        return b->received_count() == sizes.size() && a->done_count() == sizes.size();
      },
      kLongRun))
      << b->received_count() << " received, " << a->done_count() << " done";

  MutexLock lock_a(&a->mu);
  MutexLock lock_b(&b->mu);
  for (uint32_t i = 0; i < sizes.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "size " << sizes[i]);
    EXPECT_TRUE(b->received[i] == Message(i, sizes[i]));
    EXPECT_EQ(a->done[i], SendOutcome::kAcknowledged);
  }
  EXPECT_EQ(a->done_twice, 0u);
  const MessageTransportCounters sender = a->messages->counters();
  const MessageTransportCounters receiver = b->messages->counters();
  EXPECT_EQ(sender.messages_sent, sizes.size());
  EXPECT_EQ(sender.sent_whole, 4u);
  EXPECT_EQ(sender.sent_fragmented, 3u);
  EXPECT_EQ(sender.acknowledged, sizes.size());
  EXPECT_EQ(sender.bytes_queued, 0u);
  EXPECT_EQ(sender.transport.bytes_held, 0u);
  EXPECT_EQ(receiver.received_whole, 4u);
  EXPECT_EQ(receiver.received_reassembled, 3u);
  EXPECT_EQ(receiver.reassembly.completed, 3u);
  EXPECT_EQ(receiver.reassembly.fragments, sender.fragments_sent);
  EXPECT_EQ(receiver.malformed_headers, 0u);
}

TEST_F(MessageTransportTest, RefusesAMessageLargerThanMaxMessageBytes) {
  NodeOptions options;
  options.messages.max_message_bytes = 5000;
  Node* a = Add(1, options);
  Node* b = Add(2, options);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  EXPECT_THAT(a->messages->Send(b->id(), Message(0, 5001), {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("5001"), HasSubstr("5000"))));
  EXPECT_OK(a->messages->Send(b->id(), Message(1, 5000), {.token = 1}));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->received_count() == 1; }));
  EXPECT_EQ(a->messages->counters().messages_sent, 1u);
}

TEST_F(MessageTransportTest, RefusesASendBeyondTheQueueBoundUntilItDrains) {
  NodeOptions options;
  options.messages.max_message_bytes = 1 << 20;
  options.messages.max_queued_bytes = 1 << 20;
  options.transport.session.window.max_bytes = 64 << 10;
  Node* a = Add(1, options);
  Node* b = Add(2, options);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  ASSERT_OK(a->messages->Send(b->id(), Message(0, 1 << 20), {.token = 0}));
  EXPECT_THAT(
      a->messages->Send(b->id(), Message(1, 1 << 20), {.token = 1}),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_queued_bytes")));
  EXPECT_EQ(a->messages->counters().refused_queue_full, 1u);
  ASSERT_TRUE(RunUntil(io_, [&] { return a->done_count() == 1; }));
  EXPECT_OK(a->messages->Send(b->id(), Message(1, 1 << 20), {.token = 1}));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->received_count() == 2; }));
  MutexLock lock(&b->mu);
  EXPECT_EQ(b->indices, (std::vector<uint32_t>{0, 1}));
}

TEST_F(MessageTransportTest, LargeMessagesArriveIntactThroughALossyNetwork) {
  // 200 messages of 1 MiB, sent as the queue takes them: about 5 s in a plain build.
  // Under a sanitizer, which makes it some 20 times slower, 20 of them.
  constexpr uint32_t kMessages = kSanitized ? 20 : 200;
  constexpr size_t kSize = size_t{1} << 20;
  const uint32_t seed = std::random_device()();
  std::printf("fault seed: %u\n", seed);
  NodeOptions options;
  options.discovery.data_faults = network::FaultOptions{.drop = 0.2, .seed = seed};
  Node* a = Add(Lossy(1, "a"), options);
  options.discovery.data_faults->seed = seed + 1;
  Node* b = Add(Lossy(2, "b"), options);
  ASSERT_TRUE(a && b);
  {
    MutexLock lock(&b->mu);
    b->keep = false;
  }
  ASSERT_TRUE(Connect(a, b));
  const auto start = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < kMessages; ++i) {
    auto message = std::make_shared<const std::vector<uint8_t>>(Message(i, kSize));
    absl::Status status;
    ASSERT_TRUE(RunUntil(
        io_,
        [&] {
          status = a->messages->Send(b->id(), message, {.token = i});
          return !absl::IsResourceExhausted(status);
        },
        kLongRun));
    ASSERT_OK(status);
  }
  ASSERT_TRUE(RunUntil(
      io_,
      [&] { return b->received_count() == kMessages && a->done_count() == kMessages; },
      kLongRun))
      << b->received_count() << " received, " << a->done_count() << " done";
  std::printf(
      "  %u messages of %zu bytes in %.1f s\n", kMessages, kSize,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

  MutexLock lock_a(&a->mu);
  MutexLock lock_b(&b->mu);
  std::set<uint32_t> seen(b->indices.begin(), b->indices.end());
  EXPECT_FALSE(seen.contains(kCorrupt));
  EXPECT_EQ(seen.size(), kMessages);
  EXPECT_EQ(a->done_twice, 0u);
  for (const auto& [token, outcome] : a->done) {
    ASSERT_EQ(outcome, SendOutcome::kAcknowledged) << "token " << token;
  }
  const MessageTransportCounters sender = a->messages->counters();
  EXPECT_GT(sender.transport.sessions.data_resent, 0u);
  EXPECT_EQ(sender.bytes_queued, 0u);
}

TEST_F(MessageTransportTest, ALargeMtuSendsFewerLargerFragments) {
  // GLUE_MTU up to 65,507 on loopback: a 1 MiB message in 17 fragments, not 760.
  NodeOptions options;
  options.transport.max_datagram_bytes = 65000;
  Node* a = Add(1, options);
  Node* b = Add(2, options);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  ASSERT_OK(a->messages->Send(b->id(), Message(0, 1 << 20), {.token = 0}));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->received_count() == 1; }));
  {
    MutexLock lock(&b->mu);
    EXPECT_TRUE(b->received[0] == Message(0, 1 << 20));
  }
  const size_t room = a->transport->max_body_bytes(kMaxFragmentHeaderBytes);
  EXPECT_GT(room, 64000u);
  EXPECT_EQ(a->messages->counters().fragments_sent, FragmentCount(1 << 20, room));
}

TEST_F(MessageTransportTest, BestEffortMessagesArriveWhole) {
  Node* a = Add(1);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  constexpr uint32_t kMessages = 20;
  for (uint32_t i = 0; i < kMessages; ++i) {
    ASSERT_OK(a->messages->Send(b->id(), Message(i, 20'000), {.reliable = false}));
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return b->received_count() == kMessages; }));
  MutexLock lock(&b->mu);
  for (uint32_t i = 0; i < kMessages; ++i) EXPECT_EQ(b->indices[i], i);
  EXPECT_EQ(a->done_count(), 0u);  // nothing reports a best-effort message
  EXPECT_EQ(a->messages->counters().bytes_queued, 0u);
  EXPECT_EQ(b->messages->counters().received_reassembled, kMessages);
}

TEST_F(MessageTransportTest, IncompleteMessagesExpireAndGiveTheirMemoryBack) {
  // Best-effort fragments through 50% loss: almost every message misses some. Each
  // lives as long as its sender's expiry said (50 ms), not the receiver's default,
  // which is an hour here.
  NodeOptions lossy;
  lossy.discovery.data_faults = network::FaultOptions{.drop = 0.5, .seed = 9};
  Node* a = Add(1, lossy);
  NodeOptions patient;
  patient.messages.reassembly.default_time_to_live = absl::Hours(1);
  patient.messages.reassembly.max_time_to_live = absl::Hours(1);
  Node* b = Add(2, patient);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  constexpr uint32_t kMessages = 10;
  for (uint32_t i = 0; i < kMessages; ++i) {
    ASSERT_OK(
        a->messages->Send(b->id(), Message(i, 30'000),
                          {.reliable = false, .expiry = Now() + absl::Milliseconds(50)}));
  }
  ASSERT_TRUE(RunUntil(io_,
                       [&] {
                         const MessageTransportCounters c = b->messages->counters();
                         return c.reassembly.expired > 0 && c.reassembly_bytes_held == 0;
                       }))
      << b->messages->counters().reassembly.expired << " expired";
  const MessageTransportCounters c = b->messages->counters();
  EXPECT_LE(c.reassembly.expired + c.received_reassembled, kMessages);
  EXPECT_EQ(c.received_reassembled, b->received_count());
}

TEST_F(MessageTransportTest, MalformedFragmentHeadersAreCountedAndDropped) {
  Node* b = Add(2);
  ASSERT_TRUE(b);
  // A bare transport, to put any meta on the wire.
  struct RawListener : transport::testing::Observed, transport::Transport::Listener {
    void OnPeerAdded(const discovery::Peer& peer) override { PeerAdded(peer); }
    void OnPeerRemoved(const discovery::Peer&, discovery::RemovalReason) override {}
    void OnMessage(const discovery::Peer&, transport::Delivery) override {}
    void OnSendDone(uint64_t, absl::Span<const uint64_t>, SendOutcome) override {}
  } raw;
  std::unique_ptr<discovery::Discovery> below = MakeDiscovery(MulticastConfig(3, "raw"));
  absl::StatusOr<std::unique_ptr<transport::Transport>> sender =
      transport::Transport::Create(*below, {});
  ASSERT_OK(sender);
  ASSERT_OK((*sender)->Start(&raw));
  ASSERT_TRUE(RunUntil(io_, [&] { return raw.Sees(b->id()); }));
  std::vector<uint8_t> hostile(kMaxFragmentHeaderBytes);
  hostile.resize(EncodeFragmentHeader({.message_id = 1,
                                       .total_bytes = uint64_t{1} << 40,
                                       .fragment_bytes = 1000,
                                       .index = 0},
                                      absl::MakeSpan(hostile)));
  for (const std::vector<uint8_t>& meta : {std::vector<uint8_t>{0x02, 1, 2, 3, 4, 5, 6},
                                           std::vector<uint8_t>{0x01, 0x80}, hostile}) {
    transport::Payload payload(Message(0, 1000));
    payload.meta.assign(meta.begin(), meta.end());
    ASSERT_OK((*sender)->Send(b->id(), std::move(payload), {}));
  }
  ASSERT_OK((*sender)->Send(b->id(), transport::Payload(Message(1, 1000)), {}));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->received_count() == 1; }));
  (*sender)->Stop();
  MutexLock lock(&b->mu);
  EXPECT_EQ(b->indices[0], 1u);
  const MessageTransportCounters c = b->messages->counters();
  EXPECT_EQ(c.malformed_headers, 3u);
  EXPECT_EQ(c.reassembly.fragments, 0u);
  EXPECT_EQ(c.reassembly_bytes_held, 0u);
}

TEST_F(MessageTransportTest,
       HostileFragmentsHoldWhatArrivedAndExpireAtTheLongestTimeToLive) {
  // A bare transport sends 300 fragments of 1 KiB, each of a message claiming 64 MiB
  // and a time to live of 49 days, then the fragments of a genuine message.
  NodeOptions options;
  options.messages.reassembly.max_time_to_live = absl::Seconds(30);
  Node* b = Add(2, options);
  ASSERT_TRUE(b);
  struct RawListener : transport::testing::Observed, transport::Transport::Listener {
    void OnPeerAdded(const discovery::Peer& peer) override { PeerAdded(peer); }
    void OnPeerRemoved(const discovery::Peer&, discovery::RemovalReason) override {}
    void OnMessage(const discovery::Peer&, transport::Delivery) override {}
    void OnSendDone(uint64_t, absl::Span<const uint64_t>, SendOutcome) override {}
  } raw;
  std::unique_ptr<discovery::Discovery> below = MakeDiscovery(MulticastConfig(3, "raw"));
  absl::StatusOr<std::unique_ptr<transport::Transport>> sender =
      transport::Transport::Create(*below, {});
  ASSERT_OK(sender);
  ASSERT_OK((*sender)->Start(&raw));
  ASSERT_TRUE(RunUntil(io_, [&] { return raw.Sees(b->id()); }));
  auto send_fragment = [&](const FragmentHeader& header, absl::Span<const uint8_t> body) {
    uint8_t meta[kMaxFragmentHeaderBytes];
    const size_t meta_bytes = EncodeFragmentHeader(header, meta);
    transport::Payload payload(std::vector<uint8_t>(body.begin(), body.end()));
    payload.meta.assign(meta, meta + meta_bytes);
    return (*sender)->Send(b->id(), std::move(payload), {});
  };

  constexpr int kHostile = 300;
  const std::vector<uint8_t> junk(1024, 0xa5);
  const absl::Time sent = Now();
  for (int i = 0; i < kHostile; ++i) {
    ASSERT_OK(send_fragment({.message_id = 1000 + static_cast<uint64_t>(i),
                             .total_bytes = kDefaultMaxMessageBytes,
                             .fragment_bytes = 1024,
                             .index = static_cast<uint32_t>(1 + i),
                             .time_to_live_ms = UINT32_MAX},
                            junk));
  }
  const std::vector<uint8_t> genuine = Message(1, 5000);
  for (uint32_t index = 0; index < 5; ++index) {
    ASSERT_OK(send_fragment({.message_id = 1,
                             .total_bytes = genuine.size(),
                             .fragment_bytes = 1000,
                             .index = index,
                             .checksum = Crc32c(genuine),
                             .time_to_live_ms = 5000},
                            absl::MakeConstSpan(genuine).subspan(index * 1000, 1000)));
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return b->received_count() == 1; }));
  {
    MutexLock lock(&b->mu);
    EXPECT_TRUE(b->received[0] == genuine);
  }
  MessageTransportCounters c = b->messages->counters();
  EXPECT_EQ(c.reassembly.fragments, kHostile + 5u);
  EXPECT_EQ(c.reassembly.time_to_live_clamped, uint64_t{kHostile});
  EXPECT_EQ(
      c.reassembly_bytes_held,
      kHostile * (Reassembler::kMessageOverheadBytes + Reassembler::kRunOverheadBytes +
                  Reassembler::kBlockOverheadBytes + junk.size()));

  ASSERT_TRUE(RunUntil(
      io_,
      [&] {
        c = b->messages->counters();
        return c.reassembly.expired == kHostile;
      },
      std::chrono::seconds(60)));
  EXPECT_GE(Now(), sent + absl::Seconds(30));
  EXPECT_LT(Now(), sent + absl::Seconds(31));
  EXPECT_EQ(c.reassembly_bytes_held, 0u);
  (*sender)->Stop();
}

TEST_F(MessageTransportTest, APeerThatGoesAwayReleasesEverythingQueuedToIt) {
  NodeOptions options;
  options.transport.session.window.max_bytes = 64 << 10;
  Node* a = Add(1, options);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  for (uint32_t i = 0; i < 4; ++i) {
    ASSERT_OK(a->messages->Send(b->id(), Message(i, 1 << 20), {.token = i}));
  }
  EXPECT_GT(a->messages->counters().bytes_queued, 3u << 20);
  b->messages->Stop();  // says goodbye, acknowledging nothing
  ASSERT_TRUE(RunUntil(io_, [&] { return a->done_count() == 4; }));
  MutexLock lock(&a->mu);
  for (const auto& [token, outcome] : a->done) {
    EXPECT_EQ(outcome, SendOutcome::kReleased) << "token " << token;
  }
  EXPECT_EQ(a->done_twice, 0u);
  const MessageTransportCounters c = a->messages->counters();
  EXPECT_EQ(c.released, 4u);
  EXPECT_EQ(c.bytes_queued, 0u);
  EXPECT_EQ(c.transport.bytes_held, 0u);
}

TEST_F(MessageTransportTest, APeerGoingAwayReleasesAFullQueueOfSmallMessagesAtOnce) {
  // Tens of thousands of messages wait behind a small window when the peer leaves:
  // each is reported released once, and releasing them does not cost the square of
  // their number (before, each release searched the whole queue: this test ran for
  // hours).
  NodeOptions options;
  options.transport.session.window.max_bytes = 4 << 10;
  options.messages.max_queued_messages = 60'000;
  Node* a = Add(1, options);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  uint32_t sent = 0;
  absl::Status status;
  while ((status = a->messages->Send(b->id(), Message(sent, 8), {.token = sent})).ok()) {
    ++sent;
  }
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kResourceExhausted,
                               HasSubstr("max_queued_messages = 60000")));
  EXPECT_GE(sent, 60'000u);
  b->messages->Stop();  // says goodbye, acknowledging nothing
  ASSERT_TRUE(RunUntil(io_, [&] { return a->done_count() == sent; }));
  MutexLock lock(&a->mu);
  EXPECT_EQ(a->done_twice, 0u);
  const MessageTransportCounters c = a->messages->counters();
  EXPECT_EQ(c.released, sent);
  EXPECT_EQ(c.bytes_queued, 0u);
}

TEST_F(MessageTransportTest, WithoutOnSendDoneTheEndsOfMessagesAreCounted) {
  // Without on_send_done, whole messages go straight to the transport when none
  // waits, and nothing is kept of them; behind a full window they queue as others
  // do. Every end is counted all the same, whether acknowledged or released.
  NodeOptions options;
  options.transport.session.window.max_bytes = 4 << 10;
  Node* a = Add(Config(1), options, nullptr, /*report_sends=*/false);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  constexpr uint32_t kCount = 200;
  for (uint32_t i = 0; i < kCount; ++i) {
    // One in fifty is fragmented, which is kept until it is reported.
    ASSERT_OK(a->messages->Send(b->id(), Message(i, i % 50 == 0 ? 5000 : 100), {}));
  }
  EXPECT_GT(a->messages->counters().bytes_queued, 0u);  // some waited
  ASSERT_TRUE(RunUntil(io_, [&] {
    return b->received_count() == kCount &&
           a->messages->counters().acknowledged == kCount;
  }));
  {
    MutexLock lock(&b->mu);
    std::vector<uint32_t> indices = b->indices;
    std::sort(indices.begin(), indices.end());
    for (uint32_t i = 0; i < kCount; ++i) ASSERT_EQ(indices[i], i);
  }
  MessageTransportCounters c = a->messages->counters();
  EXPECT_EQ(c.messages_sent, kCount);
  EXPECT_EQ(c.sent_fragmented, kCount / 50);
  EXPECT_EQ(c.bytes_queued, 0u);

  // Queued and in flight when the peer leaves: each released, once.
  for (uint32_t i = 0; i < kCount; ++i) {
    ASSERT_OK(a->messages->Send(b->id(), Message(i, 100), {}));
  }
  EXPECT_GT(a->messages->counters().bytes_queued, 0u);
  b->messages->Stop();  // says goodbye, acknowledging nothing
  ASSERT_TRUE(RunUntil(io_, [&] {
    c = a->messages->counters();
    return c.acknowledged + c.released == 2 * kCount;
  }));
  EXPECT_GT(c.released, 0u);
  EXPECT_EQ(c.bytes_queued, 0u);
  EXPECT_EQ(c.transport.bytes_held, 0u);
}

TEST_F(MessageTransportTest, AMessageWhoseFragmentExpiresIsReportedExpiredOnce) {
  // b's process stalls once connected (a keeps it for 30 silent periods): a's
  // fragments expire unacknowledged, and those still queued behind its send window
  // are dropped with them.
  NodeOptions options;
  options.transport.session.window.max_bytes = 32 << 10;
  discovery::Config config_a = MulticastConfig(1, "a");
  config_a.rate_timeout_multiplier = 30;
  Node* a = Add(config_a, options);
  Node* b = Add(2, {}, &io_b_);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b, &io_b_));
  ASSERT_OK(a->messages->Send(b->id(), Message(7, 1 << 20),
                              {.expiry = Now() + absl::Milliseconds(100), .token = 7}));
  ASSERT_TRUE(RunUntil(io_, [&] {
    return a->done_count() == 1 && a->messages->counters().transport.bytes_held == 0;
  }));
  MutexLock lock(&a->mu);
  EXPECT_EQ(a->done[7], SendOutcome::kExpired);
  EXPECT_EQ(a->done_twice, 0u);
  const MessageTransportCounters c = a->messages->counters();
  EXPECT_EQ(c.expired, 1u);
  EXPECT_EQ(c.bytes_queued, 0u);
  EXPECT_LT(
      c.fragments_sent,
      FragmentCount(1 << 20, a->transport->max_body_bytes(kMaxFragmentHeaderBytes)));
}

TEST_F(MessageTransportTest, APeersNewSessionStartsItsMessagesAnew) {
  // b removes a after 2 silent periods of a; a keeps b for 30 of b's. b's messages to
  // a after that come from a new session and number their fragments from 1 again:
  // a must not take them for those it completed before, and hears of the new session
  // with each message, whole or reassembled.
  discovery::Config config_a = MulticastConfig(1, "a");
  config_a.rate_timeout_multiplier = 30;
  Node* a = Add(config_a, {}, &io_b_);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b, &io_b_));
  ASSERT_OK(b->messages->Send(a->id(), Message(0, 10'000), {.token = 0}));
  ASSERT_TRUE(RunBothUntil([&] { return a->received_count() == 1; }));

  // a's process stalls: b removes it; a, back, still has b.
  ASSERT_TRUE(RunUntil(io_, [&] { return !b->Sees(a->id()); }));
  ASSERT_TRUE(a->Sees(b->id()));
  ASSERT_TRUE(RunBothUntil([&] { return b->Sees(a->id()); }));
  ASSERT_OK(b->messages->Send(a->id(), Message(1, 10'000), {.token = 1}));
  ASSERT_OK(b->messages->Send(a->id(), Message(2, 100), {.ordered = true, .token = 2}));
  ASSERT_TRUE(RunBothUntil([&] { return a->received_count() == 3; }));
  MutexLock lock(&a->mu);
  EXPECT_EQ(a->indices, (std::vector<uint32_t>{0, 1, 2}));
  ASSERT_EQ(a->sessions.size(), 3u);
  EXPECT_NE(a->sessions[0], 0u);
  EXPECT_GT(a->sessions[1], a->sessions[0]);
  EXPECT_EQ(a->sessions[2], a->sessions[1]);
  const MessageTransportCounters c = a->messages->counters();
  EXPECT_EQ(c.received_reassembled, 2u);
  EXPECT_EQ(c.reassembly.duplicates, 0u);
}

TEST(MessageTransportOptions, ReadsTheEnvironment) {
  absl::StatusOr<MessageTransportOptions> options =
      OptionsFromEnvironment(MapEnvironment({{"GLUE_MAX_MESSAGE_BYTES", "300000000"}}));
  ASSERT_OK(options);
  EXPECT_EQ(options->max_message_bytes, 300000000u);
  EXPECT_EQ(options->max_queued_bytes, 300000000u);

  options = OptionsFromEnvironment(MapEnvironment({}));
  ASSERT_OK(options);
  EXPECT_EQ(options->max_message_bytes, kDefaultMaxMessageBytes);
  EXPECT_EQ(options->reassembly.max_time_to_live, absl::Seconds(30));
  EXPECT_EQ(options->reassembly.default_time_to_live, absl::Seconds(10));

  options = OptionsFromEnvironment(
      MapEnvironment({{"GLUE_REASSEMBLY_MAX_TIME_TO_LIVE_MILLISECONDS", "120000"}}));
  ASSERT_OK(options);
  EXPECT_EQ(options->reassembly.max_time_to_live, absl::Minutes(2));
  EXPECT_EQ(options->reassembly.default_time_to_live, absl::Seconds(10));
  // Shorter than the default time to live, it shortens that too.
  options = OptionsFromEnvironment(
      MapEnvironment({{"GLUE_REASSEMBLY_MAX_TIME_TO_LIVE_MILLISECONDS", "2500"}}));
  ASSERT_OK(options);
  EXPECT_EQ(options->reassembly.max_time_to_live, absl::Milliseconds(2500));
  EXPECT_EQ(options->reassembly.default_time_to_live, absl::Milliseconds(2500));
  EXPECT_OK(Reassembler::Validate(options->reassembly));
}

TEST(MessageTransportOptions, NamesAMalformedVariableAndItsValue) {
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"GLUE_MAX_MESSAGE_BYTES", "0"},
           {"GLUE_MAX_MESSAGE_BYTES", "-1"},
           {"GLUE_REASSEMBLY_MAX_TIME_TO_LIVE_MILLISECONDS", "0"},
           {"GLUE_REASSEMBLY_MAX_TIME_TO_LIVE_MILLISECONDS", "3600001"},
           {"GLUE_REASSEMBLY_MAX_TIME_TO_LIVE_MILLISECONDS", "30s"}}) {
    SCOPED_TRACE(name + "=" + value);
    EXPECT_THAT(OptionsFromEnvironment(MapEnvironment({{name, value}})).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(name), HasSubstr(value))));
  }
}

}  // namespace
}  // namespace glue::fragmentation

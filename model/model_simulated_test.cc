// Models over the whole stack on the simulated network and clock, driven by the test:
// random histories of puts, deletes, ephemeral puts, partitions, heals, restarts and
// clocks minutes apart, checked against a reference of the same history.
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glue/base/status_matchers.h"
#include "glue/discovery/simulated_hosts.h"
#include "glue/fragmentation/message_transport.h"
#include "glue/model/model.h"
#include "glue/topics/topics.h"
#include "glue/transport/node_test.h"
#include "glue/transport/transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::model {
namespace {

// Node is one endpoint's stack with the model "r" open.
struct Node : transport::testing::Observed, discovery::PeerListener {
  std::unique_ptr<discovery::Discovery> discovery;
  std::unique_ptr<transport::Transport> transport;
  std::unique_ptr<fragmentation::MessageTransport> messages;
  std::unique_ptr<topics::Topics> topics;
  std::unique_ptr<Model> model;

  void OnPeerAdded(const discovery::Peer& peer) override { PeerAdded(peer); }
  void OnPeerRemoved(const discovery::Peer& peer, discovery::RemovalReason) override {
    PeerRemoved(peer);
  }
  uint64_t id() const { return discovery->config().endpoint_id; }
  void Stop() {
    if (model) model->Close();
    model.reset();
    if (topics) topics->Stop();
  }
};

// A version as the reference names it: writer endpoint, run, counter.
using VersionId = std::tuple<uint64_t, uint64_t, uint64_t>;
VersionId IdOf(const Entry& e) {
  return {e.version.writer.endpoint_id, e.version.writer.incarnation, e.version.counter};
}

// What a replica shows, key -> {(value, version)}.
using Shown = std::map<std::string, std::set<std::pair<std::string, VersionId>>>;

Shown ShownBy(const Model& m, absl::string_view filter) {
  Shown shown;
  absl::StatusOr<ModelSnapshot> snapshot = m.Snapshot(filter);
  EXPECT_OK(snapshot);
  for (const Entry& e : snapshot->entries) {
    for (const Entry& s : m.Siblings(e.key)) shown[e.key].emplace(*s.value, IdOf(s));
  }
  return shown;
}

class ModelSimulatedTest : public transport::testing::NodeTest<Node> {
 protected:
  void SetUp() override {
    NodeTest::SetUp();
    std::string pattern =
        (std::filesystem::temp_directory_path() / "model_simulated_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
  }
  void TearDown() override {
    NodeTest::TearDown();
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  // Start makes node `id` (host `id`), its model kept in a directory of its own, its
  // clock `skew` off.
  Node* Start(uint64_t id, absl::Duration skew) {
    auto node = std::make_unique<Node>();
    const discovery::Config config = discovery::testing::SimulatedHostConfig(
        static_cast<int>(id), id, absl::StrCat("node-", id));
    const transport::TransportOptions transport_options;
    node->discovery =
        MakeDiscovery(config, {.datagram_budget = transport_options.max_datagram_bytes});
    if (node->discovery == nullptr) return nullptr;
    auto transport = transport::Transport::Create(*node->discovery, transport_options);
    EXPECT_OK(transport);
    if (!transport.ok()) return nullptr;
    node->transport = *std::move(transport);
    auto messages = fragmentation::MessageTransport::Create(*node->transport, {});
    EXPECT_OK(messages);
    if (!messages.ok()) return nullptr;
    node->messages = *std::move(messages);
    auto topics = topics::Topics::Create(*node->messages, config, {});
    EXPECT_OK(topics);
    if (!topics.ok()) return nullptr;
    node->topics = *std::move(topics);
    EXPECT_OK(node->topics->Start(node.get()));
    ModelOptions options;
    options.directory = absl::StrCat(directory_, "/node-", id);
    options.anti_entropy_interval = absl::Seconds(1);
    options.message_bytes = 4096;  // answers in many chunks
    options.wall_clock = [this, skew] { return Now() + skew; };
    auto model = Model::Open(*node->topics, "r", options);
    EXPECT_OK(model);
    if (!model.ok()) return nullptr;
    node->model = *std::move(model);
    return Keep(std::move(node));
  }

  std::string directory_;
};

// The reference: every write with the versions its replica showed for the key when it
// wrote (all of which it replaced); what survives is what no write replaced.
struct RefWrite {
  std::string key;
  std::optional<std::pair<std::string, VersionId>> put;  // none: a delete
  std::set<VersionId> replaced;
};

Shown Surviving(const std::vector<RefWrite>& writes) {
  std::set<VersionId> replaced;
  for (const RefWrite& w : writes) replaced.insert(w.replaced.begin(), w.replaced.end());
  Shown shown;
  for (const RefWrite& w : writes) {
    if (w.put && !replaced.contains(w.put->second)) shown[w.key].insert(*w.put);
  }
  return shown;
}

TEST_F(ModelSimulatedTest, RandomHistoriesWithPartitionsRestartsAndSkewConverge) {
  const uint64_t base = transport::testing::TestSeed();
  std::printf("GLUE_TEST_SEED=%llu\n", static_cast<unsigned long long>(base));
  std::mt19937_64 random(base);
  const size_t n = 3 + random() % 3;
  std::vector<Node*> nodes(n);
  std::vector<absl::Duration> skews(n);
  for (size_t i = 0; i < n; ++i) {
    skews[i] = absl::Seconds(static_cast<int64_t>(random() % 600) - 300);  // +-5 min
    nodes[i] = Start(i + 1, skews[i]);
    ASSERT_NE(nodes[i], nullptr);
  }
  std::vector<RefWrite> writes;
  // Ephemeral values: key -> (writer id, run, value) of the last ephemeral put.
  std::map<std::string, std::tuple<uint64_t, uint64_t, std::string>> ephemeral;
  for (int step = 0; step < 300; ++step) {
    const size_t i = random() % n;
    Model& m = *nodes[i]->model;
    const std::string key = absl::StrCat("k/", random() % 16);
    const int what = static_cast<int>(random() % 100);
    if (what < 45 || what >= 97) {  // a put, or a delete when the key has a value
      RefWrite w{.key = key};
      for (const Entry& e : m.Siblings(key)) w.replaced.insert(IdOf(e));
      if (what < 35 || w.replaced.empty()) {
        const std::string value = absl::StrCat("v", step);
        ASSERT_OK(m.Put(key, value));
        for (const Entry& e : m.Siblings(key)) {
          if (!w.replaced.contains(IdOf(e)) && e.version.writer == m.writer()) {
            w.put = {value, IdOf(e)};
          }
        }
        ASSERT_TRUE(w.put) << "step " << step;
      } else {
        ASSERT_OK(m.Delete(key));
      }
      writes.push_back(std::move(w));
    } else if (what < 50) {  // an ephemeral value, under keys of its own
      const std::string e = absl::StrCat("eph/", random() % 4);
      ASSERT_OK(m.Put(e, absl::StrCat("e", step), {.ephemeral = true}));
    } else if (what < 56) {  // a partition into two random sides
      std::vector<boost::asio::ip::address> a, b;
      for (size_t j = 0; j < n; ++j) {
        (random() % 2 ? a : b)
            .push_back(nodes[j]->discovery->config().listen_address.address());
      }
      simulated_network_.Heal();
      if (!a.empty() && !b.empty()) simulated_network_.Partition(a, b);
    } else if (what < 62) {
      simulated_network_.Heal();
    } else if (what < 65) {  // a restart: its file brings its state back
      nodes[i]->Stop();
      nodes[i] = Start(i + 1, skews[i]);
      ASSERT_NE(nodes[i], nullptr);
    } else {
      RunFor(io_, std::chrono::milliseconds(1 + random() % 200));
    }
  }
  // Healed, every replica ends with the same state, and it is the reference's.
  simulated_network_.Heal();
  const Shown expected = Surviving(writes);
  auto converged = [&] {
    for (Node* node : nodes) {
      if (node->model->replicas() != n - 1) return false;
      if (ShownBy(*node->model, "k/#") != expected) return false;
      if (ShownBy(*node->model, "#") != ShownBy(*nodes[0]->model, "#")) return false;
    }
    return true;
  };
  ASSERT_TRUE(RunUntil(io_, converged, std::chrono::minutes(2)))
      << "seed " << base << ": replica 0 shows " << ShownBy(*nodes[0]->model, "#").size()
      << " keys, the reference " << expected.size();
  std::printf("%zu replicas, %zu writes, %zu keys and %zu ephemeral keys at the end\n", n,
              writes.size(), expected.size(), ShownBy(*nodes[0]->model, "eph/#").size());
  // The ephemeral values shown are those of the runs still alive.
  for (const auto& [key, values] : ShownBy(*nodes[0]->model, "eph/#")) {
    for (const auto& [value, id] : values) {
      const auto& [writer, run, counter] = id;
      EXPECT_EQ(run, nodes[writer - 1]->model->writer().incarnation)
          << key << "=" << value << " of an earlier run of node " << writer;
    }
  }
}

}  // namespace
}  // namespace glue::model

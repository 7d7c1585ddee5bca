#include "model/store.h"

#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::model::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr StoreBounds kBounds{
    .max_keys = 1 << 20, .max_value_bytes = 1 << 20, .max_bytes = size_t{1} << 30};

Value V(absl::string_view s) { return Value(s); }

std::vector<Change> ChangesOf(const Store& store) {
  std::vector<Change> out;
  for (size_t i = 0; i < store.changes().size(); ++i) out.push_back(store.changes()[i]);
  return out;
}

// Replica is a store with what the model around it would add: a clock, the delta of
// each local write, and the exchange of summaries, all through the wire encoding.
struct Replica {
  Replica(uint64_t id, uint64_t incarnation)
      : store(Writer{id, incarnation}, absl::StrCat("r", id), kBounds) {}

  std::vector<uint8_t> DeltaOf(absl::string_view key, const std::optional<Value>& value,
                               const LocalWrite& w, HybridTime time) const {
    Delta d{.incarnation = store.self().incarnation};
    d.writers.push_back({store.self(), "me"});
    WireVersion v{.writer = 0, .counter = w.counter, .time = time, .key = key};
    if (value) v.value = absl::string_view(*value);
    for (const Dot& r : w.replaced) {
      uint32_t index = 0;
      while (index < d.writers.size() && d.writers[index].writer != r.writer) ++index;
      if (index == d.writers.size()) d.writers.push_back({r.writer, ""});
      v.replaced.emplace_back(index, r.counter);
    }
    d.versions.push_back(v);
    return EncodeModelMessage(d);
  }

  std::vector<uint8_t> Put(absl::string_view key, absl::string_view value, int64_t now) {
    const HybridTime t = clock.Tick(absl::FromUnixMillis(now));
    const Value v = V(value);
    absl::StatusOr<LocalWrite> w = store.Put(key, v, t, false, 0);
    EXPECT_TRUE(w.ok()) << w.status();
    return DeltaOf(key, v, *w, t);
  }

  std::optional<std::vector<uint8_t>> Delete(absl::string_view key, int64_t now) {
    const HybridTime t = clock.Tick(absl::FromUnixMillis(now));
    std::optional<LocalWrite> w = store.Delete(key);
    if (!w) return std::nullopt;
    return DeltaOf(key, std::nullopt, *w, t);
  }

  void Receive(const std::vector<uint8_t>& bytes, int64_t now) {
    absl::StatusOr<ModelMessage> m = DecodeModelMessage(bytes);
    ASSERT_TRUE(m.ok()) << m.status();
    const Delta& d = std::get<Delta>(*m);
    for (const WireVersion& v : d.versions)
      clock.Observe(v.time, absl::FromUnixMillis(now));
    store.ApplyDelta(d, now);
  }

  Store store;
  HybridClock clock;
};

// Exchange has `to` answer `from`'s summary, in chunks of `chunk` bytes, through the
// encoding; returns the chunks sent.
size_t Exchange(Replica& from, Replica& to, size_t chunk, int64_t now) {
  const std::vector<uint8_t> summary =
      EncodeModelMessage(from.store.MakeSummary(from.store.self().incarnation, 7, true));
  absl::StatusOr<ModelMessage> decoded = DecodeModelMessage(summary);
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  Answer answer = to.store.StartAnswer(std::get<Summary>(*decoded), 7);
  size_t chunks = 0;
  for (bool last = false; !last;) {
    Delta d{.incarnation = to.store.self().incarnation, .answer_to = 7};
    last = to.store.NextAnswerChunk(answer, chunk, now, &d);
    d.last = last;
    from.Receive(EncodeModelMessage(d), now);
    ++chunks;
  }
  return chunks;
}

// Shown lists what a store shows, key -> (value, writer id, counter) of each value.
std::map<std::string, std::set<std::tuple<std::string, uint64_t, uint64_t>>> Shown(
    const Store& s, const std::vector<std::string>& keys) {
  std::map<std::string, std::set<std::tuple<std::string, uint64_t, uint64_t>>> out;
  for (const std::string& k : keys) {
    for (const StoredVersion& v : s.Shown(k)) {
      out[k].emplace(*v.value, s.writer(v.writer).writer.endpoint_id, v.counter);
    }
  }
  return out;
}

TEST(StoreTest, APutReplacesWhatItsWriterHeldAndADeleteEverything) {
  Replica a(1, 11), b(2, 22);
  const auto put1 = a.Put("k", "one", 1000);
  b.Receive(put1, 1000);
  ASSERT_NE(b.store.Winner("k"), nullptr);
  EXPECT_EQ(*b.store.Winner("k")->value, "one");
  // Concurrent writes: both stay, as siblings, with the same winner on both sides.
  const auto put2 = a.Put("k", "two", 2000);
  const auto put3 = b.Put("k", "three", 1500);
  a.Receive(put3, 2000);
  b.Receive(put2, 2000);
  EXPECT_EQ(a.store.Shown("k").size(), 2u);
  EXPECT_EQ(*a.store.Winner("k")->value, *b.store.Winner("k")->value);
  EXPECT_EQ(*a.store.Winner("k")->value, "two");  // the later time
  // A write after seeing both replaces both.
  const auto put4 = b.Put("k", "four", 1600);
  a.Receive(put4, 2000);
  EXPECT_EQ(a.store.Shown("k").size(), 1u);
  EXPECT_EQ(*a.store.Winner("k")->value, "four");
  // A delete, received twice and before the write it deletes was received by a third.
  Replica c(3, 33);
  const auto del = a.Delete("k", 3000);
  ASSERT_TRUE(del);
  c.Receive(*del, 3000);
  c.Receive(*del, 3000);
  c.Receive(put4, 3000);  // arrives late: already deleted
  EXPECT_EQ(c.store.Winner("k"), nullptr);
  b.Receive(*del, 3000);
  EXPECT_EQ(b.store.Winner("k"), nullptr);
  EXPECT_EQ(a.store.keys(), 0u);
  EXPECT_FALSE(a.Delete("k", 4000));
}

TEST(StoreTest, ACausallyLaterWriteWinsAgainstAClockFiveMinutesAhead) {
  Replica fast(1, 11), slow(2, 22);
  const int64_t now = 1'000'000'000;
  const auto first = fast.Put("k", "fast", now + 5 * 60 * 1000);
  slow.Receive(first, now);
  const auto second = slow.Put("k", "slow", now);  // its clock is 5 minutes behind
  fast.Receive(second, now + 5 * 60 * 1000);
  EXPECT_EQ(*fast.store.Winner("k")->value, "slow");
  EXPECT_EQ(*slow.store.Winner("k")->value, "slow");
  EXPECT_EQ(fast.store.Shown("k").size(), 1u);
}

TEST(StoreTest, ADeleteDuringAPartitionStaysDeletedAfterTheExchange) {
  Replica a(1, 11), b(2, 22);
  for (int i = 0; i < 10; ++i) b.Receive(a.Put(absl::StrCat("k", i), "v", 1000), 1000);
  // Partitioned: a deletes k3, b (which still holds it) overwrites nothing of it.
  ASSERT_TRUE(a.Delete("k3", 2000));
  b.Put("k5", "b's", 2000);
  Exchange(a, b, 64, 3000);
  Exchange(b, a, 64, 3000);
  EXPECT_EQ(a.store.Winner("k3"), nullptr);
  EXPECT_EQ(b.store.Winner("k3"), nullptr);
  EXPECT_EQ(*a.store.Winner("k5")->value, "b's");
  EXPECT_EQ(a.store.seen(), b.store.seen());
  // Nothing is left of the delete: the context says it all.
  EXPECT_EQ(a.store.keys(), 9u);
  EXPECT_EQ(b.store.keys(), 9u);
}

TEST(StoreTest, AReplicaRestoredWithAnOldStateDoesNotBringDeletedKeysBack) {
  Replica a(1, 11), b(2, 22);
  for (int i = 0; i < 5; ++i) b.Receive(a.Put(absl::StrCat("k", i), "v", 1000), 1000);
  // b's state now, as a backup; then a deletes k1 and b hears of it.
  Store backup = b.store;
  const auto del = a.Delete("k1", 2000);
  b.Receive(*del, 2000);
  Replica restored(2, 22);
  restored.store = backup;
  // Both ways: the old k1 must not come back to a, and must go from the restored.
  Exchange(a, restored, 1 << 16, 3000);
  Exchange(restored, a, 1 << 16, 3000);
  EXPECT_EQ(a.store.Winner("k1"), nullptr);
  EXPECT_EQ(restored.store.Winner("k1"), nullptr);
  EXPECT_EQ(restored.store.keys(), 4u);
}

TEST(StoreTest, AnExchangeOfEqualReplicasSendsNothingButItsEnd) {
  Replica a(1, 11), b(2, 22);
  for (int i = 0; i < 100; ++i) b.Receive(a.Put(absl::StrCat("k", i), "v", 1000), 1000);
  Answer answer = b.store.StartAnswer(a.store.MakeSummary(11, 1, false), 1);
  Delta d;
  EXPECT_TRUE(b.store.NextAnswerChunk(answer, 1 << 16, 1000, &d));
  EXPECT_THAT(d.versions, IsEmpty());
  EXPECT_THAT(d.dots, IsEmpty());
}

TEST(StoreTest, ALateJoinerGetsEveryKeyInChunks) {
  Replica a(1, 11), late(2, 22);
  for (int i = 0; i < 5000; ++i)
    a.Put(absl::StrCat("key/", i), std::string(100, 'x'), 1000);
  const size_t chunks = Exchange(late, a, 16 * 1024, 2000);
  EXPECT_GT(chunks, 20u);
  EXPECT_EQ(late.store.keys(), 5000u);
  EXPECT_EQ(late.store.seen(), a.store.seen());
}

TEST(StoreTest, ExpiredValuesGoAndTheirDotsStaySeen) {
  Replica a(1, 11);
  const HybridTime t = a.clock.Tick(absl::FromUnixMillis(1000));
  ASSERT_TRUE(a.store.Put("k", V("v"), t, false, 1500).ok());
  EXPECT_EQ(a.store.Expire(1499), 1500);
  EXPECT_NE(a.store.Winner("k"), nullptr);
  EXPECT_EQ(a.store.Expire(1500), 0);
  EXPECT_EQ(a.store.Winner("k"), nullptr);
  EXPECT_TRUE(a.store.seen().Contains(Dot{a.store.self(), 1}));
  std::vector<Change> changes = ChangesOf(a.store);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].kind, WatchEvent::Kind::kExpire);
}

TEST(StoreTest, EphemeralValuesShowOnlyWhileTheirWriterIsPresent) {
  Replica a(1, 11), b(2, 22);
  const HybridTime t = a.clock.Tick(absl::FromUnixMillis(1000));
  const Value v = V("here");
  absl::StatusOr<LocalWrite> w = a.store.Put("svc/a", v, t, /*ephemeral=*/true, 0);
  ASSERT_TRUE(w.ok());
  Delta d{.incarnation = 11};
  d.writers.push_back({a.store.self(), "a"});
  d.versions.push_back(WireVersion{.writer = 0,
                                   .counter = w->counter,
                                   .time = t,
                                   .ephemeral = true,
                                   .key = "svc/a",
                                   .value = "here"});
  b.store.ApplyDelta(d, 1000);
  EXPECT_EQ(b.store.Winner("svc/a"), nullptr);  // not yet known present
  b.store.SetPresent(1, 11, true);
  ASSERT_NE(b.store.Winner("svc/a"), nullptr);
  b.store.SetPresent(1, 0, false);
  EXPECT_EQ(b.store.Winner("svc/a"), nullptr);
  b.store.SetPresent(1, 12, true);  // another run of it: the old run's value stays hidden
  EXPECT_EQ(b.store.Winner("svc/a"), nullptr);
  b.store.SetPresent(1, 11, true);
  EXPECT_NE(b.store.Winner("svc/a"), nullptr);
  std::vector<Change> changes = ChangesOf(b.store);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[1].kind, WatchEvent::Kind::kExpire);
}

TEST(StoreTest, BoundsRefuseLocalWritesByName) {
  Replica a(1, 11);
  Store small(Writer{1, 1}, "s", {.max_keys = 2, .max_value_bytes = 4, .max_bytes = 100});
  EXPECT_EQ(small.Put("k", V("12345"), {}, false, 0).status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(small.Put("a", V("1"), {}, false, 0).ok());
  ASSERT_TRUE(small.Put("b", V("1"), {}, false, 0).ok());
  absl::Status s = small.Put("c", V("1"), {}, false, 0).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("max_keys"));
  EXPECT_TRUE(small.Put("a", V("2"), {}, false, 0).ok());  // an existing key
}

TEST(StoreTest, StoresSharingABudgetAreBoundTogetherAndGiveItBackWhenGone) {
  ByteBudget budget(100);
  const StoreBounds bounds{
      .max_keys = 100, .max_value_bytes = 100, .max_bytes = 100, .shared = &budget};
  Store a(Writer{1, 1}, "a", bounds);
  ASSERT_TRUE(a.Put("k", V(std::string(50, 'x')), {}, false, 0).ok());
  {
    Store b(Writer{2, 2}, "b", bounds);
    ASSERT_TRUE(b.Put("k", V(std::string(40, 'x')), {}, false, 0).ok());
    EXPECT_EQ(budget.used(), 92u);
    absl::Status s = b.Put("j", V(std::string(10, 'x')), {}, false, 0).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("endpoint's bound"));
  }
  EXPECT_EQ(budget.used(), 51u);
  ASSERT_TRUE(a.Delete("k"));
  EXPECT_EQ(budget.used(), 0u);
}

TEST(StoreTest, AStoreThatLeavesItsSharedBudgetGivesItsBytesBackAtOnce) {
  ByteBudget budget(100);
  const StoreBounds bounds{
      .max_keys = 100, .max_value_bytes = 100, .max_bytes = 100, .shared = &budget};
  Store a(Writer{1, 1}, "a", bounds);
  ASSERT_TRUE(a.Put("k", V(std::string(50, 'x')), {}, false, 0).ok());
  EXPECT_EQ(budget.used(), 51u);
  a.LeaveSharedBudget();  // as a model does when it is closed
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_EQ(a.bytes(), 51u);  // still its own
  ASSERT_TRUE(a.Delete("k"));
  EXPECT_EQ(budget.used(), 0u);  // given back once, not twice
}

// The reference: each write records what its replica held for the key when it wrote
// (computed here from the writes the replica had seen, not from the store), and a
// replica that has seen a set of writes holds, per key, the puts among them that no
// write among them replaced.
struct RefWrite {
  std::string key;
  std::optional<std::string> value;
  uint64_t writer = 0;
  uint64_t counter = 0;
  std::set<std::pair<uint64_t, uint64_t>> replaced;
};

std::map<std::string, std::set<std::tuple<std::string, uint64_t, uint64_t>>> RefHeld(
    const std::vector<RefWrite>& writes, const std::set<size_t>& seen) {
  std::set<std::pair<uint64_t, uint64_t>> replaced;
  for (size_t i : seen)
    replaced.insert(writes[i].replaced.begin(), writes[i].replaced.end());
  std::map<std::string, std::set<std::tuple<std::string, uint64_t, uint64_t>>> held;
  for (size_t i : seen) {
    const RefWrite& w = writes[i];
    if (w.value && !replaced.contains({w.writer, w.counter})) {
      held[w.key].emplace(*w.value, w.writer, w.counter);
    }
  }
  return held;
}

TEST(StoreTest, RandomHistoriesConvergeToTheReference) {
  const char* env = std::getenv("GLUE_TEST_SEED");
  const uint64_t base = env ? std::strtoull(env, nullptr, 10) : std::random_device()();
  std::printf("GLUE_TEST_SEED=%llu\n", static_cast<unsigned long long>(base));
  for (uint64_t run = 0; run < 40; ++run) {
    const uint64_t seed = base + run;
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937_64 random(seed);
    const size_t n = 2 + random() % 4;
    std::vector<std::unique_ptr<Replica>> replicas;
    std::vector<std::set<size_t>> seen(n);
    std::vector<int64_t> skew(n);
    for (size_t i = 0; i < n; ++i) {
      replicas.push_back(std::make_unique<Replica>(i + 1, 100 + i));
      skew[i] = static_cast<int64_t>(random() % 600'000) - 300'000;  // +-5 minutes
    }
    std::vector<RefWrite> writes;
    // In flight: (to, write index, bytes).
    std::vector<std::tuple<size_t, size_t, std::vector<uint8_t>>> flight;
    std::vector<std::string> keys;
    for (int k = 0; k < 12; ++k) keys.push_back(absl::StrCat("k/", k));
    std::vector<bool> cut(n, false);  // partitioned from all
    int64_t now = 1'000'000'000'000;
    for (int step = 0; step < 400; ++step) {
      now += 1 + random() % 50;
      const size_t r = random() % n;
      const int what = random() % 100;
      if (what < 45) {  // a put
        const std::string& key = keys[random() % keys.size()];
        const std::string value = absl::StrCat("v", step);
        RefWrite w{.key = key, .value = value, .writer = r + 1};
        const auto held = RefHeld(writes, seen[r]);
        if (auto it = held.find(key); it != held.end()) {
          for (const auto& [v, id, c] : it->second) w.replaced.emplace(id, c);
        }
        auto bytes = replicas[r]->Put(key, value, now + skew[r]);
        w.counter = replicas[r]->store.seen().Contiguous(replicas[r]->store.self());
        writes.push_back(w);
        seen[r].insert(writes.size() - 1);
        for (size_t to = 0; to < n; ++to) {
          if (to != r) flight.emplace_back(to, writes.size() - 1, bytes);
        }
      } else if (what < 60) {  // a delete
        const std::string& key = keys[random() % keys.size()];
        RefWrite w{.key = key, .writer = r + 1};
        const auto held = RefHeld(writes, seen[r]);
        if (auto it = held.find(key); it != held.end()) {
          for (const auto& [v, id, c] : it->second) w.replaced.emplace(id, c);
        }
        auto bytes = replicas[r]->Delete(key, now + skew[r]);
        ASSERT_EQ(bytes.has_value(), !w.replaced.empty());
        if (!bytes) continue;
        w.counter = replicas[r]->store.seen().Contiguous(replicas[r]->store.self());
        writes.push_back(w);
        seen[r].insert(writes.size() - 1);
        for (size_t to = 0; to < n; ++to) {
          if (to != r) flight.emplace_back(to, writes.size() - 1, *bytes);
        }
      } else if (what < 85 && !flight.empty()) {  // a delivery, in any order, or a loss
        const size_t i = random() % flight.size();
        auto [to, index, bytes] = flight[i];
        flight.erase(flight.begin() + i);
        const size_t from = writes[index].writer - 1;
        if (cut[to] || cut[from] || random() % 10 == 0) continue;  // lost
        replicas[to]->Receive(bytes, now + skew[to]);
        seen[to].insert(index);
      } else if (what < 92) {  // a partition starts or heals
        cut[r] = !cut[r];
      } else {  // an exchange of summaries between two connected replicas
        const size_t other = random() % n;
        if (other == r || cut[r] || cut[other]) continue;
        Exchange(*replicas[r], *replicas[other], 1 + random() % 400, now + skew[r]);
        // After it, r has seen what other had (what the reference says other holds
        // is what it shows).
        seen[r].insert(seen[other].begin(), seen[other].end());
        EXPECT_EQ(Shown(replicas[r]->store, keys), RefHeld(writes, seen[r]));
      }
      ASSERT_EQ(Shown(replicas[r]->store, keys), RefHeld(writes, seen[r]))
          << "replica " << r << " at step " << step;
    }
    // Heal everything; exchange all pairs both ways.
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) {
        if (i != j) Exchange(*replicas[i], *replicas[j], 256, now);
      }
    }
    std::set<size_t> all;
    for (size_t i = 0; i < writes.size(); ++i) all.insert(i);
    const auto expected = RefHeld(writes, all);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(Shown(replicas[i]->store, keys), expected) << "replica " << i;
      EXPECT_EQ(replicas[i]->store.seen(), replicas[0]->store.seen());
      for (const std::string& k : keys) {
        const StoredVersion* a = replicas[i]->store.Winner(k);
        const StoredVersion* b = replicas[0]->store.Winner(k);
        ASSERT_EQ(a == nullptr, b == nullptr);
        if (a != nullptr) {
          EXPECT_EQ(*a->value, *b->value);
        }
      }
    }
  }
}

// Revisions of the log's changes, oldest first.
std::vector<uint64_t> RevisionsOf(const ChangeLog& log) {
  std::vector<uint64_t> out;
  for (size_t i = 0; i < log.size(); ++i) out.push_back(log[i].revision);
  return out;
}

TEST(ChangeLogTest, KeepsTheLatestOncePublished) {
  ChangeLog log(3);
  for (uint64_t r = 1; r <= 5; ++r) log.Add(r).key = absl::StrCat("k", r);
  EXPECT_EQ(RevisionsOf(log), (std::vector<uint64_t>{1, 2, 3, 4, 5}));  // unpublished
  log.Published();
  EXPECT_EQ(log.published(), 5u);
  EXPECT_EQ(RevisionsOf(log), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(log[0].key, "k3");
  for (uint64_t r = 6; r <= 7; ++r) log.Add(r);
  log.Published();
  EXPECT_EQ(RevisionsOf(log), (std::vector<uint64_t>{5, 6, 7}));
  EXPECT_EQ(log.IndexAfter(4), 0u);
  EXPECT_EQ(log.IndexAfter(5), 1u);
  EXPECT_EQ(log.IndexAfter(7), 3u);
}

// A batch larger than what the log keeps reaches the watches whole: nothing
// unpublished is overwritten; the log then goes back to its size.
TEST(ChangeLogTest, GrowsForAnUnpublishedBatchAndReleasesItAfter) {
  ChangeLog log(4);
  const Value value("v");
  for (uint64_t r = 1; r <= 1000; ++r) {
    Change& c = log.Add(r);
    c.after = StoredVersion{.counter = r, .value = value};
  }
  ASSERT_EQ(log.size(), 1000u);
  for (size_t i = 0; i < log.size(); ++i) EXPECT_EQ(log[i].revision, i + 1);
  log.Published();
  EXPECT_EQ(RevisionsOf(log), (std::vector<uint64_t>{997, 998, 999, 1000}));
  for (uint64_t r = 1001; r <= 1010; ++r) log.Add(r);  // slots reused after shrinking
  log.Published();
  EXPECT_EQ(RevisionsOf(log), (std::vector<uint64_t>{1007, 1008, 1009, 1010}));
}

TEST(ChangeLogTest, ClearForgetsEverything) {
  ChangeLog log(8);
  for (uint64_t r = 1; r <= 3; ++r) log.Add(r);
  log.Clear();
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(log.published(), 3u);
  log.Add(4);
  EXPECT_EQ(RevisionsOf(log), (std::vector<uint64_t>{4}));
}

// A store's watches see every change of a delta larger than the log keeps.
TEST(StoreTest, ADeltaOfMoreChangesThanTheLogKeepsIsRecordedWhole) {
  Store store(Writer{1, 1}, "s", kBounds, /*keep_changes=*/16);
  Delta d{.incarnation = 2};
  d.writers.push_back({Writer{2, 2}, "peer"});
  std::vector<std::string> keys;
  for (uint64_t i = 1; i <= 100; ++i) keys.push_back(absl::StrCat("k/", i));
  for (uint64_t i = 1; i <= 100; ++i) {
    d.versions.push_back(WireVersion{.writer = 0,
                                     .counter = i,
                                     .time = HybridTime::Of(1000, 0),
                                     .key = keys[i - 1],
                                     .value = "v"});
  }
  store.ApplyDelta(d, 1000);
  ASSERT_EQ(store.changes().size(), 100u);
  EXPECT_EQ(store.changes()[0].key, "k/1");
  EXPECT_EQ(store.changes()[99].key, "k/100");
  store.Published();
  EXPECT_EQ(store.changes().size(), 16u);
  EXPECT_EQ(store.changes()[0].revision, 85u);
}

}  // namespace
}  // namespace glue::model::internal

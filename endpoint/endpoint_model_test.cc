// The model layer through the Endpoint: replicas on the simulated network (and on
// real loopback sockets), with their own threads.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "endpoint/endpoint_test.pb.h"
#include "endpoint/endpoint_test_fixture.h"
#include "glue/endpoint/endpoint.h"
#include "gmock/gmock.h"

namespace glue {
namespace {

using ::glue::testing::StatusIs;
using ::testing::HasSubstr;

// Contents lists a model's entries as key=value.
std::vector<std::string> Contents(const model::Model& m) {
  std::vector<std::string> out;
  absl::StatusOr<model::ModelSnapshot> s = m.Snapshot("#");
  if (!s.ok()) return {s.status().ToString()};
  for (const model::Entry& e : s->entries)
    out.push_back(absl::StrCat(e.key, "=", *e.value));
  return out;
}

bool Same(const std::vector<const model::Model*>& models) {
  const std::vector<std::string> first = Contents(*models.front());
  for (const model::Model* m : models) {
    if (Contents(*m) != first) return false;
  }
  return true;
}

class EndpointModelTest : public EndpointTest {
 protected:
  // OpenTwo starts endpoints 1 and 2 with model `name` open on both, and waits until
  // each model knows the other.
  void OpenTwo(absl::string_view name) {
    a_ = Make(1, &peers_a_, absl::Seconds(2), 0, &removed_a_);
    b_ = Make(2, &peers_b_, absl::Seconds(2), 0, &removed_b_);
    ASSERT_TRUE(a_ && b_);
    absl::StatusOr<std::unique_ptr<model::Model>> ma = a_->OpenModel(name);
    absl::StatusOr<std::unique_ptr<model::Model>> mb = b_->OpenModel(name);
    ASSERT_OK(ma);
    ASSERT_OK(mb);
    ma_ = *std::move(ma);
    mb_ = *std::move(mb);
    ASSERT_TRUE(Eventually([&] { return ma_->replicas() == 1 && mb_->replicas() == 1; }));
  }

  Inbox peers_a_, peers_b_, removed_a_, removed_b_;
  std::unique_ptr<Endpoint> a_, b_;
  std::unique_ptr<model::Model> ma_, mb_;  // closed before the endpoints stop
};

TEST_F(EndpointModelTest, TwoEndpointsShareAModelAndALateJoinerGetsEveryKey) {
  Inbox peers_a, peers_b, peers_c;
  std::unique_ptr<Endpoint> a = Make(1, &peers_a);
  std::unique_ptr<Endpoint> b = Make(2, &peers_b);
  ASSERT_TRUE(a && b);
  auto ma = a->OpenModel("config");
  auto mb = b->OpenModel("config");
  ASSERT_OK(ma);
  ASSERT_OK(mb);
  EXPECT_THAT(a->OpenModel("config"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(a->OpenModel("bad/name"), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_TRUE(peers_a.WaitFor(1) && peers_b.WaitFor(1));
  ASSERT_OK((*ma)->Put("app/web/port", "8080"));
  ASSERT_TRUE(Eventually([&] { return (*mb)->Get("app/web/port").ok(); }));
  absl::StatusOr<model::Entry> e = (*mb)->Get("app/web/port");
  EXPECT_EQ(*e->value, "8080");
  EXPECT_EQ(e->writer_name, "endpoint-1");
  EXPECT_EQ(e->version.writer.endpoint_id, 1u);
  // Many keys, then a late joiner.
  for (int i = 0; i < 2000; ++i) {
    ASSERT_OK((*mb)->Put(absl::StrCat("k/", i), std::string(100, 'x')));
  }
  ASSERT_OK((*ma)->Delete("app/web/port"));
  std::unique_ptr<Endpoint> c = Make(3, &peers_c);
  ASSERT_TRUE(c);
  auto mc = c->OpenModel("config");
  ASSERT_OK(mc);
  ASSERT_TRUE(Eventually([&] { return Same({ma->get(), mb->get(), mc->get()}); }));
  EXPECT_EQ(Contents(**mc).size(), 2000u);
  EXPECT_THAT((*mc)->Get("app/web/port"), StatusIs(absl::StatusCode::kNotFound));
  // Sync answers once every present replica answered.
  ASSERT_OK((*mc)->Sync(absl::Now() + kWait));
  // Models of different names are independent.
  auto other = a->OpenModel("other");
  ASSERT_OK(other);
  EXPECT_TRUE(Contents(**other).empty());
}

TEST_F(EndpointModelTest, TheTypedFormCarriesProtocolBuffersMessages) {
  OpenTwo("typed");
  test::Reading reading;
  reading.set_sensor("kitchen");
  reading.set_celsius(21.5);
  ASSERT_OK(ma_->PutMessage("sensors/kitchen", reading));
  ASSERT_OK(ma_->Put("sensors/garbage", std::string("\xff\xff\xff", 3)));
  ASSERT_TRUE(Eventually([&] { return mb_->counters().keys == 2; }));
  absl::StatusOr<test::Reading> got = mb_->GetMessage<test::Reading>("sensors/kitchen");
  ASSERT_OK(got);
  EXPECT_EQ(got->sensor(), "kitchen");
  EXPECT_EQ(got->celsius(), 21.5);
  EXPECT_THAT(mb_->GetMessage<test::Reading>("sensors/garbage"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("glue.test.Reading")));
  EXPECT_THAT(mb_->GetMessage<test::Reading>("sensors/none"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(EndpointModelTest, TheModelsOfAnEndpointShareItsBound) {
  max_model_bytes_ = 1000;
  Inbox peers;
  std::unique_ptr<Endpoint> a = Make(1, &peers);
  ASSERT_TRUE(a);
  auto one = a->OpenModel("one");
  auto two = a->OpenModel("two");
  ASSERT_OK(one);
  ASSERT_OK(two);
  ASSERT_OK((*one)->Put("k", std::string(600, 'x')));
  EXPECT_THAT(
      (*two)->Put("k", std::string(600, 'x')),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("endpoint's bound")));
  one->reset();  // what it held is given back
  ASSERT_OK((*two)->Put("k", std::string(600, 'x')));
}

TEST_F(EndpointModelTest, PutWaitsForReplicasOrSaysHowManyHeldIt) {
  OpenTwo("m");
  ASSERT_OK(ma_->Sync(absl::Now() + kWait));
  ASSERT_OK(
      ma_->Put("k", "v", {.wait_for_replicas = 1, .deadline = absl::Now() + kWait}));
  EXPECT_EQ(*mb_->Get("k")->value, "v");  // held there before Put returned
  absl::Status two = ma_->Put(
      "k", "w",
      {.wait_for_replicas = 2, .deadline = absl::Now() + absl::Milliseconds(300)});
  EXPECT_THAT(two, StatusIs(absl::StatusCode::kDeadlineExceeded,
                            HasSubstr("held by 1 other replica(s) of 2")));
}

TEST_F(EndpointModelTest, DeleteWaitsForReplicasOrSaysHowManyHeldIt) {
  OpenTwo("m");
  ASSERT_OK(ma_->Sync(absl::Now() + kWait));
  ASSERT_OK(
      ma_->Put("k", "v", {.wait_for_replicas = 1, .deadline = absl::Now() + kWait}));
  ASSERT_OK(ma_->Delete("k", {.wait_for_replicas = 1, .deadline = absl::Now() + kWait}));
  EXPECT_THAT(mb_->Get("k"), StatusIs(absl::StatusCode::kNotFound));  // gone there too
  ASSERT_OK(
      ma_->Put("j", "v", {.wait_for_replicas = 1, .deadline = absl::Now() + kWait}));
  EXPECT_THAT(ma_->Delete("j", {.wait_for_replicas = 2,
                                .deadline = absl::Now() + absl::Milliseconds(300)}),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("delete of 'j' is held by 1 other replica(s) of 2")));
  EXPECT_THAT(ma_->Get("j"), StatusIs(absl::StatusCode::kNotFound));  // stands anyway
}

TEST_F(EndpointModelTest, WatchAfterSnapshotMissesNothingAndRepeatsNothing) {
  OpenTwo("m");
  // b writes all along; a takes a snapshot in the middle, and watches from it.
  std::thread writer([&] {
    for (int i = 0; i < 500; ++i) {
      ASSERT_OK(mb_->Put(absl::StrCat("n/", i % 50), absl::StrCat(i)));
    }
  });
  ASSERT_TRUE(Eventually([&] { return ma_->revision() > 0; }));
  absl::StatusOr<model::ModelSnapshot> snapshot = ma_->Snapshot("n/#");
  ASSERT_OK(snapshot);
  std::map<std::string, std::string> view;
  for (const model::Entry& e : snapshot->entries)
    view[e.key] = std::string(e.value.view());
  Mutex mu;
  uint64_t last_revision = snapshot->revision;
  bool in_order = true;
  ASSERT_OK(ma_->Watch(
      "n/#",
      [&](const model::WatchEvent& e) {
        MutexLock lock(&mu);
        in_order &= e.revision > last_revision;
        last_revision = e.revision;
        if (e.new_entry) {
          view[e.key] = std::string(e.new_entry->value.view());
        } else {
          view.erase(e.key);
        }
      },
      snapshot->revision));
  writer.join();
  // The view built from the snapshot and the events is the model's, key by key.
  ASSERT_TRUE(Eventually([&] {
    MutexLock lock(&mu);
    std::map<std::string, std::string> now;
    const absl::StatusOr<model::ModelSnapshot> current = ma_->Snapshot("n/#");
    for (const model::Entry& e : current->entries)
      now[e.key] = std::string(e.value.view());
    return now == view && now.size() == 50 && now["n/49"] == "499";
  }));
  MutexLock lock(&mu);
  EXPECT_TRUE(in_order);
}

TEST_F(EndpointModelTest, AnEphemeralKeyGoesWithItsWriterAndComesBackAfterAPartition) {
  faults_ = true;
  OpenTwo("svc");
  ASSERT_OK(ma_->Put("svc/a", "alive", {.ephemeral = true}));
  ASSERT_OK(ma_->Put("svc/config", "kept"));
  // Both puts may travel apart: b has both before the cut.
  ASSERT_TRUE(
      Eventually([&] { return mb_->Get("svc/a").ok() && mb_->Get("svc/config").ok(); }));
  EXPECT_TRUE(mb_->Get("svc/a")->ephemeral);
  // Cut off: b's discovery removes a, and with it a's ephemeral key, not the other.
  ASSERT_OK(a_->SetFaults({.partitioned = true}));
  ASSERT_TRUE(removed_b_.WaitFor(1));
  ASSERT_TRUE(Eventually([&] { return !mb_->Get("svc/a").ok(); }));
  EXPECT_TRUE(mb_->Get("svc/config").ok());
  // Meanwhile, changes on both sides.
  ASSERT_OK(ma_->Put("during/a", "1"));
  ASSERT_OK(mb_->Put("during/b", "2"));
  ASSERT_OK(mb_->Delete("svc/config"));
  ASSERT_OK(a_->SetFaults({}));
  ASSERT_TRUE(Eventually([&] { return Same({ma_.get(), mb_.get()}); }));
  EXPECT_EQ(*mb_->Get("svc/a")->value, "alive");
  EXPECT_THAT(ma_->Get("svc/config"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(ma_->Get("during/b").ok());
  // Closed (as when its endpoint stops), the writer's ephemeral key goes everywhere,
  // and it is no longer counted as a replica.
  ma_->Close();
  ASSERT_TRUE(Eventually([&] { return !mb_->Get("svc/a").ok(); }));
  ASSERT_TRUE(Eventually([&] { return mb_->replicas() == 0; }));
  EXPECT_OK(mb_->Sync(absl::Now() + kWait));
  EXPECT_TRUE(mb_->Get("during/a").ok());
  EXPECT_THAT(ma_->Put("x", "y"), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(EndpointModelTest, ConcurrentWritesLeaveTheSameWinnerAndSiblingsEverywhere) {
  faults_ = true;
  OpenTwo("m");
  ASSERT_OK(a_->SetFaults({.partitioned = true}));
  ASSERT_TRUE(removed_a_.WaitFor(1) && removed_b_.WaitFor(1));
  ASSERT_OK(ma_->Put("k", "from a"));
  ASSERT_OK(mb_->Put("k", "from b"));
  ASSERT_OK(a_->SetFaults({}));
  ASSERT_TRUE(Eventually(
      [&] { return ma_->Siblings("k").size() == 2 && mb_->Siblings("k").size() == 2; }));
  EXPECT_EQ(*ma_->Get("k")->value, *mb_->Get("k")->value);
  EXPECT_EQ(ma_->Get("k")->siblings, 1u);
  // A write after seeing both replaces both.
  ASSERT_OK(mb_->Put("k", "merged"));
  ASSERT_TRUE(Eventually([&] { return ma_->Siblings("k").size() == 1; }));
  EXPECT_EQ(*ma_->Get("k")->value, "merged");
}

TEST_F(EndpointModelTest, AValueWithATimeToLiveExpiresOnEveryReplica) {
  OpenTwo("m");
  ASSERT_OK(ma_->Put("lease", "v", {.time_to_live = absl::Milliseconds(300)}));
  ASSERT_TRUE(Eventually([&] { return mb_->Get("lease").ok(); }));
  ASSERT_TRUE(
      Eventually([&] { return !ma_->Get("lease").ok() && !mb_->Get("lease").ok(); }));
  EXPECT_EQ(mb_->counters().expired, 1u);
}

std::string TempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "endpoint_model_XXXXXX").string();
  EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
  return pattern;
}

TEST_F(EndpointModelTest, ARestartedReplicaServesItsStateFromItsFileBeforeAnyPeer) {
  model_root_ = TempDir();
  Inbox peers;
  {
    std::unique_ptr<Endpoint> a = Make(1, &peers);
    ASSERT_TRUE(a);
    absl::StatusOr<std::unique_ptr<model::Model>> m = a->OpenModel("kept");
    ASSERT_OK(m);
    for (int i = 0; i < 1000; ++i) ASSERT_OK((*m)->Put(absl::StrCat("k/", i), "v"));
    ASSERT_OK((*m)->Delete("k/7"));
    ASSERT_OK((*m)->Put("lease", "short", {.time_to_live = absl::Milliseconds(1)}));
    ASSERT_OK((*m)->Put("mine", "while I run", {.ephemeral = true}));
    ASSERT_OK((*m)->Sync(absl::Now() + kWait));  // the pending writes go out first
    // A second opener of the same file is refused, naming it.
    EXPECT_THAT(a->OpenModel("kept"),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in use")));
  }
  // The lease's time to live counts from when its record was written, before the
  // endpoint closed: it is over once 1 ms has passed since. A restart quicker than
  // that (it takes about 1 ms) would rightly find it alive, so the time passes first.
  absl::SleepFor(absl::Milliseconds(2));
  std::unique_ptr<Endpoint> again = Make(1, &peers);
  ASSERT_TRUE(again);
  absl::StatusOr<std::unique_ptr<model::Model>> m = again->OpenModel("kept");
  ASSERT_OK(m);
  // At once: no peer exists to answer.
  EXPECT_EQ(*(*m)->Get("k/999")->value, "v");
  EXPECT_THAT((*m)->Get("k/7"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT((*m)->Get("lease"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT((*m)->Get("mine"), StatusIs(absl::StatusCode::kNotFound));  // went with it
  EXPECT_EQ((*m)->counters().keys, 999u);
  EXPECT_GT((*m)->counters().file_records_loaded, 0u);
}

TEST_F(EndpointModelTest, ADamagedFileIsReportedAndRepairedFromPeers) {
  model_root_ = TempDir();
  OpenTwo("m");
  for (int i = 0; i < 3000; ++i) {
    ASSERT_OK(ma_->Put(absl::StrCat("k/", i), std::string(50, 'x')));
  }
  ASSERT_TRUE(Eventually([&] { return mb_->counters().keys == 3000; }));
  // a stops; its file is damaged in the middle; it comes back.
  ma_.reset();
  a_.reset();
  const std::string path = model_root_ + "/endpoint-1/m.model";
  const auto size = std::filesystem::file_size(path);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.put('\xff');
    f.put('\x00');
  }
  a_ = Make(1, &peers_a_);
  ASSERT_TRUE(a_);
  absl::StatusOr<std::unique_ptr<model::Model>> m = a_->OpenModel("m");
  ASSERT_OK(m);
  ma_ = *std::move(m);
  EXPECT_EQ(ma_->counters().file_damaged, 1u);
  EXPECT_LT(ma_->counters().keys, 3000u);
  ASSERT_TRUE(Eventually([&] { return ma_->counters().keys == 3000; }));
  ASSERT_TRUE(Eventually([&] { return Same({ma_.get(), mb_.get()}); }));
}

TEST_F(EndpointModelTest, AKeyDeletedWhileAReplicaWasDownStaysDeletedWhenItReturns) {
  model_root_ = TempDir();
  OpenTwo("m");
  for (int i = 0; i < 100; ++i) ASSERT_OK(ma_->Put(absl::StrCat("k/", i), "v"));
  ASSERT_TRUE(Eventually([&] { return mb_->counters().keys == 100; }));
  mb_.reset();
  b_.reset();
  ASSERT_OK(ma_->Delete("k/5"));
  ASSERT_OK(ma_->Put("k/6", "changed"));
  b_ = Make(2, &peers_b_);
  ASSERT_TRUE(b_);
  absl::StatusOr<std::unique_ptr<model::Model>> m = b_->OpenModel("m");
  ASSERT_OK(m);
  mb_ = *std::move(m);
  EXPECT_TRUE(mb_->Get("k/5").ok());  // from its file, as it was
  ASSERT_TRUE(Eventually([&] { return Same({ma_.get(), mb_.get()}); }));
  EXPECT_THAT(ma_->Get("k/5"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(*mb_->Get("k/6")->value, "changed");
}

TEST_F(EndpointLoopbackTest, ModelsConvergeOverLoopbackSocketsWithLoss) {
  faults_ = true;
  Inbox peers[3];
  std::vector<std::unique_ptr<Endpoint>> endpoints;
  std::vector<std::unique_ptr<model::Model>> models;
  for (int i = 0; i < 3; ++i) {
    endpoints.push_back(Make(i + 1, &peers[i]));
    ASSERT_TRUE(endpoints.back());
    ASSERT_OK(endpoints.back()->SetFaults({.drop = 0.2, .duplicate = 0.05}));
    auto m = endpoints.back()->OpenModel("lossy");
    ASSERT_OK(m);
    models.push_back(*std::move(m));
  }
  for (int i = 0; i < 300; ++i) {
    ASSERT_OK(models[i % 3]->Put(absl::StrCat("k/", i % 40), absl::StrCat(i)));
    if (i % 7 == 0)
      models[(i + 1) % 3]->Delete(absl::StrCat("k/", (i + 3) % 40)).IgnoreError();
  }
  ASSERT_TRUE(Eventually([&] {
    return Same({models[0].get(), models[1].get(), models[2].get()});
  }));
}

}  // namespace
}  // namespace glue

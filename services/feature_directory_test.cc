// The feature directory over endpoints on the simulated network, each with its own
// configuration directory and state tree, as hosts have.
#include "glue/services/feature_directory.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "endpoint/endpoint_test_fixture.h"
#include "glue/endpoint/endpoint.h"
#include "gmock/gmock.h"

namespace glue::services {
namespace {

namespace fs = std::filesystem;
using ::glue::testing::StatusIs;
using ::testing::HasSubstr;

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

TEST(FeatureNames, AreLettersDigitsDashesAndUnderscores) {
  EXPECT_OK(ValidateFeatureName("web-server_2"));
  EXPECT_THAT(ValidateFeatureName(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateFeatureName("a.json"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateFeatureName(".swp"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateFeatureName(std::string(kMaxFeatureNameBytes + 1, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(ValidateHostName("web-1.example"));
  EXPECT_THAT(ValidateHostName(".."), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateHostName("a/b"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                HasSubstr("GLUE_ENDPOINT_NAME")));
}

TEST(FeatureJson, IsValidatedAndAFaultIsPlaced) {
  EXPECT_OK(ValidateJson(R"({"port": 5432, "tags": ["a"]})"));
  EXPECT_OK(ValidateJson("true"));
  EXPECT_THAT(ValidateJson("{\"port\": }"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     HasSubstr("line 1, column 10")));
  EXPECT_THAT(ValidateJson(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

class FeatureDirectoryTest : public EndpointTest {
 protected:
  struct Host {
    Inbox peers;
    std::unique_ptr<Endpoint> endpoint;
    std::unique_ptr<model::Model> model;
    std::unique_ptr<FeatureDirectory> directory;
    fs::path config, state;
  };

  void SetUp() override {
    EndpointTest::SetUp();
    std::string root = (fs::temp_directory_path() / "glue-features-XXXXXX").string();
    ASSERT_NE(::mkdtemp(root.data()), nullptr);
    root_ = root;
  }
  void TearDown() override {
    for (Host& h : hosts_) Stop(h);
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  // Add starts host `id` (endpoint-ID), its model and its directory service.
  Host& Add(uint64_t id, FeatureDirectoryOptions options = {}) {
    Host& h = hosts_[id - 1];
    h.config = root_ / absl::StrCat("config-", id);
    h.state = root_ / absl::StrCat("state-", id);
    fs::create_directories(h.config);
    h.endpoint = Make(id, &h.peers);
    EXPECT_TRUE(h.endpoint);
    absl::StatusOr<std::unique_ptr<model::Model>> m = h.endpoint->OpenModel("features");
    EXPECT_OK(m);
    h.model = *std::move(m);
    options.config_dir = h.config.string();
    options.state_dir = h.state.string();
    options.host = absl::StrCat("endpoint-", id);
    absl::StatusOr<std::unique_ptr<FeatureDirectory>> d =
        FeatureDirectory::Start(*h.model, options);
    EXPECT_OK(d);
    if (d.ok()) h.directory = *std::move(d);
    return h;
  }
  void Stop(Host& h) {
    h.directory.reset();
    h.model.reset();
    if (h.endpoint) h.endpoint->Stop();
  }
  static void Write(const Host& h, const std::string& name, const std::string& content) {
    ASSERT_OK(WriteFileAtomically((h.config / name).string(), content));
  }
  // TreeHolds waits until `h`'s tree shows `content` for FEATURE/HOST (nullopt: no
  // such file).
  static bool TreeHolds(const Host& h, const std::string& feature,
                        const std::string& host, std::optional<std::string> content) {
    return Eventually(
        [&] { return ReadFile(h.state / "features" / feature / host) == content; });
  }

  fs::path root_;
  Host hosts_[3];
};

TEST_F(FeatureDirectoryTest, AFileAppearsInEveryTreeChangesAndGoes) {
  Host& a = Add(1);
  Host& b = Add(2);
  ASSERT_TRUE(
      Eventually([&] { return a.model->replicas() == 1 && b.model->replicas() == 1; }));
  Write(a, "db", R"({"port":5432})");
  EXPECT_TRUE(TreeHolds(b, "db", "endpoint-1", R"({"port":5432})"));
  EXPECT_TRUE(TreeHolds(a, "db", "endpoint-1", R"({"port":5432})"));  // its own too
  Write(a, "db", R"({"port":5433})");
  EXPECT_TRUE(TreeHolds(b, "db", "endpoint-1", R"({"port":5433})"));
  Write(b, "db", R"({"port":1})");  // two hosts of one feature
  EXPECT_TRUE(TreeHolds(a, "db", "endpoint-2", R"({"port":1})"));
  fs::remove(a.config / "db");
  EXPECT_TRUE(TreeHolds(b, "db", "endpoint-1", std::nullopt));
  EXPECT_TRUE(TreeHolds(b, "db", "endpoint-2", R"({"port":1})"));
  fs::remove(b.config / "db");
  EXPECT_TRUE(TreeHolds(a, "db", "endpoint-2", std::nullopt));
  // The feature's directory goes with its last host.
  EXPECT_TRUE(Eventually([&] { return !fs::exists(a.state / "features" / "db"); }));
  EXPECT_EQ(a.directory->counters().published, 2u);
  EXPECT_EQ(a.directory->counters().withdrawn, 1u);
  // Only renames into place: no temporary is left anywhere in the tree.
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(b.state)) {
    EXPECT_FALSE(e.is_regular_file() && e.path().parent_path().filename() == ".tmp")
        << e.path();
  }
}

TEST_F(FeatureDirectoryTest, InvalidJsonIsReportedAndTheLastGoodValueStays) {
  Host& a = Add(1);
  Host& b = Add(2);
  ASSERT_TRUE(Eventually([&] { return b.model->replicas() == 1; }));
  Write(a, "db", R"({"port":5432})");
  ASSERT_TRUE(TreeHolds(b, "db", "endpoint-1", R"({"port":5432})"));
  Write(a, "db", R"({"port":)");
  a.directory->Rescan();  // what the thread does on the change, here at once
  EXPECT_EQ(a.directory->counters().invalid_files, 1u);
  EXPECT_EQ(a.directory->counters().published, 1u);  // nothing new went out
  EXPECT_EQ(a.directory->counters().withdrawn, 0u);  // nor was it withdrawn
  // A bad file with no good value before is left out.
  Write(a, "cache", "not json");
  a.directory->Rescan();
  EXPECT_EQ(a.directory->counters().invalid_files, 2u);
  EXPECT_EQ(a.directory->counters().features, 1u);
  // Mended, it goes out.
  Write(a, "db", R"({"port":5434})");
  EXPECT_TRUE(TreeHolds(b, "db", "endpoint-1", R"({"port":5434})"));
  EXPECT_EQ(ReadFile(b.state / "features" / "cache" / "endpoint-1"), std::nullopt);
}

TEST_F(FeatureDirectoryTest, FilesThatAreNotFeaturesAreSkippedAndBoundsHold) {
  // Before the service starts, so that its thread sees none of the writes' temporaries.
  const fs::path config = root_ / "config-1";
  fs::create_directories(config / "dir");
  for (const auto& [name, content] : {std::pair{".db.swp", "{}"},
                                      {"db.json", "{}"},
                                      {"a", "1"},
                                      {"b", "2"},
                                      {"c", "3"}}) {
    ASSERT_OK(WriteFileAtomically((config / name).string(), content));
  }
  Host& a = Add(1, {.max_feature_bytes = 16, .max_features = 2});
  FeatureDirectoryCounters c = a.directory->counters();
  EXPECT_EQ(c.features, 2u);
  EXPECT_EQ(c.skipped_files, 3u);  // .db.swp, db.json, and c beyond max_features
  fs::remove(a.config / "c");
  fs::remove(a.config / "b");
  Write(a, "big", R"({"text":"more than sixteen bytes"})");  // beyond max_feature_bytes
  a.directory->Rescan();
  c = a.directory->counters();
  EXPECT_EQ(c.features, 1u);
  EXPECT_EQ(c.invalid_files, 1u);
  a.directory->RewriteTree();
  EXPECT_EQ(ReadFile(a.state / "features" / "a" / "endpoint-1"), "1");
  EXPECT_FALSE(fs::exists(a.state / "features" / "big"));
}

TEST_F(FeatureDirectoryTest, AHostThatStopsLeavesEveryTree) {
  Host& a = Add(1);
  Host& b = Add(2);
  ASSERT_TRUE(Eventually([&] { return a.model->replicas() == 1; }));
  Write(b, "web", R"({"url":"http://b/"})");
  ASSERT_TRUE(TreeHolds(a, "web", "endpoint-2", R"({"url":"http://b/"})"));
  Stop(b);
  EXPECT_TRUE(TreeHolds(a, "web", "endpoint-2", std::nullopt));
}

TEST_F(FeatureDirectoryTest, WhatAnEarlierRunLeftInTheTreeIsRemoved) {
  const fs::path state = root_ / "state-1";
  fs::create_directories(state / "features" / "old");
  ASSERT_OK(WriteFileAtomically((state / "features" / "old" / "ghost").string(), "{}"));
  Host& a = Add(1);
  EXPECT_FALSE(fs::exists(state / "features" / "old"));
  EXPECT_EQ(a.directory->counters().tree_removals, 1u);
}

TEST_F(FeatureDirectoryTest, StartRefusesWhatItCannotServe) {
  Inbox peers;
  std::unique_ptr<Endpoint> e = Make(1, &peers);
  ASSERT_TRUE(e);
  absl::StatusOr<std::unique_ptr<model::Model>> m = e->OpenModel("features");
  ASSERT_OK(m);
  EXPECT_THAT(FeatureDirectory::Start(**m, {.config_dir = (root_ / "none").string(),
                                            .state_dir = (root_ / "s").string(),
                                            .host = "h"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not one")));
  EXPECT_THAT(FeatureDirectory::Start(
                  **m, {.config_dir = root_.string(), .state_dir = "", .host = "a/b"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("host name")));
}

}  // namespace
}  // namespace glue::services

#include "model/model_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "glue/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::model::internal {
namespace {

using ::glue::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using Records = std::vector<std::pair<std::string, int64_t>>;

std::string TempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "model_file_XXXXXX").string();
  EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
  return pattern;
}

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

absl::StatusOr<std::unique_ptr<ModelFile>> OpenReading(const std::string& path,
                                                       Records* records,
                                                       ModelFile::LoadReport* report) {
  return ModelFile::Open(
      path,
      [records](absl::Span<const uint8_t> payload, int64_t at) {
        records->emplace_back(std::string(payload.begin(), payload.end()), at);
      },
      report);
}

TEST(ModelFileTest, RecordsComeBackInOrderAfterAppendsAndRewrites) {
  const std::string path = TempDir() + "/sub/m.model";  // the directory is made
  {
    Records records;
    ModelFile::LoadReport report;
    auto file = OpenReading(path, &records, &report);
    ASSERT_OK(file);
    EXPECT_THAT(records, IsEmpty());
    ASSERT_OK((*file)->Append(Bytes("one"), 1));
    ASSERT_OK((*file)->Append(Bytes("two"), 2));
    ASSERT_OK((*file)->Sync());
  }
  Records records;
  ModelFile::LoadReport report;
  auto file = OpenReading(path, &records, &report);
  ASSERT_OK(file);
  EXPECT_EQ(records, (Records{{"one", 1}, {"two", 2}}));
  EXPECT_TRUE(report.problem.empty());
  EXPECT_EQ(report.records, 2u);
  // A second opener, in this process or another, is refused while it is open.
  Records ignored;
  ModelFile::LoadReport ignored_report;
  EXPECT_THAT(OpenReading(path, &ignored, &ignored_report),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in use")));
  ASSERT_OK((*file)->Rewrite([](const auto& emit) { emit(Bytes("all"), 3); }));
  ASSERT_OK((*file)->Append(Bytes("after"), 4));
  file->reset();
  records.clear();
  ASSERT_OK(OpenReading(path, &records, &report));
  EXPECT_EQ(records, (Records{{"all", 3}, {"after", 4}}));
}

TEST(ModelFileTest, ATruncatedOrCorruptFileGivesWhatCameBeforeTheDamage) {
  const std::string path = TempDir() + "/m.model";
  {
    Records records;
    ModelFile::LoadReport report;
    auto file = OpenReading(path, &records, &report);
    ASSERT_OK(file);
    for (int i = 0; i < 3; ++i)
      ASSERT_OK((*file)->Append(Bytes(std::string(100, 'a' + i)), i));
  }
  const size_t size = std::filesystem::file_size(path);
  // Truncated in the last record.
  std::filesystem::resize_file(path, size - 10);
  Records records;
  ModelFile::LoadReport report;
  ASSERT_OK(OpenReading(path, &records, &report));
  EXPECT_EQ(records.size(), 2u);
  EXPECT_THAT(report.problem, HasSubstr("truncated"));
  // A byte flipped in the second record's payload: only the first comes back.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8 + 16 + 100 + 16 + 50);
    f.put('X');
  }
  records.clear();
  ASSERT_OK(OpenReading(path, &records, &report));
  EXPECT_EQ(records.size(), 1u);
  EXPECT_THAT(report.problem, HasSubstr("checksum"));
}

TEST(ModelFileTest, AFileOfAnotherFormatIsLeftAlone) {
  const std::string path = TempDir() + "/m.model";
  const std::string precious = "precious data of something else";
  std::ofstream(path) << precious;
  Records records;
  ModelFile::LoadReport report;
  EXPECT_THAT(OpenReading(path, &records, &report),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not a model file")));
  EXPECT_EQ(std::filesystem::file_size(path), precious.size());
}

}  // namespace
}  // namespace glue::model::internal

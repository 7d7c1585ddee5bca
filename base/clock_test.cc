#include "glue/base/clock.h"

#include <boost/asio/io_context.hpp>
#include <vector>

#include "glue/base/run_until.h"
#include "glue/base/simulated_clock.h"
#include "gtest/gtest.h"

namespace glue {
namespace {

using ::glue::testing::RunSimulatedFor;
using ::glue::testing::RunSimulatedUntil;
using ::glue::testing::SimulatedClock;

TEST(SystemClock, AnAlarmRunsItsCallbackOnceItsDeadlineHasPassed) {
  boost::asio::io_context io;
  Clock& clock = SystemClock();
  absl::Time ran_at = absl::InfinitePast();
  std::unique_ptr<Alarm> alarm =
      clock.CreateAlarm(io.get_executor(), [&] { ran_at = clock.Now(); });
  const absl::Time deadline = clock.Now() + absl::Milliseconds(5);
  alarm->Set(deadline);
  ASSERT_TRUE(
      glue::testing::RunUntil(io, [&] { return ran_at != absl::InfinitePast(); }));
  EXPECT_GE(ran_at, deadline);
}

TEST(SystemClock, ACancelledOrResetAlarmDoesNotRunForTheEarlierDeadline) {
  boost::asio::io_context io;
  Clock& clock = SystemClock();
  int runs = 0;
  std::unique_ptr<Alarm> alarm = clock.CreateAlarm(io.get_executor(), [&] { ++runs; });
  alarm->Set(clock.Now());
  alarm->Cancel();
  glue::testing::RunFor(io, std::chrono::milliseconds(20));
  EXPECT_EQ(runs, 0);
  alarm->Set(clock.Now());
  alarm->Set(clock.Now() + absl::Hours(1));
  glue::testing::RunFor(io, std::chrono::milliseconds(20));
  EXPECT_EQ(runs, 0);
}

TEST(SystemClock, AwaitUntilGivesUpAtTheDeadline) {
  Mutex mu;
  MutexLock lock(&mu);
  EXPECT_FALSE(SystemClock().AwaitUntil(
      &mu, [] { return false; }, SystemClock().Now() + absl::Milliseconds(1)));
  EXPECT_TRUE(SystemClock().AwaitUntil(
      &mu, [] { return true; }, absl::InfinitePast()));
}

TEST(SimulatedClock, TimeMovesOnlyWhenTheTestMovesIt) {
  SimulatedClock clock;
  const absl::Time start = clock.Now();
  EXPECT_EQ(clock.Now(), start);
  clock.AdvanceBy(absl::Seconds(3));
  EXPECT_EQ(clock.Now(), start + absl::Seconds(3));
  clock.AdvanceTo(start);  // never back
  EXPECT_EQ(clock.Now(), start + absl::Seconds(3));
}

TEST(SimulatedClock, AlarmsRunInDeadlineOrderAtTheirDeadlines) {
  SimulatedClock clock;
  boost::asio::io_context io;
  const absl::Time start = clock.Now();
  std::vector<std::pair<int, absl::Time>> runs;
  auto a =
      clock.CreateAlarm(io.get_executor(), [&] { runs.emplace_back(1, clock.Now()); });
  auto b =
      clock.CreateAlarm(io.get_executor(), [&] { runs.emplace_back(2, clock.Now()); });
  a->Set(start + absl::Seconds(2));
  b->Set(start + absl::Seconds(1));
  ASSERT_EQ(clock.NextDeadline(), start + absl::Seconds(1));
  ASSERT_TRUE(RunSimulatedUntil(io, clock, [&] { return runs.size() == 2; }));
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0], std::make_pair(2, start + absl::Seconds(1)));
  EXPECT_EQ(runs[1], std::make_pair(1, start + absl::Seconds(2)));
  EXPECT_EQ(clock.NextDeadline(), std::nullopt);
}

TEST(SimulatedClock, ACallbackAlreadyDueDoesNotRunAfterCancelOrSet) {
  SimulatedClock clock;
  boost::asio::io_context io;
  int runs = 0;
  auto alarm = clock.CreateAlarm(io.get_executor(), [&] { ++runs; });
  alarm->Set(clock.Now());  // due at once: posted
  alarm->Cancel();
  RunSimulatedFor(io, clock, absl::Seconds(1));
  EXPECT_EQ(runs, 0);
  alarm->Set(clock.Now());
  alarm->Set(clock.Now() + absl::Seconds(5));
  RunSimulatedFor(io, clock, absl::Seconds(4));
  EXPECT_EQ(runs, 0);
  RunSimulatedFor(io, clock, absl::Seconds(1));
  EXPECT_EQ(runs, 1);
}

TEST(SimulatedClock, ADestroyedAlarmNeverRuns) {
  SimulatedClock clock;
  boost::asio::io_context io;
  int runs = 0;
  auto alarm = clock.CreateAlarm(io.get_executor(), [&] { ++runs; });
  alarm->Set(clock.Now() + absl::Seconds(1));
  alarm.reset();
  EXPECT_EQ(clock.NextDeadline(), std::nullopt);
  RunSimulatedFor(io, clock, absl::Seconds(2));
  EXPECT_EQ(runs, 0);
}

TEST(SimulatedClock, RunSimulatedUntilStopsWhenNothingIsLeftToRun) {
  SimulatedClock clock;
  boost::asio::io_context io;
  EXPECT_FALSE(RunSimulatedUntil(io, clock, [] { return false; }));
}

TEST(SimulatedClock, AwaitUntilReturnsOnceAnotherThreadMovesTimePastTheDeadline) {
  SimulatedClock clock;
  Mutex mu;
  const absl::Time deadline = clock.Now() + absl::Seconds(1);
  std::thread mover([&] { clock.AdvanceTo(deadline); });
  {
    MutexLock lock(&mu);
    EXPECT_FALSE(clock.AwaitUntil(
        &mu, [] { return false; }, deadline));
  }
  mover.join();
  EXPECT_GE(clock.Now(), deadline);
}

}  // namespace
}  // namespace glue

// RunUntil drives an Asio io_context (or anything with run_one_for, stopped and
// restart) until a condition holds or a deadline passes: how tests wait for
// asynchronous work without sleeping. Test code only.
//
//   ASSERT_TRUE(RunUntil(io, [&] { return received == 3; }));
#ifndef GLUE_BASE_RUN_UNTIL_H_
#define GLUE_BASE_RUN_UNTIL_H_

#include <chrono>
#include <thread>

namespace glue::testing {

inline constexpr std::chrono::seconds kDefaultRunTimeout{10};

// RunUntil returns true as soon as `done()` holds, false when `timeout` passes first.
template <typename IoContext, typename Predicate>
bool RunUntil(IoContext& io, Predicate done,
              std::chrono::steady_clock::duration timeout = kDefaultRunTimeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    if (io.run_one_for(std::chrono::milliseconds(5)) == 0) std::this_thread::yield();
  }
  return true;
}

// RunFor runs `io` for `duration` of wall time, handling whatever becomes ready:
// for checking that something does NOT happen within a bounded time.
template <typename IoContext>
void RunFor(IoContext& io, std::chrono::steady_clock::duration duration) {
  RunUntil(
      io, [] { return false; }, duration);
}

}  // namespace glue::testing

#endif  // GLUE_BASE_RUN_UNTIL_H_

#include "glue/base/handler_gate.h"

#include <atomic>
#include <future>
#include <thread>

#include "gtest/gtest.h"

namespace glue {
namespace {

TEST(HandlerGate, RefusesHandlersAfterClose) {
  HandlerGate gate;
  {
    HandlerGate::Pass pass(&gate);
    EXPECT_TRUE(pass);
  }
  gate.Close();
  gate.Close();  // idempotent
  HandlerGate::Pass pass(&gate);
  EXPECT_FALSE(pass);
  EXPECT_TRUE(gate.closed());
}

TEST(HandlerGate, CloseFromInsideAHandlerDoesNotWaitForItself) {
  HandlerGate gate;
  HandlerGate::Pass outer(&gate);
  ASSERT_TRUE(outer);
  HandlerGate::Pass inner(&gate);  // a nested handler of the same object
  ASSERT_TRUE(inner);
  gate.Close();  // returns: both passes are this thread's
  EXPECT_TRUE(gate.closed());
}

TEST(HandlerGate, CloseWaitsForAHandlerOnAnotherThread) {
  HandlerGate gate;
  std::promise<void> entered;
  std::promise<void> release;
  std::atomic<bool> close_returned{false};
  std::atomic<bool> returned_while_running{true};
  std::thread handler([&] {
    HandlerGate::Pass pass(&gate);
    entered.set_value();
    release.get_future().wait();
    returned_while_running = close_returned.load();
  });
  entered.get_future().wait();
  std::thread closer([&] {
    gate.Close();
    close_returned = true;
  });
  release.set_value();
  closer.join();
  handler.join();
  EXPECT_FALSE(returned_while_running.load());
  EXPECT_TRUE(close_returned.load());
}

}  // namespace
}  // namespace glue

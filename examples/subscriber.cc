// subscriber: the README's subscriber, bounded. It subscribes to "some_topic" and
// prints each message it receives; it exits 0 once it has received COUNT of them, 1
// when SECONDS pass first, 2 when the endpoint cannot be made or started. Configured
// by the GLUE_* environment.
//
//   subscriber [COUNT [SECONDS]]     # 10 messages within 30 s by default
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "glue/endpoint/endpoint.h"

namespace {

// ParsePositive reads argv[index] as a positive integer into *value, which keeps its
// default when there is no such argument. False when it is not one.
bool ParsePositive(int argc, char** argv, int index, long* value) {
  if (index >= argc) return true;
  char* end = nullptr;
  const long parsed = std::strtol(argv[index], &end, 10);
  if (end == argv[index] || *end != '\0' || parsed <= 0) return false;
  *value = parsed;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  long count = 10;
  long seconds = 30;
  if (argc > 3 || !ParsePositive(argc, argv, 1, &count) ||
      !ParsePositive(argc, argv, 2, &seconds)) {
    std::fprintf(stderr, "usage: subscriber [COUNT [SECONDS]]\n");
    return 2;
  }
  auto endpoint = glue::Endpoint::FromEnvironment();
  if (!endpoint.ok()) {
    std::fprintf(stderr, "subscriber: %s\n", endpoint.status().ToString().c_str());
    return 2;
  }

  std::mutex mu;
  std::condition_variable received_more;
  long received = 0;
  absl::Status subscribed = (*endpoint)->Subscribe(
      "some_topic", "some_type", [&](const glue::Message& message) {
        // Runs on the endpoint's threads; one subscription's calls never overlap.
        std::printf("%s said %s\n", message.publisher_name.c_str(),
                    std::string(message.payload.begin(), message.payload.end()).c_str());
        std::fflush(stdout);
        std::lock_guard<std::mutex> lock(mu);
        ++received;
        received_more.notify_all();
      });
  if (!subscribed.ok()) {
    std::fprintf(stderr, "subscriber: %s\n", subscribed.ToString().c_str());
    return 2;
  }
  if (absl::Status started = (*endpoint)->Start(); !started.ok()) {
    std::fprintf(stderr, "subscriber: %s\n", started.ToString().c_str());
    return 2;
  }

  bool all_received;
  {
    std::unique_lock<std::mutex> lock(mu);
    all_received = received_more.wait_for(lock, std::chrono::seconds(seconds),
                                          [&] { return received >= count; });
  }
  (*endpoint)->Stop();  // says goodbye; no callback runs after it returns
  if (!all_received) {
    std::fprintf(stderr, "subscriber: received %ld of %ld messages within %ld s\n",
                 received, count, seconds);
    return 1;
  }
  return 0;
}

// publisher: the README's publisher, bounded. It waits up to 10 s for a peer, then
// publishes COUNT messages ("Hello, world. 1", ...) on "some_topic", one every
// INTERVAL milliseconds, and stops, which waits for them to be acknowledged. Exit
// status 0 when all were published, 1 when no peer appeared or a Publish failed, 2
// when the endpoint cannot be made or started. Configured by the GLUE_* environment.
//
//   publisher [COUNT [INTERVAL]]     # 10 messages, 100 ms apart, by default
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

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
  long interval_ms = 100;
  if (argc > 3 || !ParsePositive(argc, argv, 1, &count) ||
      !ParsePositive(argc, argv, 2, &interval_ms)) {
    std::fprintf(stderr, "usage: publisher [COUNT [INTERVAL]]\n");
    return 2;
  }
  absl::StatusOr<glue::EndpointOptions> options = glue::OptionsFromEnvironment();
  if (!options.ok()) {
    std::fprintf(stderr, "publisher: %s\n", options.status().ToString().c_str());
    return 2;
  }
  std::mutex mu;
  std::condition_variable peer_added;
  bool has_peer = false;
  options->on_peer_added = [&](const glue::discovery::Peer& peer) {
    std::fprintf(stderr, "publisher: found %s\n", peer.name.c_str());
    std::lock_guard<std::mutex> lock(mu);
    has_peer = true;
    peer_added.notify_all();
  };
  auto endpoint = glue::Endpoint::Create(*std::move(options));
  if (!endpoint.ok()) {
    std::fprintf(stderr, "publisher: %s\n", endpoint.status().ToString().c_str());
    return 2;
  }
  if (absl::Status started = (*endpoint)->Start(); !started.ok()) {
    std::fprintf(stderr, "publisher: %s\n", started.ToString().c_str());
    return 2;
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    if (!peer_added.wait_for(lock, std::chrono::seconds(10), [&] { return has_peer; })) {
      std::fprintf(stderr, "publisher: no peer within 10 s\n");
      return 1;
    }
  }

  // The topic keeps every message in its history, so that a subscriber whose interest
  // arrives after the first ones still gets them all.
  const glue::PublishOptions publish_options{
      .history_depth = static_cast<size_t>(
          std::min<long>(count, static_cast<long>(glue::topics::kMaxHistoryDepth)))};
  int status = 0;
  for (long i = 1; i <= count; ++i) {
    const std::string text = "Hello, world. " + std::to_string(i);
    absl::Status published = (*endpoint)->Publish(
        "some_topic", "some_type", absl::Seconds(10) /* expiry */,
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
        publish_options);
    if (!published.ok()) {
      std::fprintf(stderr, "publisher: %s\n", published.ToString().c_str());
      status = 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  (*endpoint)->Stop();  // lingers for what it sent, then says goodbye
  return status;
}

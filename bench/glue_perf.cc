// glue_perf: throughput and latency between endpoints, modelled on Cyclone DDS's
// ddsperf, through the public Endpoint API and the GLUE_* environment only, as any
// application would. Run a publisher and a subscriber (or ping and pong) in separate
// processes on one network:
//
//   glue_perf sub [--duration S] [--topic T]
//   glue_perf pub --size N [--rate HZ] [--duration S] [--topic T]
//   glue_perf pong [--duration S]
//   glue_perf ping --size N [--duration S]
//
// sub prints once a second, and at the end with "final" (the rate from the first
// message to the last), the rate it received and the messages lost (gaps in a
// publisher's sequence):
//
//   rate_msgs_per_s=X mbps=Y lost=N
//
// ping sends one message at a time to pong, which sends it back, and prints at the end
// the round trips' percentiles in microseconds:
//
//   rtt_us p50=X p90=Y p99=Z max=W
//
// pub sends as fast as the endpoint takes messages (--rate 0, the default) or at
// --rate; messages are reliable, with an expiry of 10 s and no history. Duration 0
// runs until SIGINT or SIGTERM. Exit status 2 for bad flags or configuration.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "glue/base/block_pool.h"
#include "glue/base/mutex.h"
#include "glue/endpoint/endpoint.h"

namespace glue {
namespace {

constexpr char kType[] = "glue.perf.Payload";
constexpr char kPingTopic[] = "glue_perf/ping";
constexpr char kPongTopic[] = "glue_perf/pong";
constexpr size_t kMinSize = 8;  // the sequence number
constexpr absl::Duration kExpiry = absl::Seconds(10);
// How long pub and ping wait, once a peer is there, for its interest to arrive.
constexpr absl::Duration kSettle = absl::Milliseconds(300);

constexpr char kUsage[] =
    "usage: glue_perf sub  [--duration S] [--topic T]\n"
    "       glue_perf pub  --size N [--rate HZ] [--duration S] [--topic T]\n"
    "       glue_perf pong [--duration S]\n"
    "       glue_perf ping --size N [--duration S]\n";

struct Flags {
  std::string mode;
  uint64_t size = 0;
  uint64_t rate = 0;
  uint64_t duration_s = 0;
  std::string topic = "glue_perf/data";
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return false;
  }
  flags->mode = argv[1];
  if (flags->mode != "pub" && flags->mode != "sub" && flags->mode != "ping" &&
      flags->mode != "pong") {
    std::fprintf(stderr, "glue_perf: unknown mode '%s'\n%s", argv[1], kUsage);
    return false;
  }
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 == argc) {
      std::fprintf(stderr, "glue_perf: %s needs a value\n%s", flag.c_str(), kUsage);
      return false;
    }
    const std::string value = argv[++i];
    if (flag == "--topic") {
      flags->topic = value;
      continue;
    }
    uint64_t* target = flag == "--size"       ? &flags->size
                       : flag == "--rate"     ? &flags->rate
                       : flag == "--duration" ? &flags->duration_s
                                              : nullptr;
    if (target == nullptr || !absl::SimpleAtoi(value, target)) {
      std::fprintf(stderr, "glue_perf: bad flag %s %s\n%s", flag.c_str(), value.c_str(),
                   kUsage);
      return false;
    }
  }
  if ((flags->mode == "pub" || flags->mode == "ping") && flags->size < kMinSize) {
    std::fprintf(stderr, "glue_perf: %s needs --size of at least %zu bytes\n",
                 flags->mode.c_str(), kMinSize);
    return false;
  }
  return true;
}

std::atomic<bool> stop_requested{false};
extern "C" void OnSignal(int) { stop_requested = true; }

uint64_t SequenceOf(absl::Span<const uint8_t> payload) {
  uint64_t sequence = 0;
  std::memcpy(&sequence, payload.data(), sizeof(sequence));
  return sequence;
}

// Runs `tick` once a second until the duration ends or a signal comes.
template <typename Tick>
void RunFor(const Flags& flags, Tick tick) {
  const absl::Time end = flags.duration_s == 0
                             ? absl::InfiniteFuture()
                             : absl::Now() + absl::Seconds(flags.duration_s);
  absl::Time next = absl::Now() + absl::Seconds(1);
  while (!stop_requested && absl::Now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (absl::Now() >= next) {
      tick();
      next += absl::Seconds(1);
    }
  }
}

// WaitForPeer waits for a peer, then for its interest to arrive.
bool WaitForPeer(Endpoint& endpoint) {
  while (!stop_requested && endpoint.peers().empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(absl::ToChronoNanoseconds(kSettle));
  return !stop_requested;
}

// Subscriber counts what arrives; its callback runs on the endpoint's threads.
struct Subscriber {
  Mutex mu;
  uint64_t messages ABSL_GUARDED_BY(mu) = 0;
  uint64_t bytes ABSL_GUARDED_BY(mu) = 0;
  uint64_t lost ABSL_GUARDED_BY(mu) = 0;
  std::map<uint64_t, uint64_t> last ABSL_GUARDED_BY(mu);  // sequence, by publisher
  // When the first and the latest message arrived: the final rate is over that span.
  absl::Time first_at ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  absl::Time last_at ABSL_GUARDED_BY(mu) = absl::InfinitePast();

  void Count(const Message& m) {
    const uint64_t sequence = m.payload.size() >= kMinSize ? SequenceOf(m.payload) : 0;
    const absl::Time now = absl::Now();
    MutexLock lock(&mu);
    if (messages == 0) first_at = now;
    last_at = now;
    ++messages;
    bytes += m.payload.size();
    auto [it, first] = last.try_emplace(m.publisher_id, sequence);
    if (!first && sequence > it->second + 1) lost += sequence - it->second - 1;
    if (sequence > it->second) it->second = sequence;
  }
};

int RunSub(Endpoint& endpoint, const Flags& flags) {
  Subscriber sub;
  if (absl::Status s = endpoint.Subscribe(flags.topic, kType,
                                          [&sub](const Message& m) { sub.Count(m); });
      !s.ok()) {
    std::fprintf(stderr, "glue_perf: %s\n", s.ToString().c_str());
    return 2;
  }
  uint64_t messages_then = 0, bytes_then = 0;
  absl::Time then = absl::Now();
  auto line = [&](const char* what, uint64_t messages, uint64_t bytes, absl::Duration d) {
    uint64_t lost;
    {
      MutexLock lock(&sub.mu);
      lost = sub.lost;
    }
    // Printed without the lock: the callback, on the network thread, waits for it.
    const double seconds = absl::ToDoubleSeconds(d);
    std::printf("%srate_msgs_per_s=%.0f mbps=%.1f lost=%" PRIu64 "\n", what,
                messages / seconds, bytes * 8 / seconds / 1e6, lost);
    std::fflush(stdout);
  };
  RunFor(flags, [&] {
    uint64_t messages, bytes;
    {
      MutexLock lock(&sub.mu);
      messages = sub.messages;
      bytes = sub.bytes;
    }
    const absl::Time now = absl::Now();
    line("", messages - messages_then, bytes - bytes_then, now - then);
    messages_then = messages;
    bytes_then = bytes;
    then = now;
  });
  uint64_t messages, bytes;
  absl::Duration span;
  {
    MutexLock lock(&sub.mu);
    messages = sub.messages;
    bytes = sub.bytes;
    span = sub.last_at - sub.first_at;
  }
  // Over the span from the first message to the last, not the run's idle ends.
  line("final ", messages, bytes, std::max(span, absl::Microseconds(1)));
  return 0;
}

int RunPub(Endpoint& endpoint, const Flags& flags) {
  if (!WaitForPeer(endpoint)) return 0;
  std::vector<uint8_t> payload(flags.size, 0x42);
  // Publish waits while the subscribers' windows are full, as ddsperf's writer does.
  const PublishOptions options{.history_depth = 0, .max_blocking = absl::Seconds(1)};
  std::atomic<uint64_t> published{0};
  std::atomic<bool> done{false};
  std::thread publisher([&] {
    const absl::Duration period =
        flags.rate == 0 ? absl::ZeroDuration() : absl::Seconds(1) / double(flags.rate);
    absl::Time next = absl::Now();
    for (uint64_t sequence = 1; !done; ++sequence) {
      std::memcpy(payload.data(), &sequence, sizeof(sequence));
      absl::Status s = endpoint.Publish(flags.topic, kType, kExpiry, payload, options);
      while (absl::IsResourceExhausted(s) && !done) {  // a queue is full: wait for room
        std::this_thread::sleep_for(std::chrono::microseconds(50));
        s = endpoint.Publish(flags.topic, kType, kExpiry, payload, options);
      }
      if (!s.ok()) {
        if (!done) std::fprintf(stderr, "glue_perf: publish: %s\n", s.ToString().c_str());
        return;
      }
      published.fetch_add(1, std::memory_order_relaxed);
      if (flags.rate != 0) {
        next += period;
        std::this_thread::sleep_for(absl::ToChronoNanoseconds(
            std::max(absl::ZeroDuration(), next - absl::Now())));
      }
    }
  });
  uint64_t then = 0;
  RunFor(flags, [&] {
    const uint64_t now = published.load();
    std::printf("published_msgs_per_s=%" PRIu64 "\n", now - then);
    std::fflush(stdout);
    then = now;
  });
  done = true;
  publisher.join();
  std::printf("final published=%" PRIu64 "\n", published.load());
  return 0;
}

int RunPong(Endpoint& endpoint, const Flags& flags) {
  Endpoint* e = &endpoint;
  if (absl::Status s = endpoint.Subscribe(
          kPingTopic, kType,
          [e](const Message& m) {
            (void)e->Publish(kPongTopic, kType, kExpiry, m.payload, {.history_depth = 0});
          });
      !s.ok()) {
    std::fprintf(stderr, "glue_perf: %s\n", s.ToString().c_str());
    return 2;
  }
  RunFor(flags, [] {});
  return 0;
}

// Pinger sends the next ping from the callback that receives the pong, as ddsperf
// does, so that a round trip is the two endpoints' work and no more; the main thread
// only watches for a ping that got no answer within a second, and sends another.
struct Pinger {
  Endpoint* endpoint = nullptr;
  std::vector<uint8_t> payload;
  absl::Time end;

  Mutex mu;
  uint64_t sequence ABSL_GUARDED_BY(mu) = 0;  // of the ping in flight
  std::chrono::steady_clock::time_point sent_at ABSL_GUARDED_BY(mu);
  std::vector<double> rtt_us ABSL_GUARDED_BY(mu);
  bool done ABSL_GUARDED_BY(mu) = false;
  absl::Status failed ABSL_GUARDED_BY(mu);

  // Send sends ping `sequence`; the caller has just made it the one in flight.
  void Send(uint64_t sequence) {
    std::vector<uint8_t> bytes = payload;
    std::memcpy(bytes.data(), &sequence, sizeof(sequence));
    absl::Status s =
        endpoint->Publish(kPingTopic, kType, kExpiry, bytes, {.history_depth = 0});
    if (!s.ok()) {
      MutexLock lock(&mu);
      failed = s;
      done = true;
      mu.NotifyAll();
    }
  }

  // Next makes the next ping the one in flight and returns its number.
  uint64_t Next() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    sent_at = std::chrono::steady_clock::now();
    return ++sequence;
  }

  void OnPong(const Message& m) {
    const auto now = std::chrono::steady_clock::now();
    uint64_t next;
    {
      MutexLock lock(&mu);
      if (done || SequenceOf(m.payload) != sequence) return;
      rtt_us.push_back(std::chrono::duration<double, std::micro>(now - sent_at).count());
      if (stop_requested || absl::Now() >= end) {
        done = true;
        mu.NotifyAll();
        return;
      }
      next = Next();  // the watchdog needs no wakeup for it
    }
    Send(next);
  }
};

int RunPing(Endpoint& endpoint, const Flags& flags) {
  // Shared with the callback, which may run until the endpoint stops.
  auto shared = std::make_shared<Pinger>();
  Pinger& pinger = *shared;
  pinger.endpoint = &endpoint;
  pinger.payload.assign(flags.size, 0x42);
  if (absl::Status s = endpoint.Subscribe(
          kPongTopic, kType, [shared](const Message& m) { shared->OnPong(m); });
      !s.ok()) {
    std::fprintf(stderr, "glue_perf: %s\n", s.ToString().c_str());
    return 2;
  }
  if (!WaitForPeer(endpoint)) return 0;
  pinger.end = flags.duration_s == 0 ? absl::InfiniteFuture()
                                     : absl::Now() + absl::Seconds(flags.duration_s);
  uint64_t timeouts = 0;
  uint64_t first;
  {
    MutexLock lock(&pinger.mu);
    first = pinger.Next();
  }
  pinger.Send(first);
  std::vector<double> rtt_us;
  {
    MutexLock lock(&pinger.mu);
    while (!pinger.done) {
      const uint64_t waiting_for = pinger.sequence;
      pinger.mu.AwaitUntil(
          [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pinger.mu) { return pinger.done; },
          absl::Now() + absl::Seconds(1));
      if (pinger.done || pinger.sequence != waiting_for) continue;
      ++timeouts;  // no answer in a second: send another
      if (stop_requested || absl::Now() >= pinger.end) break;
      const uint64_t next = pinger.Next();
      pinger.mu.Unlock();
      pinger.Send(next);
      pinger.mu.Lock();
    }
    pinger.done = true;
    if (!pinger.failed.ok()) {
      std::fprintf(stderr, "glue_perf: publish: %s\n", pinger.failed.ToString().c_str());
      return 1;
    }
    rtt_us = pinger.rtt_us;
  }
  std::sort(rtt_us.begin(), rtt_us.end());
  auto at = [&](double q) {
    return rtt_us.empty()
               ? 0.0
               : rtt_us[std::min(rtt_us.size() - 1, size_t(q * rtt_us.size()))];
  };
  std::printf(
      "rtt_us p50=%.1f p90=%.1f p99=%.1f max=%.1f round_trips=%zu timeouts=%" PRIu64 "\n",
      at(0.5), at(0.9), at(0.99), rtt_us.empty() ? 0.0 : rtt_us.back(), rtt_us.size(),
      timeouts);
  return 0;
}

// PrintCounters prints to stderr what the endpoint's layers counted, to explain a
// figure: datagrams and system calls, resends and drops at every bound.
void PrintCounters(const Endpoint& endpoint) {
  const EndpointCounters c = endpoint.counters();
  const topics::TopicsCounters& t = c.topics;
  const transport::TransportCounters& tr = t.messages.transport;
  const network::LinkCounters& link = tr.discovery.data_link;
  std::fprintf(stderr,
               "counters datagrams_sent=%" PRIu64 " send_calls=%" PRIu64
               " send_would_block=%" PRIu64 " datagrams_received=%" PRIu64
               " receive_calls=%" PRIu64 " dropped_by_kernel=%" PRIu64
               " data_sent=%" PRIu64 " data_resent=%" PRIu64 " fast_retransmits=%" PRIu64
               " timeouts=%" PRIu64 " acks_sent=%" PRIu64 " duplicates=%" PRIu64
               " refused_queue_full=%" PRIu64 " slow_subscriber_drops=%" PRIu64
               " delivered=%" PRIu64 " delivered_inline=%" PRIu64 "\n",
               link.datagrams_sent, link.send_calls, link.send_would_block,
               link.datagrams_received, link.receive_calls, link.dropped_by_kernel,
               tr.sessions.data_sent, tr.sessions.data_resent,
               tr.sessions.fast_retransmits, tr.sessions.timeouts, tr.sessions.acks_sent,
               tr.sessions.duplicates, t.refused_queue_full, t.slow_subscriber_drops,
               t.delivered, t.delivered_inline);
  const BlockPoolCounters pool = BlockPool::Global().counters();
  std::fprintf(stderr,
               "block_pool allocated=%" PRIu64 " reused=%" PRIu64 " released=%" PRIu64
               " bytes_kept=%" PRIu64 "\n",
               pool.allocated, pool.reused, pool.released, pool.bytes_kept);
}

int Run(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = Endpoint::FromEnvironment();
  if (!endpoint.ok()) {
    std::fprintf(stderr, "glue_perf: %s\n", endpoint.status().ToString().c_str());
    return 2;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  if (absl::Status s = (*endpoint)->Start(); !s.ok()) {
    std::fprintf(stderr, "glue_perf: %s\n", s.ToString().c_str());
    return 1;
  }
  int status = 0;
  if (flags.mode == "sub") status = RunSub(**endpoint, flags);
  if (flags.mode == "pub") status = RunPub(**endpoint, flags);
  if (flags.mode == "pong") status = RunPong(**endpoint, flags);
  if (flags.mode == "ping") status = RunPing(**endpoint, flags);
  PrintCounters(**endpoint);
  (*endpoint)->Stop();
  return status;
}

}  // namespace
}  // namespace glue

int main(int argc, char** argv) { return glue::Run(argc, argv); }

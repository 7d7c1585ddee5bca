// What the subcommands of the glue command share: exit statuses, the Ctrl-C handling,
// the endpoint made from the GLUE_* variables, and safe printing.
#ifndef GLUE_CMD_GLUE_COMMAND_H_
#define GLUE_CMD_GLUE_COMMAND_H_

#include <signal.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "glue/base/mutex.h"
#include "glue/endpoint/endpoint.h"

namespace glue::cmd {

constexpr int kUsageError = 1;
constexpr int kConfigurationError = 2;
constexpr int kNoSubscriber = 3;
constexpr int kNotAcknowledged = 4;
constexpr int kTimedOut = 27;  // mosquitto_sub's status for -W

// Stopper is set by SIGINT or SIGTERM, or by the program itself, and awaited with a
// deadline. The signals are blocked in every thread (the endpoint's included, made
// after Arm) and taken by a thread of its own.
class Stopper {
 public:
  void Arm() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    waiter_ = std::thread([this, signals] {
      const timespec tick{0, 100 * 1000 * 1000};
      while (!stopped()) {
        const int signal = sigtimedwait(&signals, nullptr, &tick);
        if (signal == SIGUSR1) {
          MutexLock lock(&mu_);
          ++usr1_;
          ++pokes_;
          mu_.NotifyAll();
        } else if (signal > 0) {
          Stop();
        }
      }
    });
  }
  ~Stopper() {
    Stop();
    if (waiter_.joinable()) waiter_.join();
  }
  void Stop() {
    MutexLock lock(&mu_);
    stopped_ = true;
    mu_.NotifyAll();
  }
  bool stopped() const {
    MutexLock lock(&mu_);
    return stopped_;
  }
  // Wakes the waiter (Await) without stopping.
  void Poke() {
    MutexLock lock(&mu_);
    ++pokes_;
    mu_.NotifyAll();
  }
  // usr1 counts the SIGUSR1 received (each also pokes).
  uint64_t usr1() const {
    MutexLock lock(&mu_);
    return usr1_;
  }
  // Await waits until stopped, poked since `*seen`, or `deadline`; true when stopped.
  bool Await(absl::Time deadline, uint64_t* seen) {
    MutexLock lock(&mu_);
    mu_.AwaitUntil(
        [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopped_ || pokes_ != *seen; },
        deadline);
    *seen = pokes_;
    return stopped_;
  }

 private:
  mutable Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t pokes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t usr1_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread waiter_;
};

// Printable returns `bytes` as text when they are printable UTF-8 without control
// characters (tabs aside), and otherwise escaped as C does ("\x01"), so that nothing a
// publisher sends reaches a terminal raw.
std::string Printable(absl::Span<const uint8_t> bytes);
std::string PrintableText(absl::string_view text);

// JsonString quotes `text` as a JSON string.
std::string JsonString(absl::string_view text);

// MakeEndpoint makes an endpoint from the GLUE_* variables, with the peer callbacks of
// `options`.
absl::StatusOr<std::unique_ptr<Endpoint>> MakeEndpoint(EndpointOptions options = {});

// ServeUntilStopped waits for Ctrl-C (or SIGTERM). Each SIGUSR1 cuts the endpoint off
// from the network, as a partition would, or heals it, printing "partitioned" or
// "healed": for an endpoint started with faults (GLUE_FAULT_*; GLUE_FAULT_LOSS=0 is
// enough), otherwise it says why not.
void ServeUntilStopped(Stopper& stopper, Endpoint& endpoint, absl::string_view command);

// ConfigurationError prints "glue COMMAND: message" and returns kConfigurationError.
int ConfigurationError(absl::string_view command, const absl::Status& status);

}  // namespace glue::cmd

#endif  // GLUE_CMD_GLUE_COMMAND_H_

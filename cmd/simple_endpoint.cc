// simple_endpoint: the demo endpoint. It starts discovery from the GLUE_* environment
// and prints one line per event on stdout, flushed at once:
//
//   added name=NAME id=ID address=IP:PORT
//   removed name=NAME id=ID reason=expired|goodbye|replaced
//
// GLUE_FAULT_* put a fault-injecting link under its data socket.
// Logs go to stderr. SIGINT or SIGTERM makes it say goodbye and exit 0.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <string>

#include "glue/base/log.h"
#include "glue/discovery/config.h"
#include "glue/discovery/discovery.h"

namespace glue {
namespace {

void PrintLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

int Run(int argc, char** argv) {
  if (argc > 1) {
    std::fprintf(
        stderr,
        "simple_endpoint: unknown argument '%s'\n"
        "usage: simple_endpoint   (configured by GLUE_* environment variables)\n",
        argv[1]);
    return 2;
  }
  absl::StatusOr<discovery::Config> config = discovery::ConfigFromEnvironment();
  if (!config.ok()) {
    std::fprintf(stderr, "simple_endpoint: %s\n", config.status().ToString().c_str());
    return 2;
  }
  boost::asio::io_context io;
  discovery::Discovery::Callbacks callbacks;
  callbacks.on_added = [](const discovery::Peer& peer) {
    PrintLine(absl::StrFormat("added name=%s id=%d address=%s\n", peer.name, peer.id,
                              network::FormatAddress(peer.data_address)));
  };
  callbacks.on_removed = [](const discovery::Peer& peer, discovery::RemovalReason why) {
    PrintLine(absl::StrFormat("removed name=%s id=%d reason=%s\n", peer.name, peer.id,
                              discovery::RemovalReasonName(why)));
  };
  absl::StatusOr<std::optional<network::FaultOptions>> faults =
      network::FaultOptionsFromEnvironment();
  if (!faults.ok()) {
    std::fprintf(stderr, "simple_endpoint: %s\n", faults.status().ToString().c_str());
    return 2;
  }
  discovery::Discovery::Options options;
  options.data_faults = *faults;
  auto endpoint =
      discovery::Discovery::Create(io.get_executor(), *config, callbacks, options);
  if (!endpoint.ok()) {
    std::fprintf(stderr, "simple_endpoint: %s\n", endpoint.status().ToString().c_str());
    return 2;
  }
  if (absl::Status started = (*endpoint)->Start(); !started.ok()) {
    std::fprintf(stderr, "simple_endpoint: %s\n", started.ToString().c_str());
    return 1;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    GLUE_LOG(kInfo, "simple_endpoint: signal %d: saying goodbye", signal);
    (*endpoint)->Stop();
    io.stop();
  });
  io.run();
  (*endpoint)->Stop();
  return 0;
}

}  // namespace
}  // namespace glue

int main(int argc, char** argv) { return glue::Run(argc, argv); }

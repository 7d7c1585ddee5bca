#include "glue/discovery/dnsmasq.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "glue/base/child_process.h"
#include "glue/discovery/dns_resolver.h"
#include "glue/discovery/loopback_network.h"
#include "glue/network/interfaces.h"

namespace glue::discovery::testing {
namespace {

constexpr auto kReadyWithin = std::chrono::seconds(10);

}  // namespace

std::string FindDnsmasq() { return glue::testing::FindProgram("dnsmasq"); }

std::string WhyNotOnlyLoopback() {
  absl::StatusOr<std::vector<network::Interface>> interfaces = network::ListInterfaces();
  if (!interfaces.ok())
    return absl::StrCat("listing interfaces: ", interfaces.status().ToString());
  bool loopback_up = false;
  for (const network::Interface& interface : *interfaces) {
    if (!interface.loopback) {
      return absl::StrCat("this network namespace has the interface '", interface.name,
                          "' besides loopback; run the test inside scripts/isolated.sh, "
                          "so that no DNS query can leave the machine");
    }
    loopback_up = loopback_up || interface.up;
  }
  if (!loopback_up) return "loopback is down in this network namespace";
  return "";
}

absl::StatusOr<std::unique_ptr<Dnsmasq>> Dnsmasq::Create() {
  std::string program = FindDnsmasq();
  if (program.empty()) {
    return absl::FailedPreconditionError(
        "dnsmasq is not installed (Debian: dnsmasq-base; scripts/setup.sh installs it)");
  }
  std::string dir = (std::filesystem::temp_directory_path() / "glue-dns-XXXXXX");
  if (::mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("mkdtemp '", dir, "': ", std::strerror(errno)));
  }
  return std::unique_ptr<Dnsmasq>(new Dnsmasq(std::move(program), std::move(dir)));
}

Dnsmasq::~Dnsmasq() {
  Stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::Status Dnsmasq::WriteHosts(absl::string_view lines) {
  const std::filesystem::path next = dir_ / "hosts.next";
  {
    std::ofstream out(next);
    out << "192.0.2.250 " << kReadyName << "\n" << lines;
    if (!out.flush()) return absl::InternalError(absl::StrCat("writing ", next.string()));
  }
  std::error_code error;
  std::filesystem::rename(next, dir_ / "hosts", error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("renaming ", next.string(), ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status Dnsmasq::Start(absl::string_view listen_address, uint16_t port,
                            const std::vector<std::string>& srv_records) {
  if (process_.running()) {
    return absl::FailedPreconditionError("dnsmasq is running already");
  }
  if (!std::filesystem::exists(dir_ / "hosts")) {
    if (absl::Status written = WriteHosts(""); !written.ok()) return written;
  }
  listen_address_ = std::string(listen_address);
  if (port != 0) port_ = port;
  // Another test may take the free port first: then dnsmasq exits, and another port
  // is tried; a port asked for, or kept for a restart, is not changed.
  const bool keep_port = port_ != 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!keep_port) {
      boost::asio::io_context io;
      port_ = LoopbackNetwork::FreePort(io);
    }
    if (absl::Status spawned = Spawn(srv_records); !spawned.ok()) return spawned;
    const Readiness ready = WaitUntilReady();
    if (ready == Readiness::kReady) return absl::OkStatus();
    if (ready == Readiness::kTimedOut || keep_port) break;
  }
  Stop();
  return absl::UnavailableError(
      absl::StrCat("dnsmasq on ", server(), " did not start; its log:\n", log()));
}

absl::Status Dnsmasq::Reload() {
  if (!process_.running()) return absl::FailedPreconditionError("dnsmasq is not running");
  return process_.Signal(SIGHUP);
}

void Dnsmasq::Stop() { process_.Stop(); }

std::string Dnsmasq::server() const { return absl::StrCat(listen_address_, ":", port_); }

std::string Dnsmasq::log() const {
  std::ifstream in(dir_ / "dnsmasq.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status Dnsmasq::Spawn(const std::vector<std::string>& srv_records) {
  std::vector<std::string> args = {
      program_,
      "--no-daemon",  // in the foreground, as this user, with no pid file
      "--conf-file=/dev/null",
      "--no-resolv",  // no upstream server: nothing is forwarded
      "--no-hosts",
      absl::StrCat("--addn-hosts=", (dir_ / "hosts").string()),
      "--local=/test/",  // names of `test` it does not know are NXDOMAIN
      "--local-ttl=60",
      absl::StrCat("--listen-address=", listen_address_),
      "--bind-interfaces",
      absl::StrCat("--port=", port_),
      "--pid-file=",
      "--log-facility=-",
  };
  for (const std::string& record : srv_records) {
    args.push_back(absl::StrCat("--srv-host=", record));
  }
  return process_.Spawn(args, (dir_ / "dnsmasq.log").string());
}

// WaitUntilReady asks dnsmasq for kReadyName until it answers, it exits (reaped here),
// or kReadyWithin passes.
Dnsmasq::Readiness Dnsmasq::WaitUntilReady() {
  const auto deadline = std::chrono::steady_clock::now() + kReadyWithin;
  const DnsQuery probe{.name = std::string(kReadyName),
                       .server = server(),
                       .default_port = 1,
                       .timeout = absl::Milliseconds(200)};
  while (std::chrono::steady_clock::now() < deadline) {
    if (process_.Exited()) return Readiness::kExited;
    if (ResolvePeers(probe).ok()) return Readiness::kReady;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Readiness::kTimedOut;
}

}  // namespace glue::discovery::testing

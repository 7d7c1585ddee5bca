// loopback_exchange: what the network and serialization layers do together, shown on
// loopback. Two sockets, "alpha" and "beta": alpha announces itself, sends a run of
// data frames batched into datagrams through a fault-injecting link that loses some,
// beta answers with an acknowledgement of what arrived, garbage is rejected, and
// alpha says goodbye. Everything goes to 127.0.0.1.
//
//   loopback_exchange [--frames N] [--loss P] [--seed S]
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "glue/network/fault_injecting_link.h"
#include "glue/network/udp_socket.h"
#include "glue/serialization/codec.h"

namespace glue {
namespace {

using network::Address;
using network::ReceivedDatagram;
using serialization::DecodedDatagram;

constexpr uint64_t kNetworkId = 1;
constexpr size_t kBudget = 1400;  // bytes per datagram, the default MTU

struct Options {
  int frames = 1000;
  double loss = 0.1;
  uint64_t seed = 7;
};

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    bool ok = value != nullptr;
    if (flag == "--frames" && ok) {
      ok = absl::SimpleAtoi(value, &options->frames) && options->frames > 0 &&
           options->frames <= 100000;
    } else if (flag == "--loss" && ok) {
      ok = absl::SimpleAtod(value, &options->loss) && options->loss >= 0 &&
           options->loss <= 1;
    } else if (flag == "--seed" && ok) {
      ok = absl::SimpleAtoi(value, &options->seed);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(
          stderr,
          "loopback_exchange: bad argument '%s%s%s'\n"
          "usage: loopback_exchange [--frames 1..100000] [--loss 0..1] [--seed S]\n",
          argv[i], value ? " " : "", value ? value : "");
      return false;
    }
    ++i;
  }
  return true;
}

std::string Describe(const DecodedDatagram& d) {
  switch (d.kind) {
    case DecodedDatagram::Kind::kAnnouncement:
      return absl::StrCat("announcement data_address=",
                          network::FormatAddress(d.announcement.data_address),
                          " rate_ms=", d.announcement.rate_milliseconds);
    case DecodedDatagram::Kind::kGoodbye:
      return "goodbye";
    case DecodedDatagram::Kind::kFrames:
      return absl::StrCat(d.frames.size(), " frames");
  }
  return "?";
}

int Run(const Options& options) {
  boost::asio::io_context io;
  network::UdpSocketOptions socket_options;
  socket_options.bind_address = Address(boost::asio::ip::make_address("127.0.0.1"), 0);
  auto beta = network::UdpSocket::Open(io.get_executor(), socket_options);
  // Alpha sends control messages from one socket and data from another, through a
  // lossy link.
  auto alpha_control = network::UdpSocket::Open(io.get_executor(), socket_options);
  auto alpha_socket = network::UdpSocket::Open(io.get_executor(), socket_options);
  if (!beta.ok() || !alpha_control.ok() || !alpha_socket.ok()) {
    std::fprintf(stderr, "cannot open sockets on 127.0.0.1: %s\n",
                 (!beta.ok()            ? beta.status()
                  : !alpha_control.ok() ? alpha_control.status()
                                        : alpha_socket.status())
                     .ToString()
                     .c_str());
    return 1;
  }
  const Address alpha_address = (*alpha_socket)->local_address();
  network::FaultOptions faults;
  faults.drop = options.loss;
  faults.seed = options.seed;
  auto alpha = network::FaultInjectingLink::Create(io.get_executor(),
                                                   *std::move(alpha_socket), faults);
  if (!alpha.ok()) {
    std::fprintf(stderr, "%s\n", alpha.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "alpha at %s, data from %s through a link that loses %.0f%% of datagrams "
      "(seed %llu)\n",
      network::FormatAddress((*alpha_control)->local_address()).c_str(),
      network::FormatAddress(alpha_address).c_str(), options.loss * 100,
      static_cast<unsigned long long>(options.seed));
  std::printf("beta  at %s\n", network::FormatAddress((*beta)->local_address()).c_str());

  // Beta decodes whatever arrives and keeps the data sequence numbers it saw.
  serialization::DatagramDecoder decoder;
  DecodedDatagram decoded;
  std::vector<uint64_t> sequences;
  int datagrams = 0;
  bool goodbye = false;
  (void)(*beta)->Start([&](const ReceivedDatagram& d) {
    ++datagrams;
    const absl::Status status = decoder.Decode(d.bytes, &decoded);
    if (!status.ok()) {
      std::printf("beta  rejected %zu bytes from %s: %s\n", d.bytes.size(),
                  network::FormatAddress(d.source).c_str(), status.ToString().c_str());
      return;
    }
    if (decoded.kind != DecodedDatagram::Kind::kFrames) {
      std::printf("beta  received %s from %s (id %llu)\n", Describe(decoded).c_str(),
                  std::string(decoded.header.endpoint_name).c_str(),
                  static_cast<unsigned long long>(decoded.header.endpoint_id));
      goodbye = goodbye || decoded.kind == DecodedDatagram::Kind::kGoodbye;
      return;
    }
    for (const serialization::Frame& frame : decoded.frames) {
      if (const auto* data = std::get_if<serialization::DataFrame>(&frame)) {
        sequences.push_back(data->sequence);
      }
    }
  });
  const auto run_until = [&io](auto done) {
    for (int i = 0; i < 200 && !done(); ++i) {
      io.restart();
      io.run_for(std::chrono::milliseconds(5));
    }
  };

  serialization::Header alpha_header;
  alpha_header.network_id = kNetworkId;
  alpha_header.endpoint_id = 0xa1fa;
  alpha_header.endpoint_name = "alpha";
  auto encoder = serialization::DatagramEncoder::Create(kBudget);
  if (!encoder.ok()) return 1;

  // 1. An announcement.
  auto announcement = encoder->EncodeAnnouncement(
      alpha_header, serialization::Announcement{alpha_address, 1000});
  (void)(*alpha_control)->Send((*beta)->local_address(), *announcement);
  run_until([&] { return datagrams >= 1; });

  // 2. Data frames of 100 bytes, as many per datagram as the budget holds.
  const std::vector<uint8_t> payload(100, 0x61);
  std::vector<std::vector<uint8_t>> outgoing;
  (void)encoder->BeginFrames(alpha_header);
  for (int i = 1; i <= options.frames; ++i) {
    serialization::DataFrame frame{static_cast<uint64_t>(i), 0, payload};
    if (absl::IsResourceExhausted(encoder->AddData(frame))) {
      auto datagram = encoder->Finish();
      outgoing.emplace_back(datagram->begin(), datagram->end());
      (void)encoder->BeginFrames(alpha_header);
      (void)encoder->AddData(frame);
    }
  }
  auto last = encoder->Finish();
  outgoing.emplace_back(last->begin(), last->end());
  std::vector<network::OutgoingDatagram> batch;
  for (const auto& d : outgoing) batch.push_back({(*beta)->local_address(), d});
  (void)(*alpha)->SendBatch(batch);
  const network::FaultCounters faults_seen = (*alpha)->fault_counters();
  const int expected = 1 + static_cast<int>(outgoing.size() - faults_seen.dropped);
  run_until([&] { return datagrams >= expected; });
  std::printf(
      "alpha sent %d data frames in %zu datagrams of at most %zu bytes; the link "
      "dropped %llu datagrams\n",
      options.frames, outgoing.size(), kBudget,
      static_cast<unsigned long long>(faults_seen.dropped));
  std::printf("beta  received %zu data frames in %d datagrams\n", sequences.size(),
              datagrams - 1);

  // 3. Beta acknowledges what arrived: cumulatively, then ranges beyond the first gap.
  std::vector<serialization::AckRange> ranges;
  uint64_t cumulative = 0;
  for (uint64_t s : sequences) {
    if (ranges.empty() && s == cumulative + 1) {
      cumulative = s;
    } else if (!ranges.empty() && s == ranges.back().last + 1) {
      ranges.back().last = s;
    } else {
      ranges.push_back({s, s});
    }
  }
  std::string ack_text = absl::StrCat("cumulative=", cumulative);
  for (const auto& r : ranges)
    absl::StrAppend(&ack_text, " [", r.first, "..", r.last, "]");
  serialization::Header beta_header{serialization::kProtocolMajor,
                                    serialization::kProtocolMinor, kNetworkId, 0xbe7a,
                                    "beta"};
  auto beta_encoder = serialization::DatagramEncoder::Create(kBudget);
  (void)beta_encoder->BeginFrames(beta_header);
  const absl::Status ack_status = beta_encoder->AddAck(
      serialization::AckFrame{cumulative, absl::MakeConstSpan(ranges)});
  auto ack = beta_encoder->Finish();
  if (ack_status.ok() && ack.ok()) {
    std::printf("beta  acknowledges %s in a %zu-byte datagram\n", ack_text.c_str(),
                ack->size());
  }

  // 4. Garbage, and a datagram cut short, are rejected with a reason.
  const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  (void)(*alpha_control)->Send((*beta)->local_address(), garbage);
  auto truncated = encoder->EncodeAnnouncement(
      alpha_header, serialization::Announcement{alpha_address, 1000});
  (void)(*alpha_control)
      ->Send((*beta)->local_address(), truncated->subspan(0, truncated->size() - 3));

  // 5. Goodbye.
  auto bye = encoder->EncodeGoodbye(alpha_header);
  (void)(*alpha_control)->Send((*beta)->local_address(), *bye);
  run_until([&] { return goodbye; });
  const network::LinkCounters counters = (*beta)->counters();
  std::printf(
      "beta  counters: datagrams_received=%llu bytes_received=%llu "
      "receive_calls=%llu\n",
      static_cast<unsigned long long>(counters.datagrams_received),
      static_cast<unsigned long long>(counters.bytes_received),
      static_cast<unsigned long long>(counters.receive_calls));
  return goodbye ? 0 : 1;
}

}  // namespace
}  // namespace glue

int main(int argc, char** argv) {
  glue::Options options;
  if (!glue::ParseOptions(argc, argv, &options)) return 2;
  return glue::Run(options);
}

// Datagrams per second over loopback through glue_network: one datagram per system
// call (Send + recvmsg) against batched (SendBatch/sendmmsg + recvmmsg), the latter
// with and without segmentation offload (UDP_SEGMENT + UDP_GRO), at 64 bytes, 1 KiB
// and the default MTU of 1400 bytes. Sender and receiver share one thread and one
// io_context, so each figure is the whole cost of moving a datagram.
//
//   build/bench/network_bench --benchmark_counters_tabular=true
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "glue/network/udp_socket.h"

namespace glue::network {
namespace {

constexpr size_t kBurst = 32;  // datagrams per round: what one sendmmsg carries here
constexpr int kMtu = 1400;

struct Loopback {
  Loopback(size_t receive_batch, bool offload) {
    UdpSocketOptions options;
    options.bind_address = Address(boost::asio::ip::make_address("127.0.0.1"), 0);
    options.receive_batch = receive_batch;
    options.segmentation_offload = offload;
    options.receive_buffer_bytes = 4 << 20;
    options.send_buffer_bytes = 4 << 20;
    sender = *UdpSocket::Open(io.get_executor(), options);
    receiver = *UdpSocket::Open(io.get_executor(), options);
    (void)receiver->Start([this](const ReceivedDatagram& d) {
      ++received;
      benchmark::DoNotOptimize(d.bytes.data());
    });
  }

  // Runs the io_context until `target` datagrams have arrived; false if they stall.
  bool ReceiveUntil(uint64_t target) {
    while (received < target) {
      if (io.stopped()) io.restart();
      if (io.run_one_for(std::chrono::milliseconds(200)) == 0) return false;
    }
    return true;
  }

  boost::asio::io_context io;
  std::unique_ptr<UdpSocket> sender;
  std::unique_ptr<UdpSocket> receiver;
  uint64_t received = 0;
};

void Report(benchmark::State& state, const Loopback& loopback, size_t size) {
  const LinkCounters out = loopback.sender->counters();
  const LinkCounters in = loopback.receiver->counters();
  state.SetItemsProcessed(static_cast<int64_t>(loopback.received));
  state.SetBytesProcessed(static_cast<int64_t>(loopback.received * size));
  state.counters["datagrams_per_send_call"] =
      static_cast<double>(out.datagrams_sent) / static_cast<double>(out.send_calls);
  state.counters["datagrams_per_receive_call"] =
      static_cast<double>(in.datagrams_received) / static_cast<double>(in.receive_calls);
  state.counters["dropped_by_kernel"] = static_cast<double>(in.dropped_by_kernel);
}

void BM_LoopbackOnePerCall(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  Loopback loopback(/*receive_batch=*/1, /*offload=*/false);
  const std::vector<uint8_t> payload(size, 0x42);
  const Address to = loopback.receiver->local_address();
  for (auto _ : state) {
    for (size_t i = 0; i < kBurst; ++i) (void)loopback.sender->Send(to, payload);
    if (!loopback.ReceiveUntil(loopback.sender->counters().datagrams_sent)) {
      state.SkipWithError("datagrams lost on loopback");
      break;
    }
  }
  Report(state, loopback, size);
}

void BM_LoopbackBatched(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  Loopback loopback(/*receive_batch=*/kBurst, /*offload=*/state.range(1) != 0);
  const std::vector<uint8_t> payload(size, 0x42);
  const std::vector<OutgoingDatagram> batch(
      kBurst, OutgoingDatagram{loopback.receiver->local_address(), payload});
  for (auto _ : state) {
    absl::Span<const OutgoingDatagram> rest = absl::MakeConstSpan(batch);
    while (!rest.empty()) {
      absl::StatusOr<size_t> sent = loopback.sender->SendBatch(rest);
      if (!sent.ok()) break;
      rest.remove_prefix(*sent);
    }
    if (!loopback.ReceiveUntil(loopback.sender->counters().datagrams_sent)) {
      state.SkipWithError("datagrams lost on loopback");
      break;
    }
  }
  Report(state, loopback, size);
}

BENCHMARK(BM_LoopbackOnePerCall)->Arg(64)->Arg(1024)->Arg(kMtu);
BENCHMARK(BM_LoopbackBatched)
    ->ArgNames({"size", "offload"})
    ->ArgsProduct({{64, 1024, kMtu}, {0, 1}});

}  // namespace
}  // namespace glue::network

BENCHMARK_MAIN();

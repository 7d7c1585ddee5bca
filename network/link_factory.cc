#include "glue/network/link_factory.h"

#include "glue/base/status_macros.h"

namespace glue::network {
namespace {

class SocketFactory final : public LinkFactory {
 public:
  absl::StatusOr<std::unique_ptr<DatagramLink>> Open(
      const boost::asio::any_io_executor& executor, const UdpSocketOptions& options,
      absl::Span<const boost::asio::ip::address> groups) override {
    GLUE_ASSIGN_OR_RETURN(std::unique_ptr<UdpSocket> socket,
                          UdpSocket::Open(executor, options));
    for (const boost::asio::ip::address& group : groups) {
      GLUE_RETURN_IF_ERROR(socket->JoinGroup(group));
    }
    return std::unique_ptr<DatagramLink>(std::move(socket));
  }
};

}  // namespace

LinkFactory& SystemLinks() {
  static SocketFactory* const factory = new SocketFactory();
  return *factory;
}

}  // namespace glue::network

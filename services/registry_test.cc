// The registry over endpoints on the simulated network, asked over real HTTP on
// loopback, with a webhook receiver of the test's own.
#include "glue/services/registry.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "endpoint/endpoint_test_fixture.h"
#include "glue/endpoint/endpoint.h"
#include "gmock/gmock.h"

namespace glue::services {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using ::testing::HasSubstr;

struct Reply {
  int status = 0;
  std::string body;
  std::string allow;
};

// Ask sends one request to 127.0.0.1:`port` and returns the answer (status 0 when
// the connection failed).
Reply Ask(uint16_t port, http::verb verb, const std::string& target,
          const std::string& body = "") {
  net::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return {};
  http::request<http::string_body> request{verb, target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.body() = body;
  request.prepare_payload();
  http::write(stream, request, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  if (!ec) http::read(stream, buffer, response, ec);
  if (ec) return {};
  return {static_cast<int>(response.result_int()), response.body(),
          std::string(response[http::field::allow])};
}

// Receiver takes webhook POSTs on a port of its own, answering 204, and keeps their
// bodies.
class Receiver {
 public:
  Receiver() : acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] {
      for (;;) {
        beast::error_code ec;
        tcp::socket socket(io_);
        acceptor_.accept(socket, ec);
        if (ec || stopping_) return;
        beast::flat_buffer buffer;
        http::request<http::string_body> request;
        http::read(socket, buffer, request, ec);
        if (ec) continue;
        inbox_.Add(request.body());
        http::response<http::empty_body> response{http::status::no_content, 11};
        http::write(socket, response, ec);
      }
    });
  }
  ~Receiver() {
    stopping_ = true;
    beast::error_code ec;
    tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ec);  // wakes the accept
    thread_.join();
  }
  std::string url() const {
    return absl::StrCat("http://127.0.0.1:", acceptor_.local_endpoint().port(), "/hook");
  }
  Inbox& inbox() { return inbox_; }

 private:
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  Inbox inbox_;
  std::thread thread_;
};

class RegistryTest : public EndpointTest {
 protected:
  struct Node {
    Inbox peers;
    std::unique_ptr<Endpoint> endpoint;
    std::unique_ptr<model::Model> models[3];
    std::unique_ptr<Registry> registry;
    uint16_t port() const { return registry->port(); }
  };

  void TearDown() override {
    for (Node& n : nodes_) {
      n.registry.reset();
      for (auto& m : n.models) m.reset();
      if (n.endpoint) n.endpoint->Stop();
    }
  }

  Node& Add(uint64_t id, RegistryOptions options = {}) {
    Node& n = nodes_[id - 1];
    n.endpoint = Make(id, &n.peers);
    EXPECT_TRUE(n.endpoint);
    const char* names[3] = {kAppModelName, kServiceModelName, kHookModelName};
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<std::unique_ptr<model::Model>> m = n.endpoint->OpenModel(names[i]);
      EXPECT_OK(m);
      n.models[i] = *std::move(m);
    }
    options.listen = "127.0.0.1:0";
    options.member_id = id;
    options.member_name = absl::StrCat("endpoint-", id);
    absl::StatusOr<std::unique_ptr<Registry>> r =
        Registry::Start(*n.models[0], *n.models[1], *n.models[2], options);
    EXPECT_OK(r);
    if (r.ok()) n.registry = *std::move(r);
    return n;
  }

  Node nodes_[2];
};

TEST(ResourceNames, AreLettersDigitsDashesUnderscoresAndDots) {
  EXPECT_OK(ValidateResourceName("web-1.example_2"));
  EXPECT_FALSE(ValidateResourceName("").ok());
  EXPECT_FALSE(ValidateResourceName("..").ok());
  EXPECT_FALSE(ValidateResourceName("a b").ok());
  EXPECT_FALSE(ValidateResourceName("a%2F").ok());
}

TEST_F(RegistryTest, WhatOneRegistryTakesTheOtherServesAndEachChangeIsPostedOnce) {
  Node& a = Add(1);
  Node& b = Add(2);
  Receiver receiver;
  ASSERT_TRUE(Eventually(
      [&] { return a.models[2]->replicas() == 1 && b.models[2]->replicas() == 1; }));
  // The webhook first: a change is posted to the webhooks there when it is handled.
  EXPECT_EQ(Ask(b.port(), http::verb::post, "/app/dm/web-hooks",
                absl::StrCat(R"({"name":"h","endpoint":")", receiver.url(), R"("})"))
                .status,
            201);
  ASSERT_TRUE(Eventually([&] {
    return Ask(a.port(), http::verb::get, "/app/dm/web-hooks/h").status == 200;
  }));
  EXPECT_EQ(Ask(a.port(), http::verb::put, "/app/dm", R"({"name":"dm","config":{"a":2}})")
                .status,
            200);
  ASSERT_TRUE(Eventually(
      [&] { return Ask(b.port(), http::verb::get, "/app/dm").status == 200; }));
  EXPECT_THAT(Ask(b.port(), http::verb::get, "/app").body,
              HasSubstr(R"("config":{"a":2})"));
  EXPECT_EQ(Ask(b.port(), http::verb::delete_, "/app/dm").status, 204);
  // The next write after a has seen the delete: one made before would be concurrent
  // with it and win over it (the model's rule), and a's replica would never show the
  // delete, a change it then has none of to post.
  ASSERT_TRUE(Eventually(
      [&] { return Ask(a.port(), http::verb::get, "/app/dm").status == 404; }));
  EXPECT_EQ(Ask(a.port(), http::verb::put, "/app/dm", R"({"name":"dm","config":{"a":3}})")
                .status,
            200);
  ASSERT_TRUE(receiver.inbox().WaitFor(3));
  const std::vector<std::string> posts = receiver.inbox().payloads();
  ASSERT_EQ(posts.size(), 3u);
  EXPECT_THAT(posts[0], HasSubstr(R"("event":"put")"));
  EXPECT_THAT(posts[1], HasSubstr(R"("event":"delete")"));
  EXPECT_THAT(posts[2], HasSubstr(R"("event":"put")"));
  // One registry posted each (counted once it has the answer, after the receiver
  // kept the body): the other counted it as not its own.
  auto deliveries = [&] {
    return a.registry->counters().deliveries + b.registry->counters().deliveries;
  };
  ASSERT_TRUE(Eventually([&] { return deliveries() == 3; }));
  EXPECT_EQ(a.registry->counters().not_ours + b.registry->counters().not_ours, 3u);
}

TEST_F(RegistryTest, BadRequestsGetJsonErrorsThatFit) {
  Node& a = Add(1, {.max_body_bytes = 64});
  const uint16_t port = a.port();
  Reply r = Ask(port, http::verb::put, "/app/x", R"({"name":)");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("not JSON"));
  r = Ask(port, http::verb::put, "/srv/s/h", R"({"name":"h"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("missing field: endpoints"));
  EXPECT_EQ(
      Ask(port, http::verb::put, "/srv/s/h?ttl=abc", R"({"name":"h","endpoints":{}})")
          .status,
      400);
  EXPECT_EQ(Ask(port, http::verb::get, "/app/none").status, 404);
  EXPECT_EQ(Ask(port, http::verb::get, "/nothing").status, 404);
  r = Ask(port, http::verb::patch, "/app/x");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.allow, "GET, HEAD, PUT, DELETE");
  EXPECT_EQ(Ask(port, http::verb::put, "/app/x", std::string(100, 'x')).status, 413);
  EXPECT_EQ(Ask(port, http::verb::post, "/app/x/web-hooks",
                R"({"name":"w","endpoint":"ftp://x/"})")
                .status,
            400);
  EXPECT_GE(a.registry->counters().errors, 8u);
}

TEST_F(RegistryTest, ARegistrationWithATimeToLiveLeavesByItself) {
  Node& a = Add(1);
  EXPECT_EQ(
      Ask(a.port(), http::verb::put, "/srv/s/h?ttl=0.2", R"({"name":"h","endpoints":{}})")
          .status,
      200);
  EXPECT_EQ(Ask(a.port(), http::verb::get, "/srv/s/h").status, 200);
  EXPECT_TRUE(Eventually(
      [&] { return Ask(a.port(), http::verb::get, "/srv/s/h").status == 404; }));
}

TEST_F(RegistryTest, StopsWithAStreamOpenAndDeliveriesPending) {
  Node& a = Add(1, {.first_retry = absl::Seconds(30)});
  // A webhook nobody answers: its delivery waits to be tried again.
  ASSERT_EQ(Ask(a.port(), http::verb::post, "/app/x/web-hooks",
                R"({"name":"w","endpoint":"http://127.0.0.1:1/"})")
                .status,
            201);
  ASSERT_EQ(Ask(a.port(), http::verb::put, "/app/x", R"({"name":"x","config":1})").status,
            200);
  ASSERT_TRUE(Eventually([&] { return a.registry->counters().delivery_failures > 0; }));
  // A stream, left open.
  net::io_context io;
  tcp::socket stream(io);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), a.port()));
  const std::string request = "GET /app?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n";
  net::write(stream, net::buffer(request));
  ASSERT_TRUE(Eventually([&] { return a.registry->counters().watchers == 1; }));
  a.registry.reset();  // returns, with nothing left running
  boost::system::error_code ec;
  std::string rest;
  net::read(stream, net::dynamic_buffer(rest), ec);
  EXPECT_EQ(ec, net::error::eof);  // the stream was closed
}

}  // namespace
}  // namespace glue::services

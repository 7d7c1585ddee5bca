#include "glue/discovery/dns_resolver.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <deque>
#include <memory>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/memory/memory.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "glue/base/status_macros.h"

namespace glue::discovery {
namespace {

// The wait for the network is real here (the call blocks on c-ares' sockets), so its
// deadline is on the monotonic clock rather than on an injected Clock.
using SteadyClock = std::chrono::steady_clock;

constexpr uint16_t kDefaultDnsServerPort = 53;

// How often c-ares sends a query that gets no answer. The first wait is a quarter of
// the timeout and c-ares doubles it at each round, so with one server the third
// sending still falls within the timeout.
constexpr int kTries = 3;

absl::Status InitializeLibrary() {
  // ares_library_init is not thread-safe and counts its calls; a function-local static
  // makes this process call it once, and never ares_library_cleanup, which would
  // pull it from under another thread's channel.
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  if (status != ARES_SUCCESS) {
    return absl::InternalError(
        absl::StrCat("c-ares could not be initialized: ", ares_strerror(status)));
  }
  return absl::OkStatus();
}

// FromAres returns the status of a lookup of `name` that c-ares ended with `status`,
// grouped by what the caller does next: kNotFound (the records are not there),
// kUnavailable (ask again later), kInvalidArgument (fix the query).
absl::Status FromAres(int status, absl::string_view name, absl::string_view servers) {
  const std::string message = absl::StrCat("DNS lookup of '", name, "' at ", servers,
                                           ": ", ares_strerror(status));
  switch (status) {
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
      return absl::NotFoundError(message);
    case ARES_ETIMEOUT:
    case ARES_ECONNREFUSED:
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ENOTIMP:
    case ARES_EFORMERR:
    case ARES_EBADRESP:
    case ARES_ECANCELLED:
      return absl::UnavailableError(message);
    case ARES_EBADNAME:
      return absl::InvalidArgumentError(message);
    case ARES_ENOMEM:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

// ChannelError returns the status of a failure to set a channel up: `what`, then
// c-ares' reason.
absl::Status ChannelError(absl::string_view what, int status) {
  const std::string message = absl::StrCat(what, ": ", ares_strerror(status));
  if (status == ARES_ENOMEM) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

bool IsNoRecord(int status) { return status == ARES_ENOTFOUND || status == ARES_ENODATA; }

// ToIp returns the address of a c-ares result node, or std::nullopt for a family
// other than IPv4 and IPv6.
std::optional<boost::asio::ip::address> ToIp(const ares_addrinfo_node& node) {
  if (node.ai_family == AF_INET && node.ai_addrlen >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(node.ai_addr);
    boost::asio::ip::address_v4::bytes_type bytes;
    std::memcpy(bytes.data(), &in->sin_addr, bytes.size());
    return boost::asio::ip::address_v4(bytes);
  }
  if (node.ai_family == AF_INET6 && node.ai_addrlen >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(node.ai_addr);
    boost::asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), &in6->sin6_addr, bytes.size());
    return boost::asio::ip::address_v6(bytes, in6->sin6_scope_id);
  }
  return std::nullopt;
}

class Lookup;

// What a SRV query found: its c-ares status and, on success, each record's target
// and port.
struct SrvResult {
  int status = ARES_EDESTRUCTION;
  std::vector<std::pair<std::string, uint16_t>> records;
};

// What the A and AAAA queries of one host found, and the lookup that sent them.
struct AddressResult {
  Lookup* lookup = nullptr;
  std::string host;
  int status = ARES_EDESTRUCTION;
  std::vector<std::pair<boost::asio::ip::address, absl::Duration>> addresses;
};

// Lookup is one call's c-ares channel: the queries it has under way, the sockets
// c-ares asks to be watched for them, and their results. Its callbacks run inside Run,
// on the calling thread, and inside the destructor for queries still under way.
class Lookup {
 public:
  // Open makes a channel that asks `server`, or the servers of the system's resolver
  // configuration, waiting a quarter of `timeout` for the first answer of a query.
  static absl::StatusOr<std::unique_ptr<Lookup>> Open(
      const std::optional<network::Address>& server, absl::Duration timeout) {
    GLUE_RETURN_IF_ERROR(InitializeLibrary());
    auto lookup = absl::WrapUnique(new Lookup());
    ares_options options{};
    int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
    options.timeout = static_cast<int>(
        std::clamp<int64_t>(absl::ToInt64Milliseconds(timeout) / 4, 1, INT_MAX));
    options.tries = kTries;
    options.sock_state_cb = &Lookup::OnSocketState;
    options.sock_state_cb_data = lookup.get();
    // A server of the caller's choice is asked about the name as given: the search
    // domains and hosts file of this machine belong to its own resolver, not to it.
    // Its SERVFAIL or REFUSED is the answer: c-ares 1.18 would otherwise take it for
    // a server to skip and, there being no other, report "Could not contact DNS
    // servers". The system's servers keep that behaviour, so that the next one is
    // asked.
    std::string dns_only = "b";
    if (server.has_value()) {
      mask |= ARES_OPT_DOMAINS | ARES_OPT_LOOKUPS | ARES_OPT_FLAGS;
      options.domains = nullptr;
      options.ndomains = 0;
      options.lookups = dns_only.data();
      options.flags = ARES_FLAG_NOCHECKRESP;
    }
    if (const int status = ares_init_options(&lookup->channel_, &options, mask);
        status != ARES_SUCCESS) {
      lookup->channel_ = nullptr;
      return ChannelError("could not open a c-ares channel", status);
    }
    if (server.has_value()) {
      ares_addr_port_node node{};
      if (server->address().is_v4()) {
        node.family = AF_INET;
        const auto bytes = server->address().to_v4().to_bytes();
        std::memcpy(&node.addr.addr4, bytes.data(), bytes.size());
      } else {
        node.family = AF_INET6;
        const auto bytes = server->address().to_v6().to_bytes();
        std::memcpy(&node.addr.addr6, bytes.data(), bytes.size());
      }
      node.udp_port = server->port();
      node.tcp_port = server->port();
      if (const int status = ares_set_servers_ports(lookup->channel_, &node);
          status != ARES_SUCCESS) {
        return ChannelError(absl::StrCat("c-ares refused the DNS server ",
                                         network::FormatAddress(*server)),
                            status);
      }
      lookup->servers_ = absl::StrCat("DNS server ", network::FormatAddress(*server));
    } else {
      lookup->servers_ = lookup->SystemServers();
    }
    return lookup;
  }

  ~Lookup() {
    // Ends the queries still under way, whose callbacks write into the members.
    if (channel_ != nullptr) ares_destroy(channel_);
  }

  Lookup(const Lookup&) = delete;
  Lookup& operator=(const Lookup&) = delete;

  // Who is asked, for messages: `DNS server IP:PORT` or the system's servers.
  const std::string& servers() const { return servers_; }

  // StartSrv sends the SRV query of `name`, searching the domains of the system's
  // configuration when no server was given; Run then fills the result.
  const SrvResult& StartSrv(const std::string& name) {
    ++pending_;
    ares_search(channel_, name.c_str(), ns_c_in, ns_t_srv, &Lookup::OnSrv, this);
    return srv_;
  }

  // StartAddresses sends the A and AAAA queries of `host`; Run then fills the result.
  const AddressResult& StartAddresses(std::string host) {
    AddressResult& result = addresses_.emplace_back();
    result.lookup = this;
    result.host = std::move(host);
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    // c-ares' sorting by RFC 6724 opens a socket per address to find its source
    // address; the answer is sorted by address anyway.
    hints.ai_flags = ARES_AI_NOSORT;
    ++pending_;
    ares_getaddrinfo(channel_, result.host.c_str(), nullptr, &hints, &Lookup::OnAddresses,
                     &result);
    return result;
  }

  // Run lets c-ares send and receive until every query started has its answer, or
  // `deadline` passes: then it cancels those left and returns kUnavailable naming
  // `what` was looked up and `timeout`.
  absl::Status Run(SteadyClock::time_point deadline, absl::string_view what,
                   absl::Duration timeout) {
    std::vector<pollfd> watched;
    while (pending_ > 0) {
      const SteadyClock::time_point now = SteadyClock::now();
      if (now >= deadline) {
        ares_cancel(channel_);
        return absl::UnavailableError(absl::StrCat("DNS lookup of '", what, "' at ",
                                                   servers_, ": no answer within ",
                                                   absl::FormatDuration(timeout)));
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
      timeval most{.tv_sec = static_cast<time_t>(left.count() / 1'000'000),
                   .tv_usec = static_cast<suseconds_t>(left.count() % 1'000'000)};
      timeval next{};
      const timeval* wait = ares_timeout(channel_, &most, &next);
      // Rounded up, so that the wait never ends just before c-ares' own timer.
      const int64_t wait_ms =
          int64_t{wait->tv_sec} * 1000 + (int64_t{wait->tv_usec} + 999) / 1000;

      watched.clear();
      for (const auto& [fd, events] : sockets_) watched.push_back({fd, events, 0});
      const int ready = ::poll(watched.data(), watched.size(),
                               static_cast<int>(std::min<int64_t>(wait_ms, INT_MAX)));
      if (ready < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(absl::StrCat(
            "DNS lookup of '", what, "': poll failed: ", std::strerror(errno)));
      }
      if (ready == 0) {
        // Only c-ares' timers: resend or give up on the queries that waited too long.
        ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        continue;
      }
      for (const pollfd& socket : watched) {
        if (socket.revents == 0 || (socket.revents & POLLNVAL) != 0) continue;
        // An error (an ICMP port unreachable) is read to be seen, so it counts as
        // readable.
        const bool readable = (socket.revents & (POLLIN | POLLERR | POLLHUP)) != 0;
        const bool writable = (socket.revents & POLLOUT) != 0;
        ares_process_fd(channel_, readable ? socket.fd : ARES_SOCKET_BAD,
                        writable ? socket.fd : ARES_SOCKET_BAD);
      }
    }
    return absl::OkStatus();
  }

 private:
  Lookup() = default;

  // SystemServers names the servers the system's configuration gave c-ares.
  std::string SystemServers() const {
    ares_addr_port_node* list = nullptr;
    if (ares_get_servers_ports(channel_, &list) != ARES_SUCCESS) {
      return "the system's DNS servers";
    }
    std::vector<std::string> names;
    for (const ares_addr_port_node* node = list; node != nullptr; node = node->next) {
      network::Address address;
      if (node->family == AF_INET) {
        boost::asio::ip::address_v4::bytes_type bytes;
        std::memcpy(bytes.data(), &node->addr.addr4, bytes.size());
        address.address(boost::asio::ip::address_v4(bytes));
      } else {
        boost::asio::ip::address_v6::bytes_type bytes;
        std::memcpy(bytes.data(), &node->addr.addr6, bytes.size());
        address.address(boost::asio::ip::address_v6(bytes));
      }
      // Port 0 stands for the channel's default, 53.
      address.port(node->udp_port != 0 ? node->udp_port : kDefaultDnsServerPort);
      names.push_back(network::FormatAddress(address));
    }
    ares_free_data(list);
    return absl::StrCat("the system's DNS servers (", absl::StrJoin(names, ", "), ")");
  }

  static void OnSocketState(void* data, ares_socket_t fd, int readable, int writable) {
    auto* lookup = static_cast<Lookup*>(data);
    if (readable == 0 && writable == 0) {
      lookup->sockets_.erase(fd);
      return;
    }
    lookup->sockets_[fd] =
        static_cast<short>((readable != 0 ? POLLIN : 0) | (writable != 0 ? POLLOUT : 0));
  }

  static void OnSrv(void* arg, int status, int /*timeouts*/, unsigned char* answer,
                    int length) {
    auto* lookup = static_cast<Lookup*>(arg);
    --lookup->pending_;
    SrvResult& result = lookup->srv_;
    result.status = status;
    if (status != ARES_SUCCESS) return;
    ares_srv_reply* replies = nullptr;
    result.status = ares_parse_srv_reply(answer, length, &replies);
    for (const ares_srv_reply* reply = replies; reply != nullptr; reply = reply->next) {
      result.records.emplace_back(reply->host, reply->port);
    }
    ares_free_data(replies);
  }

  static void OnAddresses(void* arg, int status, int /*timeouts*/, ares_addrinfo* info) {
    AddressResult& result = *static_cast<AddressResult*>(arg);
    --result.lookup->pending_;
    result.status = status;
    if (info == nullptr) return;
    for (const ares_addrinfo_node* node = info->nodes; node != nullptr;
         node = node->ai_next) {
      if (std::optional<boost::asio::ip::address> ip = ToIp(*node)) {
        result.addresses.emplace_back(*ip, absl::Seconds(std::max(node->ai_ttl, 0)));
      }
    }
    ares_freeaddrinfo(info);
  }

  // The callbacks that ares_destroy runs in the destructor's body write into these;
  // members are destroyed only after it. A deque, so that a result stays where its
  // query's callback will find it while more are added.
  absl::flat_hash_map<ares_socket_t, short> sockets_;
  SrvResult srv_;
  std::deque<AddressResult> addresses_;
  int pending_ = 0;
  std::string servers_;
  ares_channel channel_ = nullptr;
};

// Accumulates the addresses of an answer and the smallest TTL among them.
class AnswerBuilder {
 public:
  void Add(const AddressResult& result, uint16_t port) {
    for (const auto& [address, ttl] : result.addresses) {
      answer_.addresses.emplace_back(address, port);
      ttl_ = std::min(ttl_, ttl);
    }
  }

  bool empty() const { return answer_.addresses.empty(); }

  DnsAnswer Finish(bool from_srv, bool truncated) && {
    std::vector<network::Address>& addresses = answer_.addresses;
    absl::c_sort(addresses);
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
    if (addresses.size() > kMaxDnsAddresses) {
      addresses.resize(kMaxDnsAddresses);
      truncated = true;
    }
    answer_.from_srv = from_srv;
    answer_.truncated = truncated;
    answer_.address_ttl = addresses.empty() ? absl::ZeroDuration() : ttl_;
    return std::move(answer_);
  }

 private:
  DnsAnswer answer_;
  absl::Duration ttl_ = absl::InfiniteDuration();
};

// ResolveTargets looks up the addresses of the SRV records `records` of `srv_name`.
absl::StatusOr<DnsAnswer> ResolveTargets(
    Lookup& lookup, const std::string& srv_name,
    const std::vector<std::pair<std::string, uint16_t>>& records,
    SteadyClock::time_point deadline, absl::Duration timeout) {
  // Each target once, with every port it is given: several endpoints may share a
  // host. Names compare without case, as DNS compares them; ordered, so that the
  // targets kept at the bound are the same for every endpoint.
  absl::btree_map<std::string, absl::btree_set<uint16_t>> targets;
  for (const auto& [host, port] : records) {
    // RFC 2782: a target of "." means that the service is not there; port 0 is no
    // port to send to.
    if (host.empty() || host == "." || port == 0) continue;
    targets[absl::AsciiStrToLower(host)].insert(port);
  }
  if (targets.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "DNS lookup of '", srv_name, "' at ", lookup.servers(), ": ", records.size(),
        " SRV records, none with a target to reach (a target of '.' or port 0)"));
  }
  const bool truncated = targets.size() > kMaxDnsSrvTargets;
  std::vector<std::pair<const AddressResult*, const absl::btree_set<uint16_t>*>> started;
  for (const auto& [host, ports] : targets) {
    if (started.size() == kMaxDnsSrvTargets) break;
    // Absolute, so that no search domain is tried: a target is a whole name.
    started.emplace_back(&lookup.StartAddresses(absl::StrCat(host, ".")), &ports);
  }
  GLUE_RETURN_IF_ERROR(lookup.Run(deadline, srv_name, timeout));

  AnswerBuilder builder;
  for (const auto& [result, ports] : started) {
    if (IsNoRecord(result->status)) continue;
    if (result->status != ARES_SUCCESS) {
      return FromAres(result->status, result->host, lookup.servers());
    }
    for (uint16_t port : *ports) builder.Add(*result, port);
  }
  if (builder.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "DNS lookup of '", srv_name, "' at ", lookup.servers(), ": none of its ",
        started.size(), " SRV targets has an A or AAAA record"));
  }
  return std::move(builder).Finish(/*from_srv=*/true, truncated);
}

absl::Status InvalidName(absl::string_view name, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("DNS name '", absl::CHexEscape(name), "': ", why));
}

absl::Status InvalidServer(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("DNS server '", absl::CHexEscape(text), "': ", why));
}

}  // namespace

absl::Status ValidateDnsName(absl::string_view name) {
  absl::string_view relative = name;
  absl::ConsumeSuffix(&relative, ".");
  if (relative.empty()) return InvalidName(name, "empty");
  if (relative.size() > kMaxDnsNameBytes) {
    return InvalidName(name, absl::StrCat(relative.size(), " bytes; at most ",
                                          kMaxDnsNameBytes, " (253, less the prefix '",
                                          kDnsSrvPrefix, "' of its SRV name)"));
  }
  for (absl::string_view label : absl::StrSplit(relative, '.')) {
    if (label.empty()) return InvalidName(name, "an empty label (two dots in a row?)");
    if (label.size() > 63) {
      return InvalidName(name, absl::StrCat("the label '", label, "' is ", label.size(),
                                            " bytes; at most 63"));
    }
    const bool allowed = absl::c_all_of(label, [](char c) {
      return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
    if (!allowed) {
      return InvalidName(name, absl::StrCat("the label '", absl::CHexEscape(label),
                                            "' has a character other than a letter, a "
                                            "digit, '-' or '_'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<network::Address> ParseDnsServer(absl::string_view text) {
  network::Address server;
  boost::system::error_code error;
  const boost::asio::ip::address bare =
      boost::asio::ip::make_address(std::string(text), error);
  if (!error) {
    server = network::Address(bare, kDefaultDnsServerPort);
  } else {
    // A server named by a host name would need a DNS server to be found.
    absl::StatusOr<network::Address> parsed = network::ParseAddress(
        text, [](const std::string& host) -> absl::StatusOr<boost::asio::ip::address> {
          return absl::InvalidArgumentError(
              absl::StrCat("'", host, "' is a host name, not an IP address"));
        });
    if (!parsed.ok()) {
      return InvalidServer(
          text, absl::StrCat("expected IP or IP:PORT (", parsed.status().message(), ")"));
    }
    server = *parsed;
  }
  if (server.port() == 0) return InvalidServer(text, "port 0 is no port to ask");
  if (server.address().is_unspecified() || server.address().is_multicast()) {
    return InvalidServer(text, "not the address of one host");
  }
  if (server.address().is_v6() && server.address().to_v6().scope_id() != 0) {
    return InvalidServer(text,
                         "c-ares 1.18 cannot send to an IPv6 address with a scope id");
  }
  return server;
}

absl::StatusOr<DnsAnswer> ResolvePeers(const DnsQuery& query) {
  GLUE_RETURN_IF_ERROR(ValidateDnsName(query.name));
  std::optional<network::Address> server;
  if (query.server.has_value()) {
    GLUE_ASSIGN_OR_RETURN(server, ParseDnsServer(*query.server));
  }
  if (query.default_port == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("DNS lookup of '", query.name,
                     "': default port 0; the addresses of A and AAAA records need a port "
                     "in 1..65535"));
  }
  if (query.timeout <= absl::ZeroDuration() ||
      query.timeout == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DNS lookup of '", query.name, "': timeout ", absl::FormatDuration(query.timeout),
        "; expected positive and finite"));
  }
  const SteadyClock::time_point deadline =
      SteadyClock::now() + absl::ToChronoNanoseconds(query.timeout);
  GLUE_ASSIGN_OR_RETURN(std::unique_ptr<Lookup> lookup,
                        Lookup::Open(server, query.timeout));

  const std::string srv_name = absl::StrCat(kDnsSrvPrefix, query.name);
  const SrvResult& srv = lookup->StartSrv(srv_name);
  GLUE_RETURN_IF_ERROR(lookup->Run(deadline, srv_name, query.timeout));
  if (srv.status == ARES_SUCCESS) {
    return ResolveTargets(*lookup, srv_name, srv.records, deadline, query.timeout);
  }
  // A failing server is reported rather than taken as "no SRV records", which would
  // turn peers found by SRV into the name's own addresses for a while.
  if (!IsNoRecord(srv.status)) {
    return FromAres(srv.status, srv_name, lookup->servers());
  }

  const AddressResult& result = lookup->StartAddresses(query.name);
  GLUE_RETURN_IF_ERROR(lookup->Run(deadline, query.name, query.timeout));
  if (IsNoRecord(result.status)) {
    return absl::NotFoundError(absl::StrCat("DNS lookup of '", query.name, "' at ",
                                            lookup->servers(), ": no SRV record for '",
                                            srv_name, "' and no A or AAAA record (",
                                            ares_strerror(result.status), ")"));
  }
  if (result.status != ARES_SUCCESS) {
    return FromAres(result.status, query.name, lookup->servers());
  }
  AnswerBuilder builder;
  builder.Add(result, query.default_port);
  return std::move(builder).Finish(/*from_srv=*/false, /*truncated=*/false);
}

absl::StatusOr<std::optional<DnsConfig>> DnsConfigFromEnvironment(
    const EnvironmentLookup& env) {
  GLUE_ASSIGN_OR_RETURN(std::optional<std::string> name,
                        GetOptionalString(env, kDnsNameVariable));
  if (!name.has_value()) {
    for (absl::string_view variable :
         {kDnsServerVariable, kDnsPortVariable, kDnsIntervalVariable}) {
      if (std::optional<std::string> value = env(variable); value.has_value()) {
        return VariableError(variable, *value, absl::StatusCode::kInvalidArgument,
                             absl::StrCat("set, but ", kDnsNameVariable,
                                          " is unset, so no DNS lookup would use it"));
      }
    }
    return std::optional<DnsConfig>();
  }

  DnsConfig config;
  if (absl::Status valid = ValidateDnsName(*name); !valid.ok()) {
    return VariableError(kDnsNameVariable, *name, valid.code(), valid.message());
  }
  config.name = *std::move(name);

  GLUE_ASSIGN_OR_RETURN(config.server, GetOptionalString(env, kDnsServerVariable));
  if (config.server.has_value()) {
    if (absl::StatusOr<network::Address> parsed = ParseDnsServer(*config.server);
        !parsed.ok()) {
      return VariableError(kDnsServerVariable, *config.server, parsed.status().code(),
                           parsed.status().message());
    }
  }

  if (env(kDnsPortVariable).has_value()) {
    GLUE_ASSIGN_OR_RETURN(uint64_t port, GetUint64(env, kDnsPortVariable, 0, 1, 65535));
    config.port = static_cast<uint16_t>(port);
  }

  GLUE_ASSIGN_OR_RETURN(
      uint64_t interval,
      GetUint64(env, kDnsIntervalVariable, kDefaultDnsIntervalMilliseconds,
                kMinDnsIntervalMilliseconds, kMaxDnsIntervalMilliseconds));
  config.interval = absl::Milliseconds(interval);
  return std::optional<DnsConfig>(std::move(config));
}

}  // namespace glue::discovery

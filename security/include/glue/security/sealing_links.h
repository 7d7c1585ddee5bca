// SealingLinks: a LinkFactory that wraps every link another factory opens in a
// SealingLink (sealing_link.h), all under one keyring read from a file and re-read
// when the file changes. In glue_security; the Endpoint puts it beneath discovery when
// a keyring is set, so that discovery and every layer above it see only authenticated
// datagrams and none of them changes.
//
//   GLUE_ASSIGN_OR_RETURN(SecurityOptions security, SecurityOptionsFromEnvironment(env));
//   if (security.enabled()) {
//     GLUE_ASSIGN_OR_RETURN(auto links, SealingLinks::Create(SystemLinks(), security,
//                                                             network_id));
//     ... Discovery::Create(strand, config, options, clock, *links) ...
//   }
//
// Rotation without downtime: add the new key to every endpoint's file, then move it
// first in every file, then remove the old key. Each endpoint re-reads its file within
// reread_interval of a change; a file that no longer reads is reported (once per
// change) and the keys in use are kept, so a half-edited file takes nothing down.
#ifndef GLUE_SECURITY_SEALING_LINKS_H_
#define GLUE_SECURITY_SEALING_LINKS_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "glue/base/clock.h"
#include "glue/base/environment.h"
#include "glue/network/link_factory.h"
#include "glue/security/sealing_link.h"

namespace glue::security {

// The variables SecurityOptionsFromEnvironment reads.
inline constexpr absl::string_view kKeyringFileVariable = "GLUE_KEYRING_FILE";
inline constexpr absl::string_view kAcceptUnsealedVariable =
    "GLUE_KEYRING_ACCEPT_UNSEALED";
inline constexpr absl::string_view kSendUnsealedVariable = "GLUE_KEYRING_SEND_UNSEALED";

// SecurityOptions say whether and how an endpoint seals its datagrams.
struct SecurityOptions {
  // The keyring file (keyring.h); empty: datagrams are neither sealed nor opened.
  // GLUE_KEYRING_FILE.
  std::string keyring_file;
  // Migration, as SealingOptions says: GLUE_KEYRING_ACCEPT_UNSEALED=1 hands up unsealed
  // datagrams too; GLUE_KEYRING_SEND_UNSEALED=1 sends unsealed ones. Both 0 by default.
  bool accept_unsealed = false;
  bool send_unsealed = false;
  // How often the file is checked for a change (its size, times and inode).
  absl::Duration reread_interval = absl::Seconds(1);
  // SealingOptions::max_senders, for each link.
  size_t max_senders = 4096;

  bool enabled() const { return !keyring_file.empty(); }
};

// SecurityOptionsFromEnvironment reads GLUE_KEYRING_FILE, GLUE_KEYRING_ACCEPT_UNSEALED
// and GLUE_KEYRING_SEND_UNSEALED (0 or 1). Errors, kInvalidArgument naming the
// variable: a value that does not parse, an empty file name, or either migration
// variable set to 1 without a keyring file. The file is not read here.
absl::StatusOr<SecurityOptions> SecurityOptionsFromEnvironment(
    const EnvironmentLookup& env);

// SealingLinks is a LinkFactory (any thread may call Open) and owns the thread that
// watches the keyring file. It must outlive the links it opens.
class SealingLinks final : public network::LinkFactory {
 public:
  // Create reads options.keyring_file (logging its warning, if any, and one line
  // naming the file, the number of keys and the sending key's id) and starts watching
  // it. `inner` and `clock` must outlive the SealingLinks. Errors: those of
  // ReadKeyringFile; kInvalidArgument when options are not enabled() or their
  // reread_interval is not positive or max_senders is 0.
  static absl::StatusOr<std::unique_ptr<SealingLinks>> Create(
      network::LinkFactory& inner, const SecurityOptions& options, uint64_t network_id,
      Clock& clock = SystemClock());

  ~SealingLinks() override;  // stops watching
  SealingLinks(const SealingLinks&) = delete;
  SealingLinks& operator=(const SealingLinks&) = delete;

  // Open opens a link of the inner factory and wraps it in a SealingLink under the
  // current keyring. Errors: the inner factory's.
  absl::StatusOr<std::unique_ptr<network::DatagramLink>> Open(
      const boost::asio::any_io_executor& executor,
      const network::UdpSocketOptions& options,
      absl::Span<const boost::asio::ip::address> groups) override;

  // Reread reads the file now, as the watcher does when the file changes: on success
  // every link opened (and every one opened later) seals with the new keyring's first
  // key and opens under any of its keys. Errors: those of ReadKeyringFile; the keyring
  // in use is kept then.
  absl::Status Reread();

  // counters returns the sum of the counters of the links open now, and of the keyring
  // file's reads: rereads (that succeeded) and reread_failures.
  struct Counters {
    SealingCounters links;
    uint64_t rereads = 0;
    uint64_t reread_failures = 0;
  };
  Counters counters() const;

  // sending_key_id returns the id of the key datagrams are sealed with now.
  std::string sending_key_id() const;

  // max_overhead returns the most bytes sealing can add to a datagram under any
  // keyring, whatever the length of its keys' ids: SealOverhead(kMaxKeyIdLength). The
  // layers above keep their datagrams this much shorter, so that a rotation to a key
  // of a longer id never makes a datagram too large.
  static size_t max_overhead();

 private:
  struct State;
  explicit SealingLinks(std::unique_ptr<State> state);
  static absl::Status Reread(State& state);

  std::unique_ptr<State> state_;
};

}  // namespace glue::security

#endif  // GLUE_SECURITY_SEALING_LINKS_H_

#include "glue/security/sealing_links.h"

#include <sys/stat.h>

#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glue/base/log.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
#include "glue/security/keyring.h"
#include "glue/security/sealer.h"

namespace glue::security {
namespace {

// FileSignature is what tells that a file changed without reading it: an editor that
// writes in place changes the size or the times, one that renames a new file over the
// old changes the inode.
struct FileSignature {
  bool exists = false;
  ino_t inode = 0;
  off_t size = 0;
  timespec modified{};
  timespec changed{};

  bool operator==(const FileSignature& other) const {
    return exists == other.exists && inode == other.inode && size == other.size &&
           modified.tv_sec == other.modified.tv_sec &&
           modified.tv_nsec == other.modified.tv_nsec &&
           changed.tv_sec == other.changed.tv_sec &&
           changed.tv_nsec == other.changed.tv_nsec;
  }
};

FileSignature Signature(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {true, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
}

void Add(const SealingCounters& from, SealingCounters* to) {
  to->sealed += from.sealed;
  to->sent_unsealed += from.sent_unsealed;
  to->too_large += from.too_large;
  to->opened += from.opened;
  to->accepted_unsealed += from.accepted_unsealed;
  to->not_sealed += from.not_sealed;
  to->unsupported_version += from.unsupported_version;
  to->truncated += from.truncated;
  to->unknown_key_id += from.unknown_key_id;
  to->tag_mismatch += from.tag_mismatch;
  to->replay += from.replay;
  to->too_old += from.too_old;
  to->windows += from.windows;
  to->windows_evicted += from.windows_evicted;
  to->challenges_sent += from.challenges_sent;
  to->responses_sent += from.responses_sent;
  to->senders_verified += from.senders_verified;
  to->held += from.held;
  to->held_dropped += from.held_dropped;
  to->unanswered += from.unanswered;
  to->pending += from.pending;
}

absl::StatusOr<bool> GetFlag(const EnvironmentLookup& env, absl::string_view name) {
  GLUE_ASSIGN_OR_RETURN(const uint64_t value, GetUint64(env, name, 0, 0, 1));
  return value == 1;
}

}  // namespace

absl::StatusOr<SecurityOptions> SecurityOptionsFromEnvironment(
    const EnvironmentLookup& env) {
  SecurityOptions options;
  GLUE_ASSIGN_OR_RETURN(std::optional<std::string> file,
                        GetOptionalString(env, kKeyringFileVariable));
  if (file.has_value()) options.keyring_file = std::move(*file);
  GLUE_ASSIGN_OR_RETURN(options.accept_unsealed, GetFlag(env, kAcceptUnsealedVariable));
  GLUE_ASSIGN_OR_RETURN(options.send_unsealed, GetFlag(env, kSendUnsealedVariable));
  for (const auto& [set, name] :
       {std::pair{options.accept_unsealed, kAcceptUnsealedVariable},
        std::pair{options.send_unsealed, kSendUnsealedVariable}}) {
    if (set && !options.enabled()) {
      return VariableError(
          name, "1", absl::StatusCode::kInvalidArgument,
          absl::StrCat("migration needs a keyring: set ", kKeyringFileVariable, " too"));
    }
  }
  return options;
}

struct SealingLinks::State {
  State(network::LinkFactory& i, const SecurityOptions& o, uint64_t n, Clock& c)
      : inner(i),
        options(o),
        network_id(n),
        clock(c),
        freshness(internal::MakeFreshness(o.max_senders, c)) {}

  network::LinkFactory& inner;
  const SecurityOptions options;
  const uint64_t network_id;
  Clock& clock;
  // The links' replay windows and challenges, shared.
  const std::shared_ptr<internal::Freshness> freshness;

  mutable Mutex mu;
  std::shared_ptr<const Keyring> keyring ABSL_GUARDED_BY(mu);
  std::vector<std::weak_ptr<internal::SealingState>> links ABSL_GUARDED_BY(mu);
  uint64_t rereads ABSL_GUARDED_BY(mu) = 0;
  uint64_t reread_failures ABSL_GUARDED_BY(mu) = 0;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  // Whether a link sends the challenges: the first opened without a group.
  bool have_challenger ABSL_GUARDED_BY(mu) = false;
  // The watcher's own.
  FileSignature signature;
  std::thread watcher;

  void Watch();
};

void SealingLinks::State::Watch() {
  absl::Time next = clock.Now() + options.reread_interval;
  for (;;) {
    {
      MutexLock lock(&mu);
      clock.AwaitUntil(
          &mu, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping; }, next);
      if (stopping) return;
      next = clock.Now() + options.reread_interval;
    }
    const FileSignature now = Signature(options.keyring_file);
    if (now == signature) continue;
    signature = now;
    // Reread logs what came of it; a file that does not read is said once per change.
    (void)SealingLinks::Reread(*this);
  }
}

absl::StatusOr<std::unique_ptr<SealingLinks>> SealingLinks::Create(
    network::LinkFactory& inner, const SecurityOptions& options, uint64_t network_id,
    Clock& clock) {
  if (!options.enabled()) return absl::InvalidArgumentError("no keyring file");
  if (options.reread_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the keyring's reread interval must be positive");
  }
  if (options.max_senders == 0) {
    return absl::InvalidArgumentError("max_senders is 0: no sender could be accepted");
  }
  auto state = std::make_unique<State>(inner, options, network_id, clock);
  state->signature = Signature(options.keyring_file);
  GLUE_ASSIGN_OR_RETURN(Keyring keyring, ReadKeyringFile(options.keyring_file));
  if (!keyring.warning().empty()) GLUE_LOG(kWarning, "security: %s", keyring.warning());
  GLUE_LOG(kInfo,
           "security: every datagram sealed under the keyring %s: %d key(s), sending "
           "with %s%s%s",
           options.keyring_file, keyring.keys().size(), keyring.sending_key().id,
           options.accept_unsealed ? "; unsealed datagrams accepted too" : "",
           options.send_unsealed ? "; sending unsealed" : "");
  {
    MutexLock lock(&state->mu);
    state->keyring = std::make_shared<const Keyring>(std::move(keyring));
  }
  State* s = state.get();
  s->watcher = std::thread([s] { s->Watch(); });
  return std::unique_ptr<SealingLinks>(new SealingLinks(std::move(state)));
}

SealingLinks::SealingLinks(std::unique_ptr<State> state) : state_(std::move(state)) {}

SealingLinks::~SealingLinks() {
  {
    MutexLock lock(&state_->mu);
    state_->stopping = true;
    state_->mu.NotifyAll();
  }
  if (state_->watcher.joinable()) state_->watcher.join();
}

absl::StatusOr<std::unique_ptr<network::DatagramLink>> SealingLinks::Open(
    const boost::asio::any_io_executor& executor,
    const network::UdpSocketOptions& options,
    absl::Span<const boost::asio::ip::address> groups) {
  State& s = *state_;
  GLUE_ASSIGN_OR_RETURN(std::unique_ptr<network::DatagramLink> inner,
                        s.inner.Open(executor, options, groups));
  SealingOptions sealing;
  sealing.network_id = s.network_id;
  sealing.accept_unsealed = s.options.accept_unsealed;
  sealing.send_unsealed = s.options.send_unsealed;
  sealing.max_senders = s.options.max_senders;
  // Made and registered under the lock, so that no reread falls in between.
  MutexLock lock(&s.mu);
  sealing.keyring = s.keyring;
  // Challenges go from a link of the endpoint's own address, not from one bound to a
  // multicast port that other endpoints share, so that the responses come back to it.
  const bool challenger = groups.empty() && !s.have_challenger;
  GLUE_ASSIGN_OR_RETURN(std::unique_ptr<SealingLink> link,
                        SealingLink::CreateShared(std::move(inner), sealing, s.clock,
                                                  s.freshness, executor, challenger));
  s.have_challenger = s.have_challenger || challenger;
  std::erase_if(s.links, [](const auto& weak) { return weak.expired(); });
  s.links.push_back(link->state_);
  return link;
}

absl::Status SealingLinks::Reread() { return Reread(*state_); }

absl::Status SealingLinks::Reread(State& s) {
  absl::StatusOr<Keyring> read = ReadKeyringFile(s.options.keyring_file);
  MutexLock lock(&s.mu);
  if (!read.ok()) {
    ++s.reread_failures;
    GLUE_LOG(kError,
             "security: the keyring file changed but does not read: %s; the keyring in "
             "use (%d key(s), sending with %s) is kept",
             read.status().ToString(), s.keyring->keys().size(),
             s.keyring->sending_key().id);
    return read.status();
  }
  if (!read->warning().empty()) GLUE_LOG(kWarning, "security: %s", read->warning());
  auto next = std::make_shared<const Keyring>(std::move(*read));
  GLUE_LOG(kInfo, "security: the keyring %s was read again: %d key(s), sending with %s",
           s.options.keyring_file, next->keys().size(), next->sending_key().id);
  std::erase_if(s.links, [](const auto& weak) { return weak.expired(); });
  for (const std::weak_ptr<internal::SealingState>& weak : s.links) {
    if (std::shared_ptr<internal::SealingState> link = weak.lock()) {
      internal::SetKeyringOf(*link, next);
    }
  }
  s.keyring = std::move(next);
  ++s.rereads;
  return absl::OkStatus();
}

SealingLinks::Counters SealingLinks::counters() const {
  MutexLock lock(&state_->mu);
  Counters counters;
  counters.rereads = state_->rereads;
  counters.reread_failures = state_->reread_failures;
  counters.links = internal::CountersOf(*state_->freshness);
  for (const std::weak_ptr<internal::SealingState>& weak : state_->links) {
    if (std::shared_ptr<internal::SealingState> link = weak.lock()) {
      Add(internal::CountersOf(*link), &counters.links);
    }
  }
  return counters;
}

std::string SealingLinks::sending_key_id() const {
  MutexLock lock(&state_->mu);
  return state_->keyring->sending_key().id;
}

size_t SealingLinks::max_overhead() { return SealOverhead(kMaxKeyIdLength); }

}  // namespace glue::security

#include "cmd/model_console.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace glue {
namespace {

constexpr char kCommands[] = "(the commands: put KEY VALUE, del KEY, dump, sync)";

void SkipBlanks(absl::string_view& text) {
  text.remove_prefix(std::min(text.find_first_not_of(" \t"), text.size()));
}

absl::string_view NextWord(absl::string_view& text) {
  SkipBlanks(text);
  const absl::string_view word = text.substr(0, text.find_first_of(" \t"));
  text.remove_prefix(word.size());
  return word;
}

// "VALUE by WRITER", escaped.
std::string ValueAndWriter(const model::Entry& entry) {
  return absl::StrCat(absl::CHexEscape(*entry.value), " by ",
                      absl::CHexEscape(entry.writer_name));
}

}  // namespace

absl::StatusOr<ModelCommand> ParseModelCommand(absl::string_view line) {
  absl::string_view rest = line;
  const absl::string_view verb = NextWord(rest);
  ModelCommand command;
  if (verb == "put") {
    command.kind = ModelCommand::Kind::kPut;
    command.key = std::string(NextWord(rest));
    SkipBlanks(rest);
    command.value = std::string(rest);
    if (command.key.empty() || command.value.empty()) {
      return absl::InvalidArgumentError("put needs a KEY and a VALUE");
    }
    return command;
  }
  if (verb == "del") {
    command.kind = ModelCommand::Kind::kDelete;
    command.key = std::string(NextWord(rest));
    if (command.key.empty() || !NextWord(rest).empty()) {
      return absl::InvalidArgumentError("del needs one KEY");
    }
    return command;
  }
  if (verb == "dump" || verb == "sync") {
    command.kind = verb == "dump" ? ModelCommand::Kind::kDump : ModelCommand::Kind::kSync;
    if (!NextWord(rest).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(verb, " takes nothing after it"));
    }
    return command;
  }
  if (verb.empty())
    return absl::InvalidArgumentError(absl::StrCat("no command ", kCommands));
  return absl::InvalidArgumentError(
      absl::StrCat("unknown command '", absl::CHexEscape(verb), "' ", kCommands));
}

std::string FormatModelEvent(absl::string_view name, const model::WatchEvent& event) {
  const std::string key = absl::CHexEscape(event.key);
  switch (event.kind) {
    case model::WatchEvent::Kind::kPut:
      return absl::StrFormat("model %s: put %s=%s\n", name, key,
                             ValueAndWriter(*event.new_entry));
    case model::WatchEvent::Kind::kDelete:
    case model::WatchEvent::Kind::kExpire:
      return absl::StrFormat(
          "model %s: %s %s (was %s)\n", name,
          event.kind == model::WatchEvent::Kind::kDelete ? "delete" : "expire", key,
          ValueAndWriter(*event.old_entry));
    case model::WatchEvent::Kind::kOverflow:
      break;
  }
  return absl::StrFormat("model %s: watch overflowed: changes are no longer printed\n",
                         name);
}

std::string FormatModelState(absl::string_view name,
                             const model::ModelSnapshot& snapshot) {
  std::string text = absl::StrFormat("state %s keys=%d\n", name, snapshot.entries.size());
  for (const model::Entry& entry : snapshot.entries) {
    absl::StrAppend(&text, "  ", absl::CHexEscape(entry.key), "=",
                    absl::CHexEscape(*entry.value));
    if (entry.siblings > 0) absl::StrAppend(&text, " (+", entry.siblings, " concurrent)");
    text += '\n';
  }
  return text;
}

}  // namespace glue

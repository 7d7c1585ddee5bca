#include "cmd/simple_endpoint_flags.h"

#include <cinttypes>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "cmd/message_tally.h"
#include "glue/model/model.h"

namespace glue {

absl::StatusOr<SimpleEndpointFlags> ParseSimpleEndpointFlags(int argc,
                                                             const char* const* argv) {
  SimpleEndpointFlags flags;
  struct Number {
    const char* name;
    uint64_t* target;
    uint64_t min, max;
  };
  const Number numbers[] = {
      {"payloadSize", &flags.payload_size, kPayloadHeaderBytes, 64 << 20},
      {"rate", &flags.rate, 1, 100000},
      {"expiry", &flags.expiry_ms, 1, 3600000},
      {"duration", &flags.duration_s, 0, 31536000}};
  struct Text {
    const char* name;
    std::string* target;
    absl::Status (*check)(absl::string_view);  // null: any value
  };
  const Text texts[] = {{"topicName", &flags.topic, nullptr},
                        {"model", &flags.model, &model::ValidateModelName}};
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::StartsWith(arg, "--")) arg.remove_prefix(1);
    if (arg.size() < 2 || arg[0] != '-' || arg[1] == '=') {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", argv[i], "'"));
    }
    arg.remove_prefix(1);
    const size_t equals = arg.find('=');
    const bool has_value = equals != absl::string_view::npos;
    const std::string name(arg.substr(0, equals));
    std::string value(has_value ? arg.substr(equals + 1) : "");

    if (name == "h" || name == "help") {
      flags.help = true;
      return flags;
    }
    if (name == "sendMessages") {
      if (has_value && value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("-sendMessages=", value, ": must be true or false"));
      }
      flags.send_messages = !has_value || value == "true";
      continue;
    }
    const Number* number = nullptr;
    for (const Number& n : numbers) {
      if (name == n.name) number = &n;
    }
    const Text* text = nullptr;
    for (const Text& t : texts) {
      if (name == t.name) text = &t;
    }
    if (number == nullptr && text == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown flag -", name,
          " (the flags: -sendMessages, -topicName, -payloadSize, -rate, -expiry, "
          "-duration, -model, -help)"));
    }
    if (!has_value) {
      if (i + 1 == argc) {
        return absl::InvalidArgumentError(absl::StrCat("flag -", name, " needs a value"));
      }
      value = argv[++i];
    }
    if (text != nullptr) {
      const absl::Status checked = text->check ? text->check(value) : absl::OkStatus();
      if (!checked.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("-", text->name, " ", value, ": ", checked.message()));
      }
      *text->target = value;
      continue;
    }
    if (!absl::SimpleAtoi(value, number->target) || *number->target < number->min ||
        *number->target > number->max) {
      return absl::InvalidArgumentError(
          absl::StrFormat("-%s %s: must be an integer in %" PRIu64 "..%" PRIu64,
                          number->name, value, number->min, number->max));
    }
  }
  if (!flags.model.empty() && flags.send_messages) {
    return absl::InvalidArgumentError("-model and -sendMessages do not go together");
  }
  return flags;
}

}  // namespace glue

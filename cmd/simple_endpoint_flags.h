// The command line of simple_endpoint (cmd/simple_endpoint.cc): the flags of the Go
// reference implementation's demo, read as Go's flag package reads them. Apart from
// the program so that its errors can be tested.
//
//   absl::StatusOr<SimpleEndpointFlags> flags = ParseSimpleEndpointFlags(argc, argv);
//   if (!flags.ok()) { print flags.status().message() and kSimpleEndpointUsage }
#ifndef GLUE_CMD_SIMPLE_ENDPOINT_FLAGS_H_
#define GLUE_CMD_SIMPLE_ENDPOINT_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace glue {

// SimpleEndpointFlags are the flags, with their defaults.
struct SimpleEndpointFlags {
  bool help = false;  // -h, -help: print the usage and exit (what follows is not read)
  bool send_messages = false;        // -sendMessages: publish rather than subscribe
  std::string topic = "some_topic";  // -topicName
  uint64_t payload_size = 65536;     // -payloadSize, kPayloadHeaderBytes..64 MiB
  uint64_t rate = 20;                // -rate, in Hz, 1..100000
  uint64_t expiry_ms = 1000;         // -expiry, in milliseconds, 1..3600000
  uint64_t duration_s = 0;           // -duration, in seconds, 0 (none)..31536000
  // -model NAME: open the replicated model NAME and take commands on stdin
  // (cmd/model_console.h) in place of the topic; not with -sendMessages. Empty: none.
  std::string model;
};

inline constexpr char kSimpleEndpointUsage[] =
    "usage: simple_endpoint [-sendMessages] [-topicName NAME] [-payloadSize BYTES]\n"
    "                       [-rate HZ] [-expiry MILLISECONDS] [-duration SECONDS]\n"
    "       simple_endpoint -model NAME [-duration SECONDS]\n"
    "         (commands on stdin: put KEY VALUE, del KEY, dump, sync)\n"
    "(and the GLUE_* environment variables; see README)\n";

// ParseSimpleEndpointFlags reads argv[1..argc-1]: each flag as -name or --name, its
// value after '=' or as the next argument; -sendMessages takes no value, or =true or
// =false. Error: kInvalidArgument, whose message names what is wrong:
//   unknown flag -x (the flags: -sendMessages, -topicName, ...)
//   flag -rate needs a value
//   -rate fast: must be an integer in 1..100000
//   -sendMessages=yes: must be true or false
//   -model a/b: model name 'a/b' may hold only letters, digits, '-', '_' and '.'
//   -model and -sendMessages do not go together
//   unexpected argument 'x'
absl::StatusOr<SimpleEndpointFlags> ParseSimpleEndpointFlags(int argc,
                                                             const char* const* argv);

}  // namespace glue

#endif  // GLUE_CMD_SIMPLE_ENDPOINT_FLAGS_H_

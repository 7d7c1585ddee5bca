// The text face of simple_endpoint's model mode (-model NAME, cmd/simple_endpoint.cc):
// the commands it reads on stdin, one a line, and the lines it prints of the model's
// changes and state. Apart from the program so that they can be tested.
//
//   absl::StatusOr<ModelCommand> command = ParseModelCommand("put color blue");
//   PrintLine(FormatModelEvent("demo", event));  // model demo: put color=blue by one
#ifndef GLUE_CMD_MODEL_CONSOLE_H_
#define GLUE_CMD_MODEL_CONSOLE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "glue/model/model.h"

namespace glue {

// ModelCommand is one command line, read.
struct ModelCommand {
  enum class Kind {
    kPut,     // put KEY VALUE: Model::Put
    kDelete,  // del KEY: Model::Delete
    kDump,    // dump: print the state (FormatModelState)
    kSync,    // sync: Model::Sync, to know that the peers' states arrived
  };
  Kind kind = Kind::kDump;
  std::string key;    // kPut, kDelete
  std::string value;  // kPut
};

// ParseModelCommand reads one line without its newline. Words are separated by
// spaces or tabs; a put's VALUE is the rest of the line after KEY, spaces included.
// The key is not checked here (Model::Put and Delete do). Error: kInvalidArgument,
// whose message names what is wrong:
//   unknown command 'x' (the commands: put KEY VALUE, del KEY, dump, sync)
//   no command (the commands: ...)      (a blank line)
//   put needs a KEY and a VALUE
//   del needs one KEY
//   dump takes nothing after it
absl::StatusOr<ModelCommand> ParseModelCommand(absl::string_view line);

// FormatModelEvent is the line, newline included, printed for a change of model
// `name`, keys and values C-escaped so that each stays on its line:
//   model NAME: put KEY=VALUE by WRITER
//   model NAME: delete KEY (was VALUE by WRITER)
//   model NAME: expire KEY (was VALUE by WRITER)
//   model NAME: watch overflowed: changes are no longer printed
std::string FormatModelEvent(absl::string_view name, const model::WatchEvent& event);

// FormatModelState is what `dump` prints: a line of how many keys, then one per key in
// key order, its winning value and how many values written concurrently it holds
// besides, escaped as above. Equal on replicas that hold the same state:
//   state NAME keys=2
//     color=green (+1 concurrent)
//     size=large
std::string FormatModelState(absl::string_view name,
                             const model::ModelSnapshot& snapshot);

}  // namespace glue

#endif  // GLUE_CMD_MODEL_CONSOLE_H_

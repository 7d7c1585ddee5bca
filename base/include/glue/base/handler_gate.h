// HandlerGate implements the stop contract of glue's asynchronous objects: once Close
// returns, no handler of the object is running or will run, unless Close was called
// from inside one of them (which then finishes, and no other starts).
//
//   void OnTimer() {
//     HandlerGate::Pass pass(&gate_);
//     if (!pass) return;  // closed
//     ...
//   }
//   void Stop() { gate_.Close(); ... }
#ifndef GLUE_BASE_HANDLER_GATE_H_
#define GLUE_BASE_HANDLER_GATE_H_

#include "glue/base/mutex.h"

namespace glue {

// HandlerGate: any thread may call any method.
class HandlerGate {
 public:
  HandlerGate() = default;
  HandlerGate(const HandlerGate&) = delete;
  HandlerGate& operator=(const HandlerGate&) = delete;

  // Pass is held by a handler for as long as it runs; it is false when the gate is
  // closed, and the handler must then return at once.
  class Pass {
   public:
    explicit Pass(HandlerGate* gate);
    ~Pass();
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    explicit operator bool() const { return entered_; }

   private:
    HandlerGate* const gate_;
    const bool entered_;
  };

  // Close refuses new handlers and waits for the running ones, except those running
  // on the calling thread. Idempotent.
  void Close();

  // closed reports whether Close was called.
  bool closed() const;

 private:
  bool Enter();
  void Leave();

  mutable Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace glue

#endif  // GLUE_BASE_HANDLER_GATE_H_

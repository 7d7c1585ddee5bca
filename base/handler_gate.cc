#include "glue/base/handler_gate.h"

#include <algorithm>
#include <vector>

namespace glue {
namespace {

// The gates whose handlers run on this thread, innermost last.
thread_local std::vector<const HandlerGate*> passes_on_this_thread;

}  // namespace

HandlerGate::Pass::Pass(HandlerGate* gate) : gate_(gate), entered_(gate->Enter()) {}

HandlerGate::Pass::~Pass() {
  if (entered_) gate_->Leave();
}

bool HandlerGate::Enter() {
  MutexLock lock(&mu_);
  if (closed_) return false;
  ++running_;
  passes_on_this_thread.push_back(this);
  return true;
}

void HandlerGate::Leave() {
  {
    MutexLock lock(&mu_);
    --running_;
    const auto it =
        std::find(passes_on_this_thread.rbegin(), passes_on_this_thread.rend(), this);
    if (it != passes_on_this_thread.rend()) {
      passes_on_this_thread.erase(std::next(it).base());
    }
  }
  mu_.NotifyAll();
}

void HandlerGate::Close() {
  const int mine = static_cast<int>(
      std::count(passes_on_this_thread.begin(), passes_on_this_thread.end(), this));
  MutexLock lock(&mu_);
  closed_ = true;
  mu_.Await([this, mine]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return running_ <= mine; });
}

bool HandlerGate::closed() const {
  MutexLock lock(&mu_);
  return closed_;
}

}  // namespace glue

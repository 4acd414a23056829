// The fault-injection seam's state: which site is armed, its call count and the failure to give.
#include "cl/fault.hpp"

#include <mutex>

#include "clnn/error.hpp"

namespace clnn::detail::fault {

std::atomic<bool> armed_flag{false};

namespace {

// Only armed runs come here, so a mutex keeps it simple rather than fast.
struct State {
  std::mutex mutex;
  Site site = Site::allocate;
  std::uint64_t calls = 0;
  std::uint64_t fail_at = 0;
  cl_int code = CL_SUCCESS;
  bool armed = false;
};

State& state() {
  static State s;
  return s;
}

}  // namespace

cl_int armed_call(Site site) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.armed || site != s.site) return CL_SUCCESS;
  return ++s.calls == s.fail_at ? s.code : CL_SUCCESS;
}

Injection::Injection(Site site, std::uint64_t fail_at, cl_int code) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.armed) throw Error("fault::Injection: the seam is already armed");
  s.site = site;
  s.calls = 0;
  s.fail_at = fail_at;
  s.code = code;
  s.armed = true;
  armed_flag.store(true, std::memory_order_relaxed);
}

Injection::~Injection() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.armed = false;
  armed_flag.store(false, std::memory_order_relaxed);
}

std::uint64_t Injection::calls() const {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.calls;
}

bool Injection::fired() const {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.fail_at != 0 && s.calls >= s.fail_at;
}

}  // namespace clnn::detail::fault

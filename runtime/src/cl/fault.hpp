// Internal: the fault-injection seam that makes the Nth allocation, build or enqueue fail.
#pragma once

#include <atomic>
#include <cstdint>

#include "cl_api.hpp"

namespace clnn::detail::fault {

// The kinds of OpenCL call a test can make fail: clCreateBuffer, clBuildProgram (from source or
// from a cached binary), and every enqueue (kernels, reads, writes, CLBlast's GEMM).
enum class Site { allocate, build, enqueue };

// One process-wide seam, not one per Context: Buffer sees only a cl_context and enqueue() only a
// queue, and the tests that arm it run one thread, so a process-wide count is exact there (calls
// from other threads while it is armed would count too).
extern std::atomic<bool> armed_flag;
cl_int armed_call(Site site);

// What the call at `site` should fail with instead of running, or CL_SUCCESS to run it. Each
// site asks right before its OpenCL call and, when told to fail, takes that status down the
// path a real failure takes, so an injected failure tests the real handling. Unarmed, the cost
// is one relaxed load.
inline cl_int injected(Site site) {
  if (!armed_flag.load(std::memory_order_relaxed)) return CL_SUCCESS;
  return armed_call(site);
}

// Arms the seam while it lives (tests only; one at a time): counts the calls at `site` from zero
// and makes call number `fail_at` (1-based) fail with `code`; fail_at 0 only counts.
class Injection {
 public:
  explicit Injection(Site site, std::uint64_t fail_at = 0, cl_int code = CL_SUCCESS);
  ~Injection();
  Injection(const Injection&) = delete;
  Injection& operator=(const Injection&) = delete;

  std::uint64_t calls() const;  // calls seen at the site so far, the failed one included
  bool fired() const;           // the failure was injected
};

}  // namespace clnn::detail::fault

// Internal: CLNN_PROFILE=1 times every kernel clnn launches (waiting for each, so only for
// finding where time goes) and prints the totals per kernel to stderr when the process exits.
// Launches inside CLBlast are not seen.
#pragma once

#include <atomic>
#include <set>
#include <string>

#include "cl_api.hpp"

namespace clnn::detail {

bool profiling_enabled();
// Device milliseconds of a finished launch, from its event (the queue has profiling enabled);
// throws clnn::Error when the driver cannot say.
double event_ms(cl_event event);
// Adds a finished launch's device time (its event, from a queue with profiling enabled) to the
// kernel's total; waits for the event.
void profile_launch(cl_kernel kernel, cl_event event);

// A census of launches for tests that must prove a run reached every kernel
// (tests/test_oclgrind.cpp): while on, each launched kernel's name is kept; while off (the
// default), a launch costs one atomic load.
void record_launches(bool on);
std::set<std::string> launched_kernels();
extern std::atomic<bool> census_on;
void add_to_census(cl_kernel kernel);
inline void note_launch(cl_kernel kernel) {
  if (census_on.load(std::memory_order_relaxed)) add_to_census(kernel);
}

}  // namespace clnn::detail

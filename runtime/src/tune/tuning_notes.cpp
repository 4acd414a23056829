// The thread's active tuning notes.
#include "tune/tuning_notes.hpp"

namespace clnn::detail {

namespace {

thread_local TuningNotes* active = nullptr;

}  // namespace

TuningNotes* active_tuning_notes() {
  return active;
}

NotingTuning::NotingTuning(TuningNotes& notes) : outer_(active) {
  notes = TuningNotes{};
  active = &notes;
}

NotingTuning::~NotingTuning() {
  active = outer_;
}

}  // namespace clnn::detail

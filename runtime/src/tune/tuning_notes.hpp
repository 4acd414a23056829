// Internal: what a node pass asks of the tuning cache (its products and implicit convolutions),
// noted as the executor runs the pass unreplayed and kept with its schedule entry, so that
// tune_executor tunes what a step runs without watching execution.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/conv_implicit.hpp"

namespace clnn {
class Executor;
}

namespace clnn::detail {

struct TuningNotes {
  std::vector<std::vector<std::int64_t>> products;  // gemm_tuning_shape of each GEMM
  std::vector<ImplicitLaunch> convolutions;         // each implicit GEMM launch
};

// The notes of the pass this thread runs for an executor, or null outside one.
TuningNotes* active_tuning_notes();

// Points active_tuning_notes() at `notes`, cleared, while it lives (one at a time per thread).
class NotingTuning {
 public:
  explicit NotingTuning(TuningNotes& notes);
  ~NotingTuning();
  NotingTuning(const NotingTuning&) = delete;
  NotingTuning& operator=(const NotingTuning&) = delete;

 private:
  TuningNotes* outer_;
};

// Every pass's notes in an executor's schedule, in order (empty for passes not yet run).
TuningNotes schedule_tuning_notes(const Executor& executor);

}  // namespace clnn::detail

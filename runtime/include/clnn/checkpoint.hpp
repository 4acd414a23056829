// Checkpoints: an executor's parameters and state, an optimizer's slots and the training
// position, in a versioned binary file with a checksum.
//
// Format (little-endian): "CLNNCKPT", u32 version (2), u32 entry count, i64 epoch,
// u64 executor step, i64 optimizer steps; u32 1 where a loss scaler's state follows (else 0),
// f32 its scale, i64 its finite steps in a row, i64 its steps skipped; per entry: u32 kind
// (0 parameter, 1 state, 2 optimizer slot), u32 name length, name, u32 rank,
// i64 extents[rank], f32 values; u64 FNV-1a checksum of everything before it. Version 1, which
// has no loss scaler fields, is read too.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "clnn/executor.hpp"
#include "clnn/optim.hpp"

namespace clnn {

struct TrainingPosition {
  std::int64_t epoch = 0;            // epochs completed
  std::uint64_t executor_step = 0;   // Executor::step()
  std::int64_t optimizer_steps = 0;  // Optimizer::steps()
  std::optional<optim::LossScalerState> loss_scaler;  // where training scales its loss
};

// Writes to a temporary file beside `path` and renames it, so an interrupted save leaves the
// previous checkpoint whole. before_rename is for tests that interrupt there.
void save_checkpoint(const std::string& path, const Executor& executor,
                     const optim::Optimizer* optimizer, const TrainingPosition& position,
                     const std::function<void()>& before_rename = {});

// Validates the whole file (magic, version, checksum, every size, and that names and shapes match
// the executor's parameters and state and the optimizer's slots) before it changes anything;
// any fault is an IoError naming the file and what is wrong.
TrainingPosition load_checkpoint(const std::string& path, Executor& executor,
                                 optim::Optimizer* optimizer);

}  // namespace clnn

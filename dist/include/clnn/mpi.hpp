// clnn::dist::Mpi: the Communicator over MPI (target clnn::dist). Errors come back as DistError
// (MPI_ERRORS_RETURN), never as an abort, and every wait has a timeout that names the ranks
// that never joined.
#pragma once

#include <memory>

#include "clnn/dist.hpp"

namespace clnn::dist {

struct MpiOptions {
  // The longest a wait (Pending::wait) may last. It covers whatever the slowest rank does
  // between two collectives (before the first: loading data and building kernels), and bounds
  // how long a stopped or lost rank can hold the others.
  double timeout_seconds = 60.0;
};

class Mpi : public Communicator {
 public:
  // Initializes MPI unless the application has (then it also finalizes it), on
  // MPI_COMM_WORLD. Throws DistError where MPI fails or the options are out of range.
  explicit Mpi(MpiOptions options = {});
  // Finalizes MPI if this initialized it and no collective failed: after a failure MPI cannot
  // finish cleanly, and the process should end through abort().
  ~Mpi() override;
  Mpi(const Mpi&) = delete;
  Mpi& operator=(const Mpi&) = delete;

  int rank() const override;
  int size() const override;
  int local_rank() const override;
  std::unique_ptr<Pending> start_sum(float* values, std::size_t count) override;
  std::unique_ptr<Pending> start_sum(double* values, std::size_t count) override;
  std::unique_ptr<Pending> start_broadcast(void* bytes, std::size_t count, int root) override;
  std::unique_ptr<Pending> start_barrier() override;
  [[noreturn]] void abort(int code) override;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace clnn::dist

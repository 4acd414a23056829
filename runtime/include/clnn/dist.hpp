// Collectives for data-parallel training: the Communicator the Trainer reduces gradients through.
// clnn::dist::Mpi (clnn/mpi.hpp, target clnn::dist) is the one clnn ships; the interface keeps
// the runtime itself free of MPI, and lets tests put another transport behind it.
#pragma once

#include <cstddef>
#include <memory>

#include "clnn/error.hpp"

namespace clnn::dist {

// A collective that failed, or that a rank did not reach in time; the message names the ranks.
class DistError : public Error {
 public:
  using Error::Error;
};

// A collective in flight: its buffer must stay alive and untouched until it has finished.
class Pending {
 public:
  virtual ~Pending() = default;
  // Whether it has finished; never blocks. Throws DistError where it failed.
  virtual bool test() = 0;
  // Blocks until it has finished; a DistError naming the ranks that never joined it when that
  // takes longer than the communicator's timeout.
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The rank among those on this machine: which of its devices this rank takes.
  virtual int local_rank() const = 0;

  // Every rank calls the same collectives in the same order. In place, elementwise: the sum over
  // all ranks, the same on every rank.
  virtual std::unique_ptr<Pending> start_sum(float* values, std::size_t count) = 0;
  virtual std::unique_ptr<Pending> start_sum(double* values, std::size_t count) = 0;
  // root's bytes, copied to every other rank.
  virtual std::unique_ptr<Pending> start_broadcast(void* bytes, std::size_t count, int root) = 0;
  // Finishes once every rank has started it.
  virtual std::unique_ptr<Pending> start_barrier() = 0;

  void sum(float* values, std::size_t count) { start_sum(values, count)->wait(); }
  void sum(double* values, std::size_t count) { start_sum(values, count)->wait(); }
  void broadcast(void* bytes, std::size_t count, int root) {
    start_broadcast(bytes, count, root)->wait();
  }
  void barrier() { start_barrier()->wait(); }

  // Ends every rank's process with `code`. After an error on one rank the others would wait for
  // it in their next collective; the application (never the library) calls this to end them.
  [[noreturn]] virtual void abort(int code) = 0;
};

}  // namespace clnn::dist

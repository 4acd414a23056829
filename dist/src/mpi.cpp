// Mpi: collectives as MPI's nonblocking ones, polled with a deadline. Beside them, each rank
// tells every other which collective it is joining (a small message on a communicator of its
// own), so that a wait that times out can name the ranks that never arrived.
#include "clnn/mpi.hpp"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <thread>
#include <vector>

namespace clnn::dist {

namespace {

using Clock = std::chrono::steady_clock;

// How often a rank that waits tells the others it is still there.
constexpr auto kHeartbeat = std::chrono::seconds(1);

// MPI counts are ints, and some of its implementations compute count x size in an int too:
// longer collectives go in pieces of at most this many bytes.
constexpr std::size_t kPieceBytes = std::size_t(1) << 30;

std::string mpi_message(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS)
    return "MPI error " + std::to_string(code);
  return std::string(text, std::size_t(length));
}

}  // namespace

struct Mpi::State {
  MpiOptions options;
  bool initialized_here = false;
  bool failed = false;  // a collective failed or timed out: MPI cannot be finalized cleanly
  MPI_Comm collectives = MPI_COMM_NULL, notices = MPI_COMM_NULL;
  int rank = 0, size = 1, local_rank = 0;
  std::uint64_t joined = 0;            // collectives this rank has joined
  std::vector<std::uint64_t> reached;  // per rank: the last collective it said it joined
  std::vector<Clock::time_point> heard;  // per rank: when its last notice came
  Clock::time_point told;                // when this rank last told the others
  std::vector<std::uint64_t> inbox;    // per rank: the notice being received
  std::vector<MPI_Request> receiving;  // per rank (MPI_REQUEST_NULL for this one)
  struct Notice {
    std::unique_ptr<std::uint64_t> index;
    std::vector<MPI_Request> sends;
  };
  std::deque<Notice> sent;  // notices whose sends may still be in flight

  void check(int code, const std::string& call) {
    if (code == MPI_SUCCESS) return;
    failed = true;
    throw DistError("MPI: " + call + " failed on rank " + std::to_string(rank) + ": " +
                    mpi_message(code));
  }

  void receive_from(int peer) {
    check(MPI_Irecv(&inbox[std::size_t(peer)], 1, MPI_UINT64_T, peer, 0, notices,
                    &receiving[std::size_t(peer)]),
          "MPI_Irecv");
  }

  // Takes in the notices that have arrived, lets go of the sends that have finished, and
  // tells the others again where this rank is when it has not for kHeartbeat: a rank that has
  // joined a collective and then stops sending is stopped or lost, not slow.
  void poll_notices() {
    const auto now = Clock::now();
    for (int peer = 0; peer < size; ++peer) {
      if (peer == rank) continue;
      for (;;) {
        int arrived = 0;
        check(MPI_Test(&receiving[std::size_t(peer)], &arrived, MPI_STATUS_IGNORE), "MPI_Test");
        if (!arrived) break;
        reached[std::size_t(peer)] = std::max(reached[std::size_t(peer)], inbox[std::size_t(peer)]);
        heard[std::size_t(peer)] = now;
        receive_from(peer);
      }
    }
    if (now - told >= kHeartbeat) tell_peers();
    while (!sent.empty()) {
      int done = 0;
      auto& sends = sent.front().sends;
      check(MPI_Testall(int(sends.size()), sends.data(), &done, MPI_STATUSES_IGNORE),
            "MPI_Testall");
      if (!done) break;
      sent.pop_front();
    }
  }

  // Joins the next collective: tells every other rank, and returns its number.
  std::uint64_t join() {
    if (failed)
      throw DistError("MPI: rank " + std::to_string(rank) +
                      " cannot start a collective after one has failed");
    poll_notices();
    ++joined;
    tell_peers();
    return joined;
  }

  // Sends every other rank the number of the last collective this one joined.
  void tell_peers() {
    Notice notice{std::make_unique<std::uint64_t>(joined), {}};
    for (int peer = 0; peer < size; ++peer) {
      if (peer == rank) continue;
      notice.sends.push_back(MPI_REQUEST_NULL);
      check(MPI_Isend(notice.index.get(), 1, MPI_UINT64_T, peer, 0, notices, &notice.sends.back()),
            "MPI_Isend");
    }
    sent.push_back(std::move(notice));
    told = Clock::now();
  }

  std::string absent_from(std::uint64_t index) const {
    std::string ranks;
    int count = 0;
    for (int peer = 0; peer < size; ++peer)
      if (peer != rank && reached[std::size_t(peer)] < index) {
        ranks += (count++ ? ", " : " ") + std::to_string(peer);
      }
    if (count > 0)
      return (count == 1 ? "rank" : "ranks") + ranks + (count == 1 ? " has" : " have") +
             " not joined it (stopped, lost or far behind)";
    const auto now = Clock::now();
    for (int peer = 0; peer < size; ++peer)
      if (peer != rank && now - heard[std::size_t(peer)] > 3 * kHeartbeat) {
        const auto quiet = std::chrono::duration<double>(now - heard[std::size_t(peer)]).count();
        ranks += (count++ ? ", " : " ") + std::to_string(peer) + " (silent " +
                 std::to_string(std::lround(quiet)) + " s)";
      }
    if (count > 0)
      return (count == 1 ? "rank" : "ranks") + ranks + " joined it, then went silent " +
             "(stopped or lost)";
    return "every rank joined it and is still there, but it did not finish";
  }
};

namespace {

class MpiPending : public Pending {
 public:
  MpiPending(Mpi::State& state, const char* what) : state_(state), what_(what) {
    index_ = state.join();
  }
  // An unfinished collective cannot be freed (MPI forbids it): it is left, and MPI with it.
  ~MpiPending() override {
    if (!finished_) state_.failed = true;
  }
  std::vector<MPI_Request>& requests() { return requests_; }

  bool test() override {
    if (finished_) return true;
    state_.poll_notices();
    int done = 0;
    state_.check(MPI_Testall(int(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE),
                 std::string("MPI_Testall (") + what_ + ")");
    finished_ = done != 0;
    return finished_;
  }

  void wait() override {
    const std::chrono::duration<double> timeout(state_.options.timeout_seconds);
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
    // MPI moves a nonblocking collective on only inside its calls, a round at a time (a sum of
    // megabytes takes several), so it polls without pause, yielding to a device's threads on the
    // same cores (PoCL). With 2 ranks sharing an H200, sleeping 100 us between polls made each
    // step's reduction of 3.6 MB take 16 ms instead of 4; on 8 CPU ranks, sleeping after the
    // first 2 ms of a wait cut the images/s by 15%.
    for (;;) {
      if (test()) return;
      if (Clock::now() > deadline) {
        state_.failed = true;
        throw DistError("rank " + std::to_string(state_.rank) + " waited " +
                        std::to_string(int(std::lround(state_.options.timeout_seconds))) +
                        " s for " + what_ + " #" + std::to_string(index_) + ": " +
                        state_.absent_from(index_));
      }
      std::this_thread::yield();
    }
  }

 private:
  Mpi::State& state_;
  const char* what_;
  std::uint64_t index_ = 0;
  std::vector<MPI_Request> requests_;
  bool finished_ = false;
};

// Starts `start(offset, n)` for each piece of `count` elements of `size` bytes.
template <typename Start>
std::unique_ptr<Pending> in_pieces(Mpi::State& state, const char* what, std::size_t count,
                                   std::size_t size, Start start) {
  auto pending = std::make_unique<MpiPending>(state, what);
  const std::size_t piece = kPieceBytes / size;
  const std::size_t pieces = std::max<std::size_t>(1, (count + piece - 1) / piece);
  for (std::size_t p = 0; p < pieces; ++p) {
    const std::size_t offset = p * piece;
    pending->requests().push_back(MPI_REQUEST_NULL);
    state.check(start(offset, int(std::min(piece, count - offset)), &pending->requests().back()),
                what);
  }
  return pending;
}

// The elementwise sum over the ranks of `count` values of `type`, in place.
template <typename T>
std::unique_ptr<Pending> sum_in_pieces(Mpi::State& state, T* values, std::size_t count,
                                       MPI_Datatype type) {
  MPI_Comm comm = state.collectives;
  return in_pieces(state, "a sum", count, sizeof(T),
                   [&](std::size_t offset, int n, MPI_Request* r) {
                     return MPI_Iallreduce(MPI_IN_PLACE, values + offset, n, type, MPI_SUM, comm,
                                           r);
                   });
}

}  // namespace

Mpi::Mpi(MpiOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  if (!(options.timeout_seconds > 0 && options.timeout_seconds <= 86400))
    throw DistError("Mpi: the timeout must lie in (0, 86400] seconds, not " +
                    std::to_string(options.timeout_seconds));
  s.options = options;
  int initialized = 0, finalized = 0;
  s.check(MPI_Initialized(&initialized), "MPI_Initialized");
  s.check(MPI_Finalized(&finalized), "MPI_Finalized");
  if (finalized) throw DistError("Mpi: MPI has been finalized (an earlier Mpi or the application)");
  int provided = MPI_THREAD_SINGLE;
  if (!initialized) {
    s.check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    s.initialized_here = true;
  } else {
    s.check(MPI_Query_thread(&provided), "MPI_Query_thread");
  }
  // Only the thread that made it calls MPI through it (the application's main thread, where
  // it initialized MPI).
  if (provided < MPI_THREAD_FUNNELED && !s.initialized_here) {
    int main_thread = 0;
    s.check(MPI_Is_thread_main(&main_thread), "MPI_Is_thread_main");
    if (!main_thread)
      throw DistError("Mpi: MPI was initialized without thread support, on another thread");
  }
  // Communicators of clnn's own, whose errors come back as codes: its messages never meet the
  // application's, and the application's error handler stays as it was.
  s.check(MPI_Comm_dup(MPI_COMM_WORLD, &s.collectives), "MPI_Comm_dup");
  s.check(MPI_Comm_dup(MPI_COMM_WORLD, &s.notices), "MPI_Comm_dup");
  s.check(MPI_Comm_set_errhandler(s.collectives, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  s.check(MPI_Comm_set_errhandler(s.notices, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  s.check(MPI_Comm_rank(s.collectives, &s.rank), "MPI_Comm_rank");
  s.check(MPI_Comm_size(s.collectives, &s.size), "MPI_Comm_size");
  MPI_Comm machine = MPI_COMM_NULL;
  s.check(MPI_Comm_split_type(s.collectives, MPI_COMM_TYPE_SHARED, s.rank, MPI_INFO_NULL,
                              &machine),
          "MPI_Comm_split_type");
  s.check(MPI_Comm_rank(machine, &s.local_rank), "MPI_Comm_rank");
  s.check(MPI_Comm_free(&machine), "MPI_Comm_free");
  s.reached.assign(std::size_t(s.size), 0);
  s.heard.assign(std::size_t(s.size), Clock::now());
  s.told = Clock::now();
  s.inbox.assign(std::size_t(s.size), 0);
  s.receiving.assign(std::size_t(s.size), MPI_REQUEST_NULL);
  for (int peer = 0; peer < s.size; ++peer)
    if (peer != s.rank) s.receive_from(peer);
}

Mpi::~Mpi() {
  State& s = *state_;
  if (s.failed) return;
  // Every rank has joined every collective this one has (each waited for them), so only
  // notices can be in flight: each peer's last one is received (briefly waited for), the sends
  // finish, the receives left are cancelled.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  try {
    s.reached[std::size_t(s.rank)] = s.joined;
    while (Clock::now() < deadline && *std::min_element(s.reached.begin(), s.reached.end()) <
                                          s.joined) {
      s.poll_notices();
      std::this_thread::yield();
    }
  } catch (const DistError&) {
    return;  // MPI failed: it cannot be finalized cleanly
  }
  for (MPI_Request& r : s.receiving)
    if (r != MPI_REQUEST_NULL) {
      MPI_Cancel(&r);
      MPI_Wait(&r, MPI_STATUS_IGNORE);
    }
  for (auto& notice : s.sent)
    MPI_Waitall(int(notice.sends.size()), notice.sends.data(), MPI_STATUSES_IGNORE);
  MPI_Comm_free(&s.notices);
  MPI_Comm_free(&s.collectives);
  if (s.initialized_here) MPI_Finalize();
}

int Mpi::rank() const {
  return state_->rank;
}
int Mpi::size() const {
  return state_->size;
}
int Mpi::local_rank() const {
  return state_->local_rank;
}

std::unique_ptr<Pending> Mpi::start_sum(float* values, std::size_t count) {
  return sum_in_pieces(*state_, values, count, MPI_FLOAT);
}

std::unique_ptr<Pending> Mpi::start_sum(double* values, std::size_t count) {
  return sum_in_pieces(*state_, values, count, MPI_DOUBLE);
}

std::unique_ptr<Pending> Mpi::start_broadcast(void* bytes, std::size_t count, int root) {
  if (root < 0 || root >= state_->size)
    throw DistError("Mpi: broadcast from rank " + std::to_string(root) + " of " +
                    std::to_string(state_->size));
  MPI_Comm comm = state_->collectives;
  auto* data = static_cast<unsigned char*>(bytes);
  return in_pieces(*state_, "a broadcast", count, 1,
                   [&](std::size_t offset, int n, MPI_Request* r) {
                     return MPI_Ibcast(data + offset, n, MPI_BYTE, root, comm, r);
                   });
}

std::unique_ptr<Pending> Mpi::start_barrier() {
  auto pending = std::make_unique<MpiPending>(*state_, "a barrier");
  pending->requests().push_back(MPI_REQUEST_NULL);
  state_->check(MPI_Ibarrier(state_->collectives, &pending->requests().back()), "MPI_Ibarrier");
  return pending;
}

void Mpi::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this is for the compiler
}

}  // namespace clnn::dist

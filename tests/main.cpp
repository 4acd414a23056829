// The Catch2 test runner. The shared context's queue is finished before the process exits: a
// launch still in flight would run in PoCL's threads during exit, where building its kernel for
// a new work-group size with LLVM, whose statics the exit had already destroyed, crashed the
// process after its tests had passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <exception>
#include <iostream>

#include "support.hpp"

int main(int argc, char** argv) {
  const int failed = Catch::Session().run(argc, argv);
  try {
    if (clnn::test::context_created()) clnn::test::context().finish();
  } catch (const std::exception& e) {
    std::cerr << "finishing the shared context's queue: " << e.what() << "\n";
    return failed == 0 ? 1 : failed;
  }
  return failed;
}

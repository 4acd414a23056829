// The Catch2 test runner. The shared context's queue is finished before the process exits: a
// launch still in flight would run in PoCL's threads during exit, where building its kernel for
// a new work-group size with LLVM, whose statics the exit had already destroyed, crashed the
// process after its tests had passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "support.hpp"

int main(int argc, char** argv) {
  const int failed = Catch::Session().run(argc, argv);
  if (clnn::test::context_created()) clnn::test::context().finish();
  return failed;
}

# Runs the [oclgrind] test cases under Oclgrind with API and data-race checks; fails when a case
# fails or when Oclgrind reports anything: its log must stay empty, since Oclgrind itself exits
# with the program's status whatever it found.
#   cmake -DOCLGRIND=<oclgrind> -DTESTS=<clnn-tests> -DLOG=<file> -P oclgrind_check.cmake
# Not --uninitialized: Oclgrind 21.10's plugin stops at LLVM's freeze instruction, which its
# own compiler emits for clnn's kernels ("Unsupported instruction: freeze").
# --max-wgsize 64: the planner then sizes tiles for a small device; with the simulator's 1024 it
# planned GEMM tiles that made 23 small products of the convolution case take 297 s to interpret.
file(REMOVE ${LOG})
execute_process(
  COMMAND ${OCLGRIND} --check-api --data-races --max-wgsize 64 --log ${LOG} ${TESTS}
          "[oclgrind]"
  OUTPUT_VARIABLE output ERROR_VARIABLE output ECHO_OUTPUT_VARIABLE ECHO_ERROR_VARIABLE
  RESULT_VARIABLE status)
if(EXISTS ${LOG})
  file(READ ${LOG} report)
else()
  set(report "")
endif()
if(NOT report STREQUAL "")
  message(FATAL_ERROR "Oclgrind reported errors (${LOG}):\n${report}")
endif()
# Catch's summary, not the exit status, says whether the cases passed: Oclgrind 21.10's runtime
# frees its per-thread state before static destructors run, so releasing the tests' static
# Context at exit corrupts the heap and aborts the process after the last case has passed.
if(NOT output MATCHES "All tests passed \\([0-9]+ assertions in [0-9]+ test cases\\)")
  message(FATAL_ERROR "the [oclgrind] cases failed under Oclgrind (status ${status})")
endif()

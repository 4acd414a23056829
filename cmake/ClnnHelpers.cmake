# Small helpers shared by every clnn target.

# Warnings on for our own code, and the sanitizers chosen with CLNN_SANITIZE.
function(clnn_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(CLNN_SANITIZE)
    # No recovery: a report must fail the test that caused it, not scroll past in its log.
    target_compile_options(${target} PRIVATE -fsanitize=${CLNN_SANITIZE} -fno-omit-frame-pointer
                                             -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${CLNN_SANITIZE})
    # GCC 12's -fsanitize=address makes -Wmaybe-uninitialized fire inside libstdc++'s <regex>
    # (pulled in by Catch2): a false positive in code that is not ours.
    target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  endif()
  if(CLNN_FUZZ)  # libFuzzer's coverage in every target; only the fuzz targets link libFuzzer
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()

# A libFuzzer target (tests/fuzz): libFuzzer provides its main.
function(clnn_fuzz_target target)
  clnn_target_defaults(${target})
  target_compile_options(${target} PRIVATE -fsanitize=fuzzer)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
endfunction()

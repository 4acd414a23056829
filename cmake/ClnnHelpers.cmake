# Small helpers shared by every clnn target.

# Warnings on for our own code, and the sanitizers chosen with CLNN_SANITIZE.
function(clnn_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(CLNN_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${CLNN_SANITIZE} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${CLNN_SANITIZE})
  endif()
endfunction()
  if(CLNN_FUZZ)  # libFuzzer's coverage in every target; only the fuzz targets link libFuzzer
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()

# A libFuzzer target (tests/fuzz): libFuzzer provides its main.
function(clnn_fuzz_target target)
  clnn_target_defaults(${target})
  target_compile_options(${target} PRIVATE -fsanitize=fuzzer)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)

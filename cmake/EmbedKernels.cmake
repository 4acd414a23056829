# Embeds OpenCL C sources into the library: each .cl file becomes a byte array in a generated .cpp,
# with its SHA-256 as the content hash that keys the program caches.
#
#   clnn_embed_kernels(OUTPUT <generated.cpp> SOURCES <a.cl> <b.cl> ... [HEADERS <c.h> ...])
#
# HEADERS: the headers the sources #include (inlined by the script), so that editing one embeds
# again.

set(CLNN_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_kernels_script.cmake)

function(clnn_embed_kernels)
  cmake_parse_arguments(ARG "" "OUTPUT" "SOURCES;HEADERS" ${ARGN})
  add_custom_command(
    OUTPUT ${ARG_OUTPUT}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${ARG_OUTPUT} "-DSOURCES=${ARG_SOURCES}" -P ${CLNN_EMBED_SCRIPT}
    DEPENDS ${ARG_SOURCES} ${ARG_HEADERS} ${CLNN_EMBED_SCRIPT}
    COMMENT "Embedding OpenCL kernels"
    VERBATIM)
endfunction()

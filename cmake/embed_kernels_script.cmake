# Run with cmake -P: writes OUTPUT, a .cpp that defines clnn::detail::embedded_kernel_sources()
# from the .cl files in SOURCES (a ;-list). Called by clnn_embed_kernels at build time. A line
# `#include "name.h"` is replaced by that header of the source's folder (headers the host includes
# too, such as kernel_codes.h), so each embedded source stands alone and its hash covers them.
set(entries "")
set(arrays "")
set(index 0)
foreach(path IN LISTS SOURCES)
  get_filename_component(name ${path} NAME_WE)
  get_filename_component(folder ${path} DIRECTORY)
  file(READ ${path} text)
  string(REGEX MATCHALL "#include \"[a-z_]+\\.h\"" includes "${text}")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "#include \"([a-z_]+\\.h)\"" "\\1" header "${line}")
    if(NOT EXISTS ${folder}/${header})
      message(FATAL_ERROR "${path}: no ${folder}/${header} to include")
    endif()
    file(READ ${folder}/${header} header_text)
    string(REPLACE "${line}" "${header_text}" text "${text}")
  endforeach()
  string(HEX "${text}" hex)
  string(SHA256 hash "${text}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
  string(APPEND arrays "const char source_${index}[] = {\n${bytes}0x00};\n")
  string(APPEND entries "      {\"${name}\", std::string_view(source_${index}, sizeof(source_${index}) - 1), \"${hash}\"},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE ${OUTPUT}.tmp "// Generated from cl_kernels/ by cmake/embed_kernels_script.cmake: do not edit.
#include \"cl/kernel_source.hpp\"

namespace clnn::detail {
namespace {
${arrays}}  // namespace

const std::vector<KernelSource>& embedded_kernel_sources() {
  static const std::vector<KernelSource> sources{
${entries}  };
  return sources;
}

}  // namespace clnn::detail
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)

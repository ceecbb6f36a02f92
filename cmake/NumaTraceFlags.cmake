# Compile flags. Two interface targets carry them so each target states which
# world it belongs to:
#   numatrace_warnings   every target
#   numatrace_offline    everything that runs outside the traced process; it
#                        carries the sanitizers. In-process code (the recorder
#                        and the preload interposer) must never link it: a
#                        sanitizer runtime would change the traced program.
add_library(numatrace_warnings INTERFACE)
target_compile_options(numatrace_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  $<$<BOOL:${NUMA_TRACE_WERROR}>:-Werror>)

add_library(numatrace_offline INTERFACE)
target_link_libraries(numatrace_offline INTERFACE numatrace_warnings)
if(NUMA_TRACE_SANITIZE)
  if(NOT NUMA_TRACE_SANITIZE MATCHES "^(address,undefined|undefined,address|address|undefined|thread)$")
    message(FATAL_ERROR "NUMA_TRACE_SANITIZE='${NUMA_TRACE_SANITIZE}': use 'address,undefined' or 'thread'")
  endif()
  set(_nt_san -fsanitize=${NUMA_TRACE_SANITIZE} -fno-omit-frame-pointer)
  if(NUMA_TRACE_SANITIZE MATCHES "undefined")
    list(APPEND _nt_san -fno-sanitize-recover=undefined)
  endif()
  target_compile_options(numatrace_offline INTERFACE ${_nt_san})
  target_link_options(numatrace_offline INTERFACE ${_nt_san})
endif()
add_feature_info(sanitizers NUMA_TRACE_SANITIZE "offline code built with -fsanitize=${NUMA_TRACE_SANITIZE}")

# Fuzzing builds instrument the offline libraries for libFuzzer's coverage;
# the fuzz targets themselves link -fsanitize=fuzzer (tests/fuzz).
if(NUMA_TRACE_FUZZ)
  target_compile_options(numatrace_offline INTERFACE -fsanitize=fuzzer-no-link)
endif()

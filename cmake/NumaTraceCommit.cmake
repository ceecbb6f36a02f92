# cmake -P: writes OUT, a header with the source tree's commit
# (NUMA_TRACE_COMMIT: 12 hex digits, "-dirty" with uncommitted changes;
# "unknown" outside a git checkout), only when it changed, so that the
# command is relinked only then. Run at every build (tools/CMakeLists.txt).
set(commit "unknown")
find_program(GIT git)
if(GIT AND EXISTS "${SRC}/.git")
  execute_process(COMMAND ${GIT} -C ${SRC} rev-parse --short=12 HEAD OUTPUT_VARIABLE head
    OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0)
    set(commit "${head}")
    execute_process(COMMAND ${GIT} -C ${SRC} diff --quiet HEAD RESULT_VARIABLE dirty ERROR_QUIET)
    if(NOT dirty EQUAL 0)
      string(APPEND commit "-dirty")
    endif()
  endif()
endif()
if(DEFINED ENV{NUMA_TRACE_COMMIT})
  set(commit "$ENV{NUMA_TRACE_COMMIT}")  # a packager's, when building from a tarball
endif()
file(WRITE ${OUT}.tmp "#define NUMA_TRACE_COMMIT \"${commit}\"\n")
configure_file(${OUT}.tmp ${OUT} COPYONLY)
file(REMOVE ${OUT}.tmp)

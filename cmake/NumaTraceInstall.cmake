# Install rules: the command, the libraries with their headers, a CMake
# package (find_package(numatrace)) and a pkg-config file.
include(CMakePackageConfigHelpers)

set(_nt_install_targets numatrace_common numatrace_gguf numatrace_format numatrace_rules numatrace_hooks)
set_target_properties(numatrace_common PROPERTIES EXPORT_NAME common)
if(NUMA_TRACE_BUILD_RECORDER)
  list(APPEND _nt_install_targets numatrace)
endif()
install(TARGETS ${_nt_install_targets} EXPORT numatraceTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The interposer is preloaded, never linked: a private object (no versioned
# SONAME), in numa-trace's own folder of the libdir, beside the engine.
if(NUMA_TRACE_BUILD_RECORDER)
  install(TARGETS numatrace_preload EXPORT numatraceTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/numa-trace)
endif()
set_target_properties(numatrace_common PROPERTIES EXPORT_NAME common)
install(DIRECTORY lib/common/include/ lib/gguf/include/ lib/format/include/ lib/rules/include/ lib/recorder/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(NT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/numatrace)
install(EXPORT numatraceTargets NAMESPACE numatrace:: DESTINATION ${NT_CMAKE_DIR})
configure_package_config_file(cmake/numatraceConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/numatraceConfig.cmake INSTALL_DESTINATION ${NT_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/numatraceConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/numatraceConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/numatraceConfigVersion.cmake DESTINATION ${NT_CMAKE_DIR})

configure_file(cmake/numatrace-gguf.pc.in ${CMAKE_CURRENT_BINARY_DIR}/numatrace-gguf.pc @ONLY)
configure_file(cmake/numatrace.pc.in ${CMAKE_CURRENT_BINARY_DIR}/numatrace.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/numatrace-gguf.pc ${CMAKE_CURRENT_BINARY_DIR}/numatrace.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")

# gdb: the extension, and libnumatrace's objfile script in gdb's auto-load
# directory (<datadir>/gdb/auto-load/<libdir>/libnumatrace.so.<version>-gdb.py).
if(NUMA_TRACE_BUILD_RECORDER)
  install(DIRECTORY gdb/numatrace DESTINATION ${CMAKE_INSTALL_DATADIR}/numa-trace/gdb
    FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
  install(FILES gdb/numatrace-gdb.py DESTINATION ${CMAKE_INSTALL_DATADIR}/numa-trace/gdb)
  configure_file(gdb/objfile-gdb.py.in ${CMAKE_CURRENT_BINARY_DIR}/libnumatrace-gdb.py @ONLY)
  # gdb looks for <auto-load dir><the library's real path>-gdb.py; the
  # library's path is the one of this install, so the prefix given to
  # cmake --install (escaped: read when installing) is part of it.
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/libnumatrace-gdb.py
    DESTINATION ${CMAKE_INSTALL_DATADIR}/gdb/auto-load\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}
    RENAME libnumatrace.so.${PROJECT_VERSION}-gdb.py)
endif()

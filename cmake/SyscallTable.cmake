# SPDX-License-Identifier: Apache-2.0
# The x86_64 syscall name -> number table is generated, never typed by hand:
# from the kernel's uapi <asm/unistd_64.h> (linux-libc-dev), which the kernel
# build itself generates from arch/x86/entry/syscalls/syscall_64.tbl.
# tests/unit/syscall_table_test.cpp cross-checks it against libseccomp.

set(FNW_UNISTD_64 "" CACHE FILEPATH "asm/unistd_64.h to generate the syscall table from")

function(fnw_generate_syscall_table output)
  set(header ${FNW_UNISTD_64})
  if(NOT header)
    find_file(header NAMES asm/unistd_64.h
      PATHS /usr/include/x86_64-linux-gnu /usr/include NO_DEFAULT_PATH)
  endif()
  if(NOT header OR NOT EXISTS ${header})
    message(FATAL_ERROR "asm/unistd_64.h not found: install linux-libc-dev")
  endif()
  add_custom_command(OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DHEADER=${header} -DOUTPUT=${output}
            -P ${CMAKE_SOURCE_DIR}/cmake/gen_syscall_table.cmake
    DEPENDS ${header} ${CMAKE_SOURCE_DIR}/cmake/gen_syscall_table.cmake
    COMMENT "Generating syscall table from ${header}"
    VERBATIM)
endfunction()

# SPDX-License-Identifier: Apache-2.0
# Compiles BPF C sources with clang -target bpf (CO-RE, against the checked-in
# vmlinux.h), links them into one object with `bpftool gen object`, and
# generates a libbpf skeleton with `bpftool gen skeleton`.

find_program(FNW_CLANG NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(FNW_BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(FNW_BPF_ARCH x86)
else()
  message(FATAL_ERROR "fnwarden: only x86_64 has a checked-in vmlinux.h so far")
endif()

function(fnw_add_bpf_skeleton name)
  cmake_parse_arguments(ARG "" "OUTPUT_OBJECT;OUTPUT_SKELETON" "SOURCES" ${ARGN})
  set(out_dir ${CMAKE_BINARY_DIR}/bpf)
  file(MAKE_DIRECTORY ${out_dir})
  file(GLOB bpf_headers CONFIGURE_DEPENDS
    ${CMAKE_SOURCE_DIR}/bpf/*.h ${CMAKE_SOURCE_DIR}/include/fnwarden/*.h)

  set(objects)
  foreach(src IN LISTS ARG_SOURCES)
    get_filename_component(stem ${src} NAME_WE)
    set(obj ${out_dir}/${stem}.bpf.o)
    # -mcpu=v3: 32-bit atomics and jumps (kernel >= 5.1).
    add_custom_command(OUTPUT ${obj}
      COMMAND ${FNW_CLANG} -g -O2 -Wall -Werror -mcpu=v3 -target bpf
              -D__TARGET_ARCH_${FNW_BPF_ARCH}
              -I${CMAKE_SOURCE_DIR}/bpf/vmlinux/${FNW_BPF_ARCH}
              -I${CMAKE_SOURCE_DIR}/bpf -I${CMAKE_SOURCE_DIR}/include
              -c ${src} -o ${obj}
      DEPENDS ${src} ${bpf_headers} ${CMAKE_SOURCE_DIR}/bpf/vmlinux/${FNW_BPF_ARCH}/vmlinux.h
      COMMENT "BPF ${stem}.bpf.c"
      VERBATIM)
    list(APPEND objects ${obj})
  endforeach()

  set(linked ${out_dir}/${name}.o)
  set(skel ${out_dir}/${name}.skel.h)
  add_custom_command(OUTPUT ${linked}
    COMMAND ${FNW_BPFTOOL} gen object ${linked} ${objects}
    DEPENDS ${objects}
    COMMENT "BPF link ${name}.o"
    VERBATIM)
  add_custom_command(OUTPUT ${skel}
    COMMAND ${FNW_BPFTOOL} gen skeleton ${linked} name ${name} > ${skel}
    DEPENDS ${linked}
    COMMENT "BPF skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name} DEPENDS ${skel})
  set(${ARG_OUTPUT_OBJECT} ${linked} PARENT_SCOPE)
  set(${ARG_OUTPUT_SKELETON} ${skel} PARENT_SCOPE)
endfunction()

# SPDX-License-Identifier: Apache-2.0
# Userspace layers, enforced by the compiler.
#
# userspace/<folder>/ is one layer, and a layer may only include the layers
# below it (docs/architecture.md, "Layers"):
#
#   common < core < bundle < k8s < probes < runtime < output < control < oci < daemon < cli
#
# Every source includes by folder ("core/policy.hpp"), so each layer gets an
# include root of its own, build/layers/<layer>/, holding links to its own
# folder and the folders below it and nothing else. An upward include then
# fails with "No such file or directory" where it is written, instead of
# being a convention a reviewer has to catch. Linking follows the same order:
# a layer's target links only the targets below it.
#
# A header that no .cpp of its own layer includes first would slip past, so
# every header without a same-named .cpp gets a one-line translation unit in
# its layer (layer_checks/), which also proves it compiles on its own.

set(FNW_LAYERS common core bundle k8s probes runtime output control oci daemon cli)

# fnw_layer_include_root(<layer> <out-var>): creates build/layers/<layer>/
# with links to userspace/<l> for every l at or below <layer>.
function(fnw_layer_include_root layer out_var)
  set(root ${CMAKE_BINARY_DIR}/layers/${layer})
  file(MAKE_DIRECTORY ${root})
  foreach(l IN LISTS FNW_LAYERS)
    if(NOT EXISTS ${root}/${l})
      file(CREATE_LINK ${CMAKE_SOURCE_DIR}/userspace/${l} ${root}/${l} SYMBOLIC)
    endif()
    if(l STREQUAL layer)
      break()
    endif()
  endforeach()
  set(${out_var} ${root} PARENT_SCOPE)
endfunction()

# fnw_layer_header_checks(<layer> <out-var>): one generated .cpp per header
# of userspace/<layer>/ that has no .cpp of the same name.
function(fnw_layer_header_checks layer out_var)
  file(GLOB headers CONFIGURE_DEPENDS RELATIVE ${CMAKE_SOURCE_DIR}/userspace/${layer}
    ${CMAKE_SOURCE_DIR}/userspace/${layer}/*.hpp)
  set(sources)
  foreach(h IN LISTS headers)
    string(REGEX REPLACE "\\.hpp$" ".cpp" twin ${h})
    if(EXISTS ${CMAKE_SOURCE_DIR}/userspace/${layer}/${twin})
      continue()
    endif()
    set(check ${CMAKE_BINARY_DIR}/layer_checks/${layer}/${twin})
    file(CONFIGURE OUTPUT ${check} CONTENT "#include \"${layer}/${h}\"  // compiles alone, in its layer\n")
    list(APPEND sources ${check})
  endforeach()
  set(${out_var} ${sources} PARENT_SCOPE)
endfunction()

# fnw_add_layer(<target> LAYER <layer> SOURCES ... LINKS ...): a static
# library of one layer (a layer may have more than one library: the
# daemon's configuration model is its own, so the fuzzer need not build the
# daemon).
function(fnw_add_layer target)
  cmake_parse_arguments(ARG "" "LAYER" "SOURCES;LINKS" ${ARGN})
  fnw_layer_include_root(${ARG_LAYER} root)
  add_library(${target} STATIC ${ARG_SOURCES})
  target_include_directories(${target} PUBLIC ${root} ${CMAKE_SOURCE_DIR}/include)
  target_compile_options(${target} PRIVATE ${FNW_WARNINGS})
  target_link_libraries(${target} PUBLIC ${ARG_LINKS})
endfunction()

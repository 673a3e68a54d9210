# Uniform target definitions for sluice code (abseil's AbseilHelpers in miniature).
#
# sluice_library(NAME name SRCS ... DEPS ... [PROTOS ...] [KIND]) -> static library `name`;
#   KIND: it holds operator kinds, so sluice_job links it (SLUICE_KIND_LIBRARIES);
#   PROTOS (paths relative to the directory) are compiled into `name_proto`,
#   which `name` links; their headers are included by their path from the
#   source root, e.g. "worker/operators/throttle/throttle.pb.h".
# sluice_test(NAME name SRCS ... DEPS ... [LABELS ...]) -> gtest binary registered with ctest

set(SLUICE_WARNINGS -Wall -Wextra -Werror)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  list(APPEND SLUICE_WARNINGS -Wthread-safety)
endif()

function(sluice_library)
  cmake_parse_arguments(L "KIND" "NAME" "SRCS;DEPS;PROTOS" ${ARGN})
  add_library(${L_NAME} STATIC ${L_SRCS})
  target_include_directories(${L_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${L_NAME} PRIVATE ${SLUICE_WARNINGS})
  target_link_libraries(${L_NAME} PUBLIC ${L_DEPS})
  if(L_PROTOS)
    # Generated code builds without our warnings, in a library of its own.
    add_library(${L_NAME}_proto STATIC ${L_PROTOS})
    target_link_libraries(${L_NAME}_proto PUBLIC sluice_proto)
    # build/<dir>/x.pb.h, included as "<dir>/x.pb.h".
    target_include_directories(${L_NAME}_proto PUBLIC ${PROJECT_BINARY_DIR})
    # They may `import "sluice.proto";` (proto/sluice.proto, registered
    # under that name).
    protobuf_generate(TARGET ${L_NAME}_proto LANGUAGE cpp
      IMPORT_DIRS ${PROJECT_SOURCE_DIR}/proto
      PROTOC_OUT_DIR ${CMAKE_CURRENT_BINARY_DIR})
    target_link_libraries(${L_NAME} PUBLIC ${L_NAME}_proto)
  endif()
  if(L_KIND)
    set_property(GLOBAL APPEND PROPERTY SLUICE_KIND_LIBRARIES ${L_NAME})
  endif()
endfunction()

# add_subdirectory() for every direct subdirectory that has a CMakeLists.txt,
# in name order: a new operator kind's folder builds without editing its parent.
function(sluice_add_subdirectories)
  file(GLOB lists CONFIGURE_DEPENDS RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} */CMakeLists.txt)
  list(SORT lists)
  foreach(l IN LISTS lists)
    get_filename_component(dir ${l} DIRECTORY)
    add_subdirectory(${dir})
  endforeach()
endfunction()

# A gtest executable whose tests ctest runs one by one, labelled LABEL
# ("unit" unless given: `ctest -L unit`).
function(sluice_test)
  cmake_parse_arguments(T "" "NAME;LABEL" "SRCS;DEPS" ${ARGN})
  if(NOT T_LABEL)
    set(T_LABEL unit)
  endif()
  add_executable(${T_NAME} ${T_SRCS})
  target_compile_options(${T_NAME} PRIVATE ${SLUICE_WARNINGS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  include(GoogleTest)
  gtest_discover_tests(${T_NAME} NO_PRETTY_VALUES PROPERTIES LABELS ${T_LABEL})
endfunction()

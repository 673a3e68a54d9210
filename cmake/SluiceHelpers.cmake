# Uniform target definitions for sluice code (abseil's AbseilHelpers in miniature).
#
# sluice_library(NAME name SRCS ... DEPS ...)  -> static library `name`
# sluice_test(NAME name SRCS ... DEPS ... [LABELS ...]) -> gtest binary registered with ctest

set(SLUICE_WARNINGS -Wall -Wextra -Werror)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  list(APPEND SLUICE_WARNINGS -Wthread-safety)
endif()

function(sluice_library)
  cmake_parse_arguments(L "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${L_NAME} STATIC ${L_SRCS})
  target_include_directories(${L_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${L_NAME} PRIVATE ${SLUICE_WARNINGS})
  target_link_libraries(${L_NAME} PUBLIC ${L_DEPS})
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

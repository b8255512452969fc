# firmware shim latency through real board processes (a local 3-board
# chassis the bench starts and reaps): gets per read mode, puts on the
# master and forwarded from a replica. p50_us / p99_us counters.
# Needs the test support library (LocalChassis), built with the tests.
if(BP_BUILD_TESTS)
  add_executable(shim_bench ${CMAKE_CURRENT_LIST_DIR}/shim_bench.cc)
  target_link_libraries(shim_bench PRIVATE bp::firmware_shim bp::test_support benchmark::benchmark)
  target_compile_definitions(shim_bench PRIVATE BP_BOARD_EXE="$<TARGET_FILE:board>")
  add_dependencies(shim_bench board)
else()
  message(STATUS "shim_bench skipped: it needs BP_BUILD_TESTS=ON (LocalChassis)")
endif()

# memenv latency benchmarks (Get, Put, 10-op ApplyBatch) with p50/p99 counters.
add_executable(memenv_bench ${CMAKE_CURRENT_LIST_DIR}/memenv_bench.cc)
target_link_libraries(memenv_bench PRIVATE bp::memenv benchmark::benchmark)

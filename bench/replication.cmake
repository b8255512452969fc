# Replicated commit latency and throughput: the master engine runs inside the
# benchmark process (as repmgr's master does in its harness), the other
# boards are real board processes on ipc://.
add_executable(replication_bench ${CMAKE_CURRENT_LIST_DIR}/replication_bench.cc)
target_include_directories(replication_bench PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(replication_bench PRIVATE bp::board bp::test_support benchmark::benchmark)

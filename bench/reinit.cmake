# Re-initialisation of a replaced board from its peers (issue 7): start ->
# in sync in MB/s at 100 MiB and 1 GiB, and the master's QUORUM commit
# latency idle vs during the init. Real board processes over ipc://.
add_executable(reinit_bench ${CMAKE_CURRENT_LIST_DIR}/reinit_bench.cc)
target_include_directories(reinit_bench PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(reinit_bench PRIVATE bp::board bp::test_support benchmark::benchmark)

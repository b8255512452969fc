# bus benchmarks: the raw ZeroMQ round-trip floor and the bus on top of it.
add_executable(zmq_floor_bench ${CMAKE_CURRENT_LIST_DIR}/zmq_floor_bench.cc)
target_link_libraries(zmq_floor_bench PRIVATE bp::bus cppzmq benchmark::benchmark)

# Peer baseline: Berkeley DB 5.3's own Replication Manager (repmgr, TCP),
# configured fully in memory like the product, measured in the same run as our
# benchmarks. Sources and how to run: bench/peers/ and scripts/bench_peers.sh.
set(BP_PEERS_DIR ${CMAKE_CURRENT_LIST_DIR}/peers)

# libnodelay_preload.so: LD_PRELOAD shim forcing TCP_NODELAY ("best" variant).
add_library(nodelay_preload SHARED ${BP_PEERS_DIR}/nodelay_preload.c)
target_link_libraries(nodelay_preload PRIVATE ${CMAKE_DL_LIBS})

# repmgr_site: one repmgr site process, commanded over stdin.
add_executable(repmgr_site
  ${BP_PEERS_DIR}/site/site_main.cc
  ${BP_PEERS_DIR}/site/site.cc
  ${BP_PEERS_DIR}/site/workload.cc)
target_include_directories(repmgr_site PRIVATE ${BP_PEERS_DIR})
target_link_libraries(repmgr_site PRIVATE bdb::bdb bp::common CLI11::CLI11 Threads::Threads)

# repmgr_bench: Google Benchmark driver that spawns and measures the sites.
add_executable(repmgr_bench
  ${BP_PEERS_DIR}/driver/bench_main.cc
  ${BP_PEERS_DIR}/driver/bench_plan.cc
  ${BP_PEERS_DIR}/driver/child.cc
  ${BP_PEERS_DIR}/driver/cleanup.cc
  ${BP_PEERS_DIR}/driver/group.cc
  ${BP_PEERS_DIR}/driver/report.cc
  ${BP_PEERS_DIR}/driver/scenarios.cc)
target_include_directories(repmgr_bench PRIVATE ${BP_PEERS_DIR})
target_link_libraries(repmgr_bench PRIVATE bp::common bdb::bdb benchmark::benchmark Threads::Threads)
# The driver finds both artifacts by build path (overridable by flags).
target_compile_definitions(repmgr_bench PRIVATE
  BP_REPMGR_SITE_PATH="$<TARGET_FILE:repmgr_site>"
  BP_NODELAY_PRELOAD_PATH="$<TARGET_FILE:nodelay_preload>")
add_dependencies(repmgr_bench repmgr_site nodelay_preload)

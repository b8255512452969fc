# Every dependency is a Debian package; each missing one fails configuration
# with the package to install (scripts/setup.sh installs them all).

function(bp_require found what package)
  if(NOT ${found})
    message(FATAL_ERROR
      "${what} not found. Install it with: apt-get install ${package} "
      "(or run: sudo bash scripts/setup.sh)")
  endif()
endfunction()

find_package(Threads REQUIRED)
find_package(PkgConfig)

# Berkeley DB 5.3 ships no CMake or pkg-config file on Debian: look for the
# header and the library and check the version macro.
find_path(BDB_INCLUDE_DIR db.h)
find_library(BDB_LIBRARY NAMES db-5.3)
bp_require(BDB_INCLUDE_DIR "Berkeley DB 5.3 header (db.h)" libdb5.3-dev)
bp_require(BDB_LIBRARY "Berkeley DB 5.3 library (libdb-5.3.so)" libdb5.3-dev)
file(STRINGS ${BDB_INCLUDE_DIR}/db.h BDB_VERSION_LINES REGEX "#define[ \t]+DB_VERSION_(MAJOR|MINOR)")
if(NOT BDB_VERSION_LINES MATCHES "MAJOR[ \t]+5" OR NOT BDB_VERSION_LINES MATCHES "MINOR[ \t]+3")
  message(FATAL_ERROR "Berkeley DB in ${BDB_INCLUDE_DIR}/db.h is not 5.3. Install: apt-get install libdb5.3-dev")
endif()
add_library(bdb::bdb UNKNOWN IMPORTED)
set_target_properties(bdb::bdb PROPERTIES
  IMPORTED_LOCATION ${BDB_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${BDB_INCLUDE_DIR})
find_library(BDB_CXX_LIBRARY NAMES db_cxx-5.3)
bp_require(BDB_CXX_LIBRARY "Berkeley DB 5.3 C++ library (libdb_cxx-5.3.so)" libdb5.3++-dev)

find_package(cppzmq QUIET)
bp_require(cppzmq_FOUND "cppzmq (ZeroMQ C++ binding)" "cppzmq-dev libzmq3-dev")

find_package(FlatBuffers QUIET)
bp_require(FlatBuffers_FOUND "FlatBuffers library" libflatbuffers-dev)
find_program(FLATC_EXECUTABLE flatc)
bp_require(FLATC_EXECUTABLE "FlatBuffers compiler (flatc)" flatbuffers-compiler)

find_package(CLI11 QUIET)
bp_require(CLI11_FOUND "CLI11" libcli11-dev)
find_package(tomlplusplus QUIET)
bp_require(tomlplusplus_FOUND "toml++" libtomlplusplus-dev)
find_package(nlohmann_json QUIET)
bp_require(nlohmann_json_FOUND "nlohmann-json" nlohmann-json3-dev)
find_package(spdlog QUIET)
bp_require(spdlog_FOUND "spdlog" libspdlog-dev)
# cpp-httplib (the board's metrics endpoint): Debian ships it as a compiled
# library with a pkg-config file (whose flags the header must be built
# with), no CMake package.
if(PKG_CONFIG_FOUND)
  pkg_check_modules(HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
endif()
bp_require(HTTPLIB_FOUND "cpp-httplib (with pkg-config)" "libcpp-httplib-dev pkg-config")

if(BP_BUILD_TESTS)
  find_package(GTest QUIET)
  bp_require(GTest_FOUND "GoogleTest" libgtest-dev)
endif()
if(BP_BUILD_BENCHMARKS)
  find_package(benchmark QUIET)
  bp_require(benchmark_FOUND "Google Benchmark" libbenchmark-dev)
endif()

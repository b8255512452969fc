// libFuzzer target: ParseChassisConfig (board/src/config.cc) on arbitrary
// text. It must return a configuration or an error, never crash, throw,
// leak or hang; an accepted configuration written back with ToToml must
// parse again to the same configuration (chassis up writes what boards read).
#include <cstdint>
#include <string>

#include "board/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bp;
  using namespace bp::board;
  const std::string text(reinterpret_cast<const char*>(data), size);
  Result<ChassisConfig> cfg = ParseChassisConfig(text, "fuzz.toml");
  if (!cfg.ok()) {
    if (cfg.status().message().empty()) __builtin_trap();  // an error names its cause
    return 0;
  }
  const std::string again = ToToml(cfg.value());
  Result<ChassisConfig> back = ParseChassisConfig(again, "again.toml");
  if (!back.ok() || ToToml(back.value()) != again) __builtin_trap();
  return 0;
}

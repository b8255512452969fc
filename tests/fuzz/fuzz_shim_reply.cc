// libFuzzer target: what the firmware shim reads from its board. The first
// byte picks the decoder: even, the ClientFrame decoder (firmware_shim/src/
// codec.cc Decode, replies and role events); odd, the status JSON parser
// (status_parse.cc ParseStatus, what fw_status reads). Neither may crash,
// throw (an exception would surface as FW_ERR_INTERNAL, not as the
// documented FW_ERR_PROTOCOL) or read out of bounds.
#include <cstdint>
#include <string>

#include "codec.h"
#include "status_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool status = data[0] & 1;
  ++data;
  --size;
  if (status) {
    fw_status_t st{};
    (void)fw::ParseStatus(std::string(reinterpret_cast<const char*>(data), size), &st);
    return 0;
  }
  std::optional<fw::Incoming> in = fw::Decode(data, size);
  if (in && in->reply.has_value() == in->event.has_value()) __builtin_trap();  // exactly one
  return 0;
}

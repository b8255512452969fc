// The board's status JSON (board/src/status.cc) to fw_status_t.
#pragma once

#include <string>

#include "firmware_shim/fw_shim.h"

namespace fw {

// Fills *out from the status document; false (with the error recorded) if
// it is not the JSON the board sends.
bool ParseStatus(const std::string& json, fw_status_t* out);

}  // namespace fw

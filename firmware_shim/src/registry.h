// The registry of open handles. Every exported call looks its handle up
// here before touching it, so a NULL, foreign or closed handle is reported
// instead of dereferenced (reading a magic number out of freed memory would
// itself be undefined behaviour).
#pragma once

#include <memory>

#include "firmware_shim/fw_shim.h"

namespace fw {

// Adds an open handle; the registry co-owns it until Remove.
void RegisterHandle(std::shared_ptr<fw_board> board);
// The handle, or nullptr with the error already recorded (FW_ERR_BAD_HANDLE
// or FW_ERR_CLOSED) in *err. The returned reference keeps the handle alive
// for the call even if another thread closes it meanwhile.
std::shared_ptr<fw_board> FindHandle(const fw_board* h, fw_err_t* err);
// Takes the handle out of the registry (remembering it as closed).
std::shared_ptr<fw_board> RemoveHandle(const fw_board* h, fw_err_t* err);

}  // namespace fw

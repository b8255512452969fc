// Preload: fills the chassis with `bytes` of data through the shim, in
// batches (one atomic write each), before a drill that needs a data size
// (replace: re-initialisation time grows with the data an empty board copies).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "bp/status.h"

namespace bp::chassis {

struct PreloadOptions {
  uint64_t bytes = 0;
  size_t value_size = 4096;
  size_t batch_ops = 64;  // 256 KiB per batch at the default value size
  std::function<void(uint64_t done_bytes)> progress;
};

// Keys "p-<n>". Each batch is retried (same request id) on a retryable
// error; a batch that is still not durable is an error naming the cause.
Status Preload(const std::string& endpoint, const PreloadOptions& options);

}  // namespace bp::chassis

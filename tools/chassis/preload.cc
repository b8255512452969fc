#include "preload.h"

#include <vector>

#include "board_link.h"
#include "firmware_shim/fw_shim.h"
#include "load_gen.h"

namespace bp::chassis {
namespace {

// One batch, retried with its request id so a retry never applies it twice.
Status WriteBatch(fw_board_t* h, const std::vector<std::string>& keys, size_t value_size) {
  std::vector<std::string> values;
  std::vector<fw_op_t> ops;
  values.reserve(keys.size());
  for (const auto& k : keys) values.push_back(MakeValue(k, value_size));
  for (size_t i = 0; i < keys.size(); ++i) {
    ops.push_back({FW_OP_PUT, keys[i].data(), keys[i].size(), values[i].data(), values[i].size()});
  }
  fw_request_id_t id;
  fw_new_request_id(&id);
  fw_err_t e = FW_OK;
  for (int attempt = 0; attempt < 5; ++attempt) {
    e = fw_batch_with_id(h, &id, ops.data(), ops.size(), nullptr);
    if (e == FW_OK) return Status::Ok();
    if (!fw_err_is_retryable(e) && e != FW_ERR_NOT_DURABLE) break;
  }
  return ShimError(e, "preload batch of " + std::to_string(keys.size()) + " keys");
}

}  // namespace

Status Preload(const std::string& endpoint, const PreloadOptions& o) {
  fw_options_t fo;
  fw_options_init(&fo);
  fo.endpoint = endpoint.c_str();
  fo.request_timeout_ms = 5000;
  fw_board_t* h = nullptr;
  fw_err_t e = fw_open(&fo, &h);
  if (e != FW_OK) return ShimError(e, "open " + endpoint + " for preload");
  uint64_t done = 0, n = 0;
  Status st = Status::Ok();
  while (done < o.bytes && st.ok()) {
    std::vector<std::string> keys;
    for (size_t i = 0; i < o.batch_ops && done + keys.size() * o.value_size < o.bytes; ++i) {
      keys.push_back("p-" + std::to_string(n++));
    }
    st = WriteBatch(h, keys, o.value_size);
    done += keys.size() * o.value_size;
    if (o.progress) o.progress(done);
  }
  fw_close(h);
  return st;
}

}  // namespace bp::chassis

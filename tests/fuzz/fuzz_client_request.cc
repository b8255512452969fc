// libFuzzer target: a request on the board's client endpoint, decoded as
// ClientServer::Handle does (board/src/client_server.cc through the pure
// functions of board/decode.h): the verifier, the version check, and each
// operation's fields; an Admin request's JSON and its command name. What
// the engine then does with a request (reads, writes, Engine::Admin's link
// faults) is not run here.
#include <cstdint>
#include <cstring>
#include <vector>

#include "board/decode.h"

namespace {

volatile size_t g_sink = 0;

using namespace bp;

void DecodeFields(const wire::ClientRequest& req) {
  size_t sink = 0;
  switch (req.op()) {
    case wire::ClientOp::Get:
      sink += board::FieldBytes(req.key()).size() + board::FieldBytes(req.token()).size();
      sink += size_t(req.mode()) + req.timeout_ms();
      break;
    case wire::ClientOp::Write: {
      for (const auto& op : board::DecodeKvOps(req.ops())) sink += op.key.size() + op.value.size();
      sink += req.request_id_hi() + req.request_id_lo();
      break;
    }
    case wire::ClientOp::Admin: {
      nlohmann::json cmd = board::ParseAdminCommand(req);
      if (!cmd.is_discarded()) sink += board::AdminCommandName(cmd).size() + cmd.dump().size();
      break;
    }
    case wire::ClientOp::Scan:
      sink += board::FieldBytes(req.key()).size() + board::FieldBytes(req.scan_end()).size() + req.limit();
      break;
    default:
      break;
  }
  g_sink = sink;  // keeps the reads from being optimised away
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // ClientServer::Loop copies a misaligned message to 8-byte alignment.
  std::vector<uint64_t> aligned(size / 8 + 1);
  if (size) std::memcpy(aligned.data(), data, size);
  board::ClientRequestCheck c =
      board::CheckClientRequest(reinterpret_cast<const uint8_t*>(aligned.data()), size);
  if (c.req == nullptr) {
    if (c.error.ok()) __builtin_trap();  // a refused request is always answered with a reason
    return 0;
  }
  DecodeFields(*c.req);
  return 0;
}

// Pure decoding of what reaches a board from outside: the bodies of bus
// frames (after bus::CheckFrame) and the client endpoint's requests.
//
// No engine, no Berkeley DB, no sockets, no threads: the engine's bus
// thread (Engine::OnFrame and its handlers) and the client server thread
// (ClientServer::Handle) call these, and so do the fuzz targets
// (tests/fuzz/), which link this file and not the board. Every function
// takes a verified FlatBuffer and never throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "board/frame_checks.h"
#include "bp/status.h"
#include "client_generated.h"  // bus/schema/client.fbs (includes frames.fbs)
#include "memenv/env.h"

namespace bp::board {

// The ops of a forwarded write (AppRequest) or a client Write request.
// A null vector is no ops; a missing key or value is empty.
std::vector<memenv::BatchOp> DecodeKvOps(
    const flatbuffers::Vector<flatbuffers::Offset<wire::KvOp>>* ops);

// The shape of a forwarded write that CheckForwardedWrite judges: its ops,
// the largest key and value, and their bytes together.
ForwardedWriteShape ForwardedWriteShapeOf(int sender, const wire::AppRequest& req);

// The master's answer to a forwarded write, as the origin hands it on.
// Any code number is kept as it came (Status::Code is an int enum).
struct AppReplyFields {
  uint64_t id_hi = 0, id_lo = 0;
  Status status;
  bool durable = false;
  bool duplicate = false;
  std::string token;
};
AppReplyFields DecodeAppReply(const wire::AppReply& reply);

// A client request frame checked as ClientServer::Handle does: `req` is set
// only when `error` is OK. A frame that is no ClientFrame / no
// ClientRequest is `malformed` (counted); a request of another protocol
// version is an error with its seq (answered, not counted). `data` must be
// 8-byte aligned.
struct ClientRequestCheck {
  const wire::ClientRequest* req = nullptr;
  uint64_t seq = 0;
  bool malformed = false;
  Status error;
};
ClientRequestCheck CheckClientRequest(const uint8_t* data, size_t size);

// The bytes of a [ubyte] field (empty when absent).
std::string FieldBytes(const flatbuffers::Vector<uint8_t>* v);

// An admin request's JSON command (its key): discarded when not JSON.
nlohmann::json ParseAdminCommand(const wire::ClientRequest& req);
// The "cmd" member of an admin command; empty when the command is not an
// object or "cmd" is missing or not a string (never throws, unlike
// json::value on a non-object or a member of another type).
std::string AdminCommandName(const nlohmann::json& cmd);

}  // namespace bp::board

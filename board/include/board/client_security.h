// Access control of the board's client endpoint (README "Client endpoint
// security"). Called by ClientServer::Bind on the thread that starts the
// board, once, before the endpoint serves anything; no locks.
//
//   ipc://PATH  the socket file is the boundary: it is created owner-only,
//               then given client_socket_group and client_socket_mode
//               (default 0660: the board's user and the firmware's group).
//               A local, group-restricted socket needs no CURVE: the kernel
//               checks every connect against the file's mode.
//   ipc://@NAME an abstract socket has no file and no mode: any process in
//               the network namespace could connect, so it is refused.
//   tcp://      anyone on the network can reach it: with security = "curve"
//               it is a CURVE server with the board's key pair, and only the
//               keys in client_public_keys complete the handshake (ZAP domain
//               kClientZapDomain).
#pragma once

#include <sys/types.h>

#include <string>

#include "board/config.h"
#include "bp/status.h"

namespace bp::board {

inline constexpr const char* kClientZapDomain = "client";

// The socket file's path of an ipc:// endpoint ("" for any other endpoint).
std::string IpcSocketPath(const std::string& endpoint);

struct IpcSocketAccess {
  std::string path;   // the socket file
  std::string group;  // its group's name (client_socket_group or the primary group)
  gid_t gid = 0;
  uint32_t mode = 0660;
};

// Looks up client_socket_group (empty: this process's primary group).
// Errors name the key and the fix.
Result<IpcSocketAccess> ResolveIpcSocketAccess(const ChassisConfig& config,
                                               const std::string& endpoint);

// Gives the bound socket file its group and mode (chown, then chmod, so the
// group bits apply to the configured group only). Errors name the key.
Status ApplyIpcSocketAccess(const IpcSocketAccess& access);

}  // namespace bp::board

// The client endpoint's access control: the [chassis] keys client_socket_group,
// client_socket_mode and client_public_keys, and the ipc:// socket file's
// group and mode (board/include/board/client_security.h).
#include "board/client_security.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include "bus/curve.h"
#include "bus/zap.h"

namespace bp::board {

Result<uint32_t> ParseSocketMode(const std::string& s) {
  if (s.size() < 3 || s.size() > 4 || s.find_first_not_of("01234567") != std::string::npos) {
    return Status::InvalidArgument("'" + s + "' is not 3 or 4 octal digits");
  }
  return uint32_t(std::stoul(s, nullptr, 8));
}

std::string SocketModeString(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

Status ChassisConfig::ValidateClientSecurity() const {
  const std::string mode = SocketModeString(client_socket_mode);
  if (client_socket_mode & 07007) {
    return Status::InvalidArgument(
        "client_socket_mode = \"" + mode + "\" gives access to others (or sets setuid/setgid/"
        "sticky bits): any local user could connect to the client endpoint; use \"0660\" (the "
        "board's user and client_socket_group) or \"0600\" (the board's user only)");
  }
  if ((client_socket_mode & 0600) != 0600) {
    return Status::InvalidArgument(
        "client_socket_mode = \"" + mode + "\" must give the board's own user read and write "
        "(0600): the chassis tool connects as that user; use \"0660\"");
  }
  if (client_socket_group.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789._-") != std::string::npos ||
      (!client_socket_group.empty() && client_socket_group[0] == '-')) {
    return Status::InvalidArgument("client_socket_group = \"" + client_socket_group +
                                   "\" is not a group name (letters, digits, '.', '_', '-'); "
                                   "give the firmware's group, or leave it out for the board's "
                                   "primary group");
  }
  if (client_public_keys.size() > bus::ZapAuthenticator::kMaxKeysPerDomain) {
    return Status::InvalidArgument(
        "client_public_keys lists " + std::to_string(client_public_keys.size()) +
        " keys; at most " + std::to_string(bus::ZapAuthenticator::kMaxKeysPerDomain) +
        " (the ZAP handler's table bound): share a key among the clients of one board");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < client_public_keys.size(); ++i) {
    const std::string& k = client_public_keys[i];
    if (!bus::IsValidCurveKey(k)) {
      return Status::InvalidArgument("client_public_keys[" + std::to_string(i) + "] = \"" + k +
                                     "\" is not a Z85 CURVE public key (40 characters); copy the "
                                     "public key printed when the client's key pair was made");
    }
    if (!seen.insert(k).second) {
      return Status::InvalidArgument("client_public_keys[" + std::to_string(i) +
                                     "] is listed twice; list every client key once");
    }
  }
  for (const auto& b : boards) {
    if (security == SecurityMode::kCurve && client_public_keys.empty() &&
        b.client_endpoint.rfind("tcp://", 0) == 0) {
      return Status::InvalidArgument(
          "line " + std::to_string(b.line) + ": client_endpoint '" + b.client_endpoint +
          "' is tcp:// with security = \"curve\" but client_public_keys is empty: no firmware "
          "client could connect; list the clients' public keys in [chassis] client_public_keys "
          "(or use an ipc:// client endpoint)");
    }
    if (b.client_endpoint.rfind("ipc://@", 0) == 0) {
      return Status::InvalidArgument(
          "line " + std::to_string(b.line) + ": client_endpoint '" + b.client_endpoint +
          "' is an abstract socket: it has no file mode, so any local process could connect; "
          "use a path (ipc:///run/bp/slot" + std::to_string(b.slot) + ".client)");
    }
  }
  return Status::Ok();
}

std::string IpcSocketPath(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) != 0 || endpoint.size() <= 6 || endpoint[6] == '@') return "";
  return endpoint.substr(6);
}

namespace {

// getgrnam_r / getgrgid_r with a growing buffer. Returns false if absent.
bool LookUpGroup(const std::string* name, gid_t gid, IpcSocketAccess* out) {
  std::vector<char> buf(4096);
  for (;;) {
    struct group g, *found = nullptr;
    int rc = name ? getgrnam_r(name->c_str(), &g, buf.data(), buf.size(), &found)
                  : getgrgid_r(gid, &g, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0 || !found) return false;
    out->group = found->gr_name;
    out->gid = found->gr_gid;
    return true;
  }
}

}  // namespace

Result<IpcSocketAccess> ResolveIpcSocketAccess(const ChassisConfig& config,
                                               const std::string& endpoint) {
  IpcSocketAccess a;
  a.path = IpcSocketPath(endpoint);
  a.mode = config.client_socket_mode;
  if (config.client_socket_group.empty()) {
    if (!LookUpGroup(nullptr, getgid(), &a)) {  // a gid without a name still works
      a.gid = getgid();
      a.group = std::to_string(a.gid);
    }
    return a;
  }
  if (!LookUpGroup(&config.client_socket_group, 0, &a)) {
    return Status::InvalidArgument("client_socket_group = \"" + config.client_socket_group +
                                   "\": no such group on this machine; create it (groupadd " +
                                   config.client_socket_group +
                                   ") and add the board's user to it, or set an existing group");
  }
  return a;
}

Status ApplyIpcSocketAccess(const IpcSocketAccess& a) {
  if (chown(a.path.c_str(), uid_t(-1), a.gid) != 0) {
    return Status::InvalidArgument(
        "client endpoint " + a.path + ": cannot give the socket file the group '" + a.group +
        "' (client_socket_group): " + std::strerror(errno) +
        "; add the board's user to that group, or set client_socket_group to one of its groups");
  }
  if (chmod(a.path.c_str(), mode_t(a.mode)) != 0) {
    return Status::Internal("client endpoint " + a.path + ": cannot set client_socket_mode " +
                            SocketModeString(a.mode) + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace bp::board

// One network namespace per slot on a bridge (see netns_backplane.h).
#include "netns_backplane.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace bp::testing {
namespace {

// Runs `cmd` (no shell metacharacters from outside: names are ours) and
// returns its output; *rc gets the exit code.
std::string Run(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) {
    *rc = -1;
    return "popen failed";
  }
  char buf[256];
  while (fgets(buf, sizeof buf, p)) out += buf;
  int st = pclose(p);
  *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

bp::Status Do(const std::string& cmd) {
  int rc = 0;
  std::string out = Run(cmd, &rc);
  if (rc != 0) return bp::Status::Unavailable("`" + cmd + "` failed (" + std::to_string(rc) + "): " + out);
  return bp::Status::Ok();
}

bool PidAlive(long pid) { return pid > 0 && (kill(pid_t(pid), 0) == 0 || errno == EPERM); }

}  // namespace

bool NetnsBackplane::Available(std::string* why) {
  if (geteuid() != 0) {
    *why = "not root: network namespaces need CAP_NET_ADMIN and CAP_SYS_ADMIN";
    return false;
  }
  int rc = 0;
  std::string out = Run("ip -V", &rc);
  if (rc != 0) {
    *why = "iproute2's `ip` is missing (apt-get install iproute2): " + out;
    return false;
  }
  return true;
}

NetnsBackplane::NetnsBackplane(std::vector<int> slots)
    : slots_(std::move(slots)),
      prefix_("bp" + std::to_string(getpid() % 100000)),
      subnet_(int(getpid() % 250) + 1) {}

NetnsBackplane::~NetnsBackplane() {
  int rc = 0;
  for (const std::string& ns : made_namespaces_) Run("ip netns delete " + ns, &rc);
  for (int s : slots_) Run("ip link delete " + HostVeth(s), &rc);  // gone with its ns, usually
  if (made_bridge_) Run("ip link delete " + Bridge(), &rc);
}

std::string NetnsBackplane::Namespace(int slot) const { return prefix_ + "-" + std::to_string(slot); }
std::string NetnsBackplane::Address(int slot) const {
  return "10.213." + std::to_string(subnet_) + "." + std::to_string(slot + 1);
}
std::string NetnsBackplane::HostVeth(int slot) const { return prefix_ + "h" + std::to_string(slot); }
std::string NetnsBackplane::Bridge() const { return prefix_ + "br"; }

// Namespaces "bp<pid>-<slot>" of processes that are gone, with their
// bridge: a test that was killed could not remove them.
void NetnsBackplane::SweepDead() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = e.path().filename().string();
    long pid = 0;
    if (std::sscanf(name.c_str(), "bp%ld-", &pid) != 1 || PidAlive(pid)) continue;
    if (pid == getpid() % 100000) continue;
    int rc = 0;
    Run("ip netns delete " + name, &rc);
    Run("ip link delete bp" + std::to_string(pid) + "br", &rc);
  }
}

bp::Status NetnsBackplane::Create() {
  SweepDead();
  BP_RETURN_IF_ERROR(Do("ip link add " + Bridge() + " type bridge"));
  made_bridge_ = true;
  BP_RETURN_IF_ERROR(Do("ip link set " + Bridge() + " up"));
  for (int s : slots_) BP_RETURN_IF_ERROR(CreateSlot(s));
  return bp::Status::Ok();
}

bp::Status NetnsBackplane::CreateSlot(int slot) {
  const std::string ns = Namespace(slot), host = HostVeth(slot);
  const std::string inner = prefix_ + "n" + std::to_string(slot);
  BP_RETURN_IF_ERROR(Do("ip netns add " + ns));
  made_namespaces_.push_back(ns);
  BP_RETURN_IF_ERROR(Do("ip link add " + host + " type veth peer name " + inner));
  BP_RETURN_IF_ERROR(Do("ip link set " + inner + " netns " + ns));
  BP_RETURN_IF_ERROR(Do("ip link set " + host + " master " + Bridge() + " up"));
  const std::string in_ns = "ip -n " + ns + " ";
  BP_RETURN_IF_ERROR(Do(in_ns + "link set lo up"));
  BP_RETURN_IF_ERROR(Do(in_ns + "addr add " + Address(slot) + "/24 dev " + inner));
  return Do(in_ns + "link set " + inner + " up");
}

bp::Status NetnsBackplane::Pull(int slot) { return Do("ip link set " + HostVeth(slot) + " down"); }
bp::Status NetnsBackplane::Plug(int slot) { return Do("ip link set " + HostVeth(slot) + " up"); }

}  // namespace bp::testing

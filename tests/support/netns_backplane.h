// NetnsBackplane: one network namespace per board slot, each joined by a
// veth pair to one bridge that stands for the switch backplane: boards on
// separate network stacks talking real TCP, as a container per board would.
//
// Pull(slot) takes the bridge-side end of the slot's veth down: from then on
// every packet to or from that board is lost, and no socket is closed (no
// FIN, no RST), as when a board is pulled from the chassis or loses power.
// Plug(slot) brings it back. The kernel's sch_netem is not needed.
//
// Names carry this process' pid ("bp<pid>-<slot>"), so tests running at
// once do not collide, and Create() first removes what a dead test process
// left (its pid is gone). The destructor removes every namespace, veth and
// the bridge this object made. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)
// and iproute2; Available() says why not.
//
// One thread (the test's); no locks.
#pragma once

#include <string>
#include <vector>

#include "bp/status.h"

namespace bp::testing {

class NetnsBackplane {
 public:
  // Whether this machine can make namespaces here; *why says why not.
  static bool Available(std::string* why);

  explicit NetnsBackplane(std::vector<int> slots);
  ~NetnsBackplane();
  NetnsBackplane(const NetnsBackplane&) = delete;
  NetnsBackplane& operator=(const NetnsBackplane&) = delete;

  bp::Status Create();
  // The namespace of `slot` (for setns: /run/netns/<name>) and its address.
  std::string Namespace(int slot) const;
  std::string Address(int slot) const;
  bp::Status Pull(int slot);
  bp::Status Plug(int slot);

 private:
  std::string HostVeth(int slot) const;
  std::string Bridge() const;
  bp::Status CreateSlot(int slot);
  static void SweepDead();

  const std::vector<int> slots_;
  const std::string prefix_;  // "bp<pid>"
  const int subnet_;          // 10.213.<subnet_>.0/24
  std::vector<std::string> made_namespaces_;
  bool made_bridge_ = false;
};

}  // namespace bp::testing

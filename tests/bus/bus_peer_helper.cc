// A peer board in its own process, for tests and benchmarks that kill and
// restart a peer. Echoes every RepMsg back to its sender (same LSN, same
// bytes) until killed; dies with its parent (PR_SET_PDEATHSIG).
//
// Usage: bus_peer_helper <parent_pid> <chassis> <self_slot> <self_endpoint>
//                        <peer_slot> <peer_endpoint>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bus/bus.h"

namespace {

class Echo : public bp::bus::Handler {
 public:
  explicit Echo(const bp::bus::FrameHeader& header) : header_(header) {}
  void set_bus(bp::bus::Bus* bus) { bus_ = bus; }

  void OnFrame(bp::bus::InFrame&& in) override {
    const bp::wire::RepMsg* rep = in.frame()->body_as_RepMsg();
    if (rep == nullptr) return;
    auto bytes = [](const flatbuffers::Vector<uint8_t>* v) {
      return v ? std::span<const uint8_t>(v->data(), v->size()) : std::span<const uint8_t>();
    };
    (void)bus_->Send(
        in.sender(),
        bp::bus::BuildRepMsg(header_, bytes(rep->control()), bytes(rep->rec()),
                             {rep->lsn_file(), rep->lsn_offset()}, rep->flags(), rep->gen()));
  }

 private:
  bp::bus::FrameHeader header_;
  bp::bus::Bus* bus_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s parent_pid chassis self_slot self_ep peer_slot peer_ep\n",
                 argv[0]);
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != std::atoi(argv[1])) return 3;  // the parent died before prctl
  bp::bus::BusOptions o;
  o.chassis_id = std::strtoull(argv[2], nullptr, 10);
  o.self_slot = std::atoi(argv[3]);
  o.self_endpoint = argv[4];
  o.peers = {{std::atoi(argv[5]), argv[6]}};
  auto bus = bp::bus::Bus::Create(o);
  if (!bus.ok()) {
    std::fprintf(stderr, "%s\n", bus.status().ToString().c_str());
    return 1;
  }
  Echo echo({o.chassis_id, o.self_slot});
  echo.set_bus(bus.value().get());
  if (bp::Status s = bus.value()->Start(&echo); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  for (;;) pause();
}

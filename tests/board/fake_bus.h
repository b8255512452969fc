// FakeBus: the bus seam for tests of one engine component (no ZeroMQ, no
// peers). Every call succeeds and does nothing; a test derives from it and
// overrides Send to record or refuse what the component sends.
#pragma once

#include <vector>

#include "bus/bus.h"

namespace bp::board::fakes {

class FakeBus : public bus::Bus {
 public:
  Status Start(bus::Handler*) override { return Status::Ok(); }
  void Stop() override {}
  Status AddPeer(const bus::SlotAddress&) override { return Status::Ok(); }
  Status RemovePeer(int) override { return Status::Ok(); }
  Status SetLinkFault(int, const bus::LinkFault&) override { return Status::Ok(); }
  bool IsConnected(int) const override { return true; }
  std::vector<bus::LinkStats> Links() const override { return {}; }
  bus::BusCounters Counters() const override { return {}; }
  bus::ZapAuthenticator::Stats ZapStats() const override { return {}; }
  const bus::BusOptions& options() const override { return opts_; }

 private:
  bus::BusOptions opts_;
};

}  // namespace bp::board::fakes

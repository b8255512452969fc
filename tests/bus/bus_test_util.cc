// Helpers of the bus tests (see bus_test_util.h).
#include "bus_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "bus/frames.h"

namespace bp::bus::testing {

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "bp-bus-XXXXXX").string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

// A loopback port nothing listens on now. The kernel may hand the same
// ephemeral port out again once the probe socket is closed, so ports given
// out by this process are remembered and never returned twice (a mesh needs
// one distinct port per board).
int FreeTcpPort() {
  static std::mutex mu;
  static std::set<int> given;
  std::lock_guard<std::mutex> lock(mu);
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (fd >= 0) close(fd);
      throw std::runtime_error("probe socket failed");
    }
    close(fd);
    const int port = ntohs(addr.sin_port);
    if (given.insert(port).second) return port;
  }
  throw std::runtime_error("no fresh loopback port after 100 probes");
}

std::string TransportName(Transport t) {
  switch (t) {
    case Transport::kInproc:
      return "inproc";
    case Transport::kIpc:
      return "ipc";
    case Transport::kTcp:
      return "tcp";
  }
  return "?";
}

uint64_t Endpoints::NextId() {
  static std::atomic<uint64_t> next{0};
  return next++;
}

std::string Endpoints::For(int slot) {
  switch (transport_) {
    case Transport::kInproc:
      return "inproc://bus-test-" + std::to_string(id_) + "-" + std::to_string(slot);
    case Transport::kIpc:
      if (!dir_) dir_ = std::make_unique<TempDir>();
      return "ipc://" + dir_->path() + "/slot" + std::to_string(slot);
    case Transport::kTcp:
      return "tcp://127.0.0.1:" + std::to_string(FreeTcpPort());
  }
  return "";
}

void RecordingHandler::OnFrame(InFrame&& frame) {
  Received r;
  r.sender = frame.sender();
  r.body = frame.frame()->body_type();
  if (const wire::RepMsg* rep = frame.frame()->body_as_RepMsg()) {
    r.lsn_offset = rep->lsn_offset();
    auto all = [](const flatbuffers::Vector<uint8_t>* v, uint8_t b) {
      return v != nullptr && std::all_of(v->begin(), v->end(), [b](uint8_t x) { return x == b; });
    };
    r.rec_bytes = rep->rec() ? rep->rec()->size() : 0;
    r.bytes_ok = all(rep->control(), 0xC5) && rep->control()->size() == 36 &&
                 all(rep->rec(), static_cast<uint8_t>(r.lsn_offset));
  }
  r.received_us = frame.received_us();
  std::lock_guard lock(mu_);
  frames_.push_back(r);
  cv_.notify_all();
}

void RecordingHandler::OnPeerUp(int slot) {
  std::lock_guard lock(mu_);
  ups_.push_back(slot);
  cv_.notify_all();
}

void RecordingHandler::OnPeerDown(int slot) {
  int64_t now = Clock::Real().NowMicros();
  std::lock_guard lock(mu_);
  downs_.push_back(slot);
  last_down_us_ = now;
  cv_.notify_all();
}

size_t RecordingHandler::frame_count() const {
  std::lock_guard lock(mu_);
  return frames_.size();
}

std::vector<Received> RecordingHandler::frames() const {
  std::lock_guard lock(mu_);
  return frames_;
}

int RecordingHandler::ups(int slot) const {
  std::lock_guard lock(mu_);
  return static_cast<int>(std::count(ups_.begin(), ups_.end(), slot));
}

int RecordingHandler::downs(int slot) const {
  std::lock_guard lock(mu_);
  return static_cast<int>(std::count(downs_.begin(), downs_.end(), slot));
}

int64_t RecordingHandler::last_down_us() const {
  std::lock_guard lock(mu_);
  return last_down_us_;
}

bool RecordingHandler::Wait(const std::function<bool()>& done,
                            std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, done);
}

bool RecordingHandler::WaitFrames(size_t n, std::chrono::milliseconds timeout) const {
  return Wait([&] { return frames_.size() >= n; }, timeout);
}

bool RecordingHandler::WaitUps(int slot, int n, std::chrono::milliseconds timeout) const {
  return Wait([&] { return std::count(ups_.begin(), ups_.end(), slot) >= n; }, timeout);
}

bool RecordingHandler::WaitDowns(int slot, int n, std::chrono::milliseconds timeout) const {
  return Wait([&] { return std::count(downs_.begin(), downs_.end(), slot) >= n; }, timeout);
}

BusOptions Options(int self, const std::string& endpoint, std::vector<SlotAddress> peers,
                   std::shared_ptr<zmq::context_t> ctx) {
  BusOptions o;
  o.chassis_id = kChassis;
  o.self_slot = self;
  o.self_endpoint = endpoint;
  o.peers = std::move(peers);
  o.context = std::move(ctx);
  return o;
}

OutFrame Rep(int sender, uint32_t seq, size_t rec_bytes) {
  std::vector<uint8_t> control(36, 0xC5);
  std::vector<uint8_t> rec(rec_bytes, static_cast<uint8_t>(seq));
  return BuildRepMsg(FrameHeader{kChassis, sender}, control, rec, Lsn{1, seq}, 0, 1);
}

Mesh::Mesh(Transport t, int n, std::function<void(BusOptions&)> tweak) : endpoints(t) {
  std::vector<SlotAddress> all;
  for (int slot = 1; slot <= n; ++slot) all.push_back({slot, endpoints.For(slot)});
  for (int slot = 1; slot <= n; ++slot) {
    std::vector<SlotAddress> peers;
    for (const auto& a : all) {
      if (a.slot != slot) peers.push_back(a);
    }
    BusOptions o = Options(slot, all[slot - 1].endpoint, peers, ctx);
    if (tweak) tweak(o);
    auto bus = Bus::Create(o);
    if (!bus.ok()) throw std::runtime_error(bus.status().ToString());
    handlers.push_back(std::make_unique<RecordingHandler>());
    Status s = bus.value()->Start(handlers.back().get());
    if (!s.ok()) throw std::runtime_error(s.ToString());
    buses.push_back(std::move(bus).value());
  }
}

Mesh::~Mesh() {
  for (auto& bus : buses) bus->Stop();
}

bool Mesh::WaitConnected() const {
  return WaitUntil([&] {
    for (const auto& bus : buses) {
      for (const LinkStats& l : bus->Links()) {
        if (!l.connected) return false;
      }
    }
    return true;
  });
}

}  // namespace bp::bus::testing

// The ZeroMQ round-trip floor on this machine, and the bus on top of it.
//
// A 128-byte frame ping-pongs between this process and an echo child
// process, over ipc:// (temp dir) and tcp://127.0.0.1:
//   RawPushPull    a PUSH/PULL pair each way, the bus's socket pattern;
//   RawDealer      DEALER here, ROUTER in the child;
//   Bus            two bp::bus::Bus (the child echoes each RepMsg), so the
//                  difference to RawPushPull is the bus's own overhead
//                  (verification, the receive thread, and the wake-up of
//                  the waiting thread here, which an engine waiting for an
//                  ack pays too). BusCurve: the same with security curve
//                  (CURVE encryption and the User-Id check on every frame).
//   BusHandshake   the connection of a (re)starting bus to a running one:
//                  Create + Start of a new bus until both links are up,
//                  with and without CURVE (the handshake a rejoining board
//                  pays; includes the running side's reconnect interval).
// Each iteration is one round trip; p50/p99/p99.9 (us) are computed over
// every round trip of the benchmark (all its runs), reported as counters.
//
// Children are forked before this process creates any ZeroMQ context or
// thread, die with it (PR_SET_PDEATHSIG) and are killed and reaped at exit.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bus/bus.h"

namespace {

constexpr size_t kFrameBytes = 128;
constexpr uint64_t kChassis = 1;
constexpr int kParentSlot = 1;
constexpr int kChildSlot = 2;
constexpr auto kConnectTimeout = std::chrono::seconds(10);

// ---- Endpoints and child processes ----------------------------------------

int FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string g_tmp_dir;
std::vector<pid_t> g_children;

// The two endpoints of one configuration: `here` bound by this process,
// `there` bound by the child (unused by DEALER/ROUTER, where only the child binds).
struct Pair {
  std::string here;
  std::string there;
};

Pair MakePair(const std::string& transport, const std::string& name) {
  if (transport == "ipc") {
    return {"ipc://" + g_tmp_dir + "/" + name + "-p", "ipc://" + g_tmp_dir + "/" + name + "-c"};
  }
  return {"tcp://127.0.0.1:" + std::to_string(FreeTcpPort()),
          "tcp://127.0.0.1:" + std::to_string(FreeTcpPort())};
}

void Spawn(const std::function<void()>& child_main) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    child_main();
    _exit(0);
  }
  g_children.push_back(pid);
}

void EchoPushPull(const Pair& p) {
  zmq::context_t ctx(1);
  zmq::socket_t in(ctx, zmq::socket_type::pull);
  zmq::socket_t out(ctx, zmq::socket_type::push);
  in.bind(p.there);
  out.connect(p.here);
  for (zmq::message_t msg;;) {
    if (in.recv(msg)) out.send(msg, zmq::send_flags::none);
  }
}

void EchoRouter(const Pair& p) {
  zmq::context_t ctx(1);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.bind(p.there);
  for (zmq::message_t id, msg;;) {
    if (!router.recv(id) || !router.recv(msg)) continue;
    router.send(id, zmq::send_flags::sndmore);
    router.send(msg, zmq::send_flags::none);
  }
}

class BusEcho : public bp::bus::Handler {
 public:
  bp::bus::Bus* bus = nullptr;
  void OnFrame(bp::bus::InFrame&& in) override {
    const bp::wire::RepMsg* rep = in.frame()->body_as_RepMsg();
    if (rep == nullptr) return;
    auto bytes = [](const flatbuffers::Vector<uint8_t>* v) {
      return std::span<const uint8_t>(v->data(), v->size());
    };
    (void)bus->Send(in.sender(), bp::bus::BuildRepMsg({kChassis, kChildSlot}, bytes(rep->control()),
                                                      bytes(rep->rec()),
                                                      {rep->lsn_file(), rep->lsn_offset()}, 0, 0));
  }
};

// Key pairs of the two slots, made before the children are forked.
bp::bus::CurveKeyPair g_keys[3];

bp::bus::BusOptions BusOptionsFor(int self, const std::string& self_ep, int peer,
                                  const std::string& peer_ep, bool curve) {
  bp::bus::BusOptions o;
  o.chassis_id = kChassis;
  o.self_slot = self;
  o.self_endpoint = self_ep;
  o.peers = {{peer, peer_ep, curve ? g_keys[peer].public_z85 : ""}};
  if (curve) {
    o.security = bp::bus::BusSecurity::kCurve;
    o.keys = g_keys[self];
  }
  return o;
}

void EchoBus(const Pair& p, bool curve) {
  auto bus = bp::bus::Bus::Create(BusOptionsFor(kChildSlot, p.there, kParentSlot, p.here, curve));
  if (!bus.ok()) _exit(1);
  BusEcho echo;
  echo.bus = bus.value().get();
  if (!bus.value()->Start(&echo).ok()) _exit(1);
  for (;;) pause();
}

std::map<std::string, Pair> g_pairs;  // "<kind>/<transport>" -> endpoints

void SpawnAll() {
  for (std::string transport : {"ipc", "tcp"}) {
    Pair pp = g_pairs["pushpull/" + transport] = MakePair(transport, "pushpull");
    Pair dr = g_pairs["dealer/" + transport] = MakePair(transport, "dealer");
    Pair bus = g_pairs["bus/" + transport] = MakePair(transport, "bus");
    Pair curve = g_pairs["buscurve/" + transport] = MakePair(transport, "buscurve");
    Spawn([pp] { EchoPushPull(pp); });
    Spawn([dr] { EchoRouter(dr); });
    Spawn([bus] { EchoBus(bus, false); });
    Spawn([curve] { EchoBus(curve, true); });
  }
}

void ReapAll() {
  for (pid_t pid : g_children) kill(pid, SIGKILL);
  for (pid_t pid : g_children) waitpid(pid, nullptr, 0);
  g_children.clear();
}

// ---- Measurement ------------------------------------------------------------

std::map<std::string, std::vector<double>> g_samples_us;  // per benchmark, every run

double Percentile(const std::vector<double>& sorted, double q) {
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

void Report(benchmark::State& state, const std::string& key, const std::vector<double>& run_us) {
  std::vector<double>& all = g_samples_us[key];
  all.insert(all.end(), run_us.begin(), run_us.end());
  if (all.empty()) return;
  std::vector<double> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  state.counters["p50_us"] = Percentile(sorted, 0.50);
  state.counters["p99_us"] = Percentile(sorted, 0.99);
  state.counters["p99.9_us"] = Percentile(sorted, 0.999);
  state.counters["samples"] = static_cast<double>(sorted.size());
}

double MicrosSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

// Runs `round_trip` once per iteration, timing each.
template <typename F>
void Measure(benchmark::State& state, const std::string& key, F&& round_trip) {
  std::vector<double> us;
  us.reserve(100'000);
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    if (!round_trip()) {
      state.SkipWithError("round trip failed");
      break;
    }
    us.push_back(MicrosSince(t0));
  }
  Report(state, key, us);
}

// ---- Parent sides (created on first use, after the children exist) ---------

zmq::context_t& Context() {
  static zmq::context_t ctx(1);
  return ctx;
}

struct RawPushPull {
  zmq::socket_t in{Context(), zmq::socket_type::pull};
  zmq::socket_t out{Context(), zmq::socket_type::push};
  explicit RawPushPull(const Pair& p) {
    for (auto* s : {&in, &out}) s->set(zmq::sockopt::linger, 0);
    in.set(zmq::sockopt::rcvtimeo, 5000);
    in.bind(p.here);
    out.connect(p.there);
  }
  bool RoundTrip(const uint8_t* payload) {
    zmq::message_t reply;
    return out.send(zmq::const_buffer(payload, kFrameBytes), zmq::send_flags::none) &&
           in.recv(reply);
  }
};

struct RawDealer {
  zmq::socket_t dealer{Context(), zmq::socket_type::dealer};
  explicit RawDealer(const Pair& p) {
    dealer.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::rcvtimeo, 5000);
    dealer.connect(p.there);
  }
  bool RoundTrip(const uint8_t* payload) {
    zmq::message_t reply;
    return dealer.send(zmq::const_buffer(payload, kFrameBytes), zmq::send_flags::none) &&
           dealer.recv(reply);
  }
};

// Counts echoes on the bus's receive thread and wakes the waiting thread
// with a bare futex (std::atomic::wait has no timeout, and a lost echo must
// not hang the benchmark).
class Waiter : public bp::bus::Handler {
 public:
  void OnFrame(bp::bus::InFrame&&) override {
    echoes_.fetch_add(1, std::memory_order_release);
    syscall(SYS_futex, Word(), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
  uint32_t echoes() const { return echoes_.load(std::memory_order_acquire); }
  // Blocks until the count moves past `seen`, or the timeout passes.
  bool WaitBeyond(uint32_t seen, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (echoes() == seen) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds(0)) return false;
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      syscall(SYS_futex, Word(), FUTEX_WAIT_PRIVATE, seen, &ts, nullptr, 0);
    }
    return true;
  }

 private:
  uint32_t* Word() { return reinterpret_cast<uint32_t*>(&echoes_); }
  std::atomic<uint32_t> echoes_{0};
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
};

struct BusSide {
  Waiter waiter;
  std::unique_ptr<bp::bus::Bus> bus;
  bp::bus::OutFrame ping;
  BusSide(const Pair& p, bool curve) {
    auto created =
        bp::bus::Bus::Create(BusOptionsFor(kParentSlot, p.here, kChildSlot, p.there, curve));
    if (!created.ok() || !created.value()->Start(&waiter).ok()) return;
    bus = std::move(created).value();
    ping = MakePing();
  }
  ~BusSide() {
    if (bus) bus->Stop();
  }
  // A RepMsg padded so the whole frame is kFrameBytes.
  static bp::bus::OutFrame MakePing() {
    std::vector<uint8_t> control(36, 1);
    size_t rec = 0;
    bp::bus::OutFrame f;
    do {
      f = bp::bus::BuildRepMsg({kChassis, kParentSlot}, control, std::vector<uint8_t>(rec++, 2),
                               {1, 1}, 0, 0);
    } while (f.size() < kFrameBytes);
    return f;
  }
  bool RoundTrip() {
    uint32_t seen = waiter.echoes();
    // The child's link towards us may still be connecting: resend until the
    // first echo (only the first round trip of a run can need it).
    auto deadline = std::chrono::steady_clock::now() + kConnectTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!bus->Send(kChildSlot, ping)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // link not up yet
        continue;
      }
      if (waiter.WaitBeyond(seen, std::chrono::milliseconds(1000))) return true;
    }
    return false;
  }
};

std::map<std::string, std::unique_ptr<RawPushPull>> g_push_pull;
std::map<std::string, std::unique_ptr<RawDealer>> g_dealer;
std::map<std::string, std::unique_ptr<BusSide>> g_bus;

template <typename T, typename... Extra>
T& Get(std::map<std::string, std::unique_ptr<T>>& m, const std::string& key, Extra... extra) {
  auto& slot = m[key];
  if (!slot) slot = std::make_unique<T>(g_pairs.at(key), extra...);
  return *slot;
}

const uint8_t* Payload() {
  static std::vector<uint8_t> bytes(kFrameBytes, 0x5A);
  return bytes.data();
}

void BM_RawPushPull(benchmark::State& state, std::string transport) {
  std::string key = "pushpull/" + transport;
  RawPushPull& side = Get(g_push_pull, key);
  (void)side.RoundTrip(Payload());  // connect + warm up
  Measure(state, key, [&] { return side.RoundTrip(Payload()); });
}

void BM_RawDealerRouter(benchmark::State& state, std::string transport) {
  std::string key = "dealer/" + transport;
  RawDealer& side = Get(g_dealer, key);
  (void)side.RoundTrip(Payload());
  Measure(state, key, [&] { return side.RoundTrip(Payload()); });
}

void BM_Bus(benchmark::State& state, std::string transport, bool curve) {
  std::string key = (curve ? "buscurve/" : "bus/") + transport;
  BusSide& side = Get(g_bus, key, curve);
  if (!side.bus || !side.RoundTrip()) {
    state.SkipWithError("bus did not connect");
    return;
  }
  state.counters["frame_bytes"] = static_cast<double>(side.ping.size());
  Measure(state, key, [&] { return side.RoundTrip(); });
}

BENCHMARK_CAPTURE(BM_RawPushPull, ipc, std::string("ipc"))->UseRealTime();
BENCHMARK_CAPTURE(BM_RawPushPull, tcp, std::string("tcp"))->UseRealTime();
BENCHMARK_CAPTURE(BM_RawDealerRouter, ipc, std::string("ipc"))->UseRealTime();
BENCHMARK_CAPTURE(BM_RawDealerRouter, tcp, std::string("tcp"))->UseRealTime();
class NoFrames : public bp::bus::Handler {
 public:
  void OnFrame(bp::bus::InFrame&&) override {}
};

bool WaitConnected(const bp::bus::Bus& bus, int slot) {
  auto deadline = std::chrono::steady_clock::now() + kConnectTimeout;
  while (!bus.IsConnected(slot)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return true;
}

// Both buses live in this process, each with its own context (and, with
// CURVE, its own ZAP handler), as two board processes would. Per iteration
// slot 2 is created and started anew; `out_up_us` is its own link to the
// running slot 1 (connect + ZMTP/CURVE handshake), `both_up_us` also
// slot 1's link back to it (slot 1 re-dials every reconnect_ms).
void BM_BusHandshake(benchmark::State& state, std::string transport, bool curve) {
  Pair p = MakePair(transport, std::string("handshake") + (curve ? "-curve" : ""));
  NoFrames none;
  auto running = bp::bus::Bus::Create(BusOptionsFor(kParentSlot, p.here, kChildSlot, p.there, curve));
  if (!running.ok() || !running.value()->Start(&none).ok()) {
    state.SkipWithError("running bus did not start");
    return;
  }
  std::vector<double> out_us, both_us;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto fresh = bp::bus::Bus::Create(BusOptionsFor(kChildSlot, p.there, kParentSlot, p.here, curve));
    if (!fresh.ok() || !fresh.value()->Start(&none).ok() || !WaitConnected(*fresh.value(), kParentSlot)) {
      state.SkipWithError("new bus did not connect");
      break;
    }
    out_us.push_back(MicrosSince(t0));
    if (!WaitConnected(*running.value(), kChildSlot)) {
      state.SkipWithError("running bus did not reconnect");
      break;
    }
    both_us.push_back(MicrosSince(t0));
    fresh.value()->Stop();
    state.PauseTiming();
    // The next iteration starts once slot 1 has seen slot 2 go down.
    auto deadline = std::chrono::steady_clock::now() + kConnectTimeout;
    while (running.value()->IsConnected(kChildSlot) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    state.ResumeTiming();
  }
  running.value()->Stop();
  Report(state, "handshake-out/" + transport + (curve ? "/curve" : ""), out_us);
  auto sorted = both_us;
  std::sort(sorted.begin(), sorted.end());
  if (!sorted.empty()) {
    state.counters["both_up_p50_us"] = Percentile(sorted, 0.50);
    state.counters["both_up_p99_us"] = Percentile(sorted, 0.99);
  }
}

BENCHMARK_CAPTURE(BM_Bus, ipc, std::string("ipc"), false)->UseRealTime();
BENCHMARK_CAPTURE(BM_Bus, tcp, std::string("tcp"), false)->UseRealTime();
BENCHMARK_CAPTURE(BM_Bus, ipc_curve, std::string("ipc"), true)->UseRealTime();
BENCHMARK_CAPTURE(BM_Bus, tcp_curve, std::string("tcp"), true)->UseRealTime();
BENCHMARK_CAPTURE(BM_BusHandshake, ipc, std::string("ipc"), false)->Iterations(200)->UseRealTime();
BENCHMARK_CAPTURE(BM_BusHandshake, ipc_curve, std::string("ipc"), true)->Iterations(200)->UseRealTime();
BENCHMARK_CAPTURE(BM_BusHandshake, tcp, std::string("tcp"), false)->Iterations(200)->UseRealTime();
BENCHMARK_CAPTURE(BM_BusHandshake, tcp_curve, std::string("tcp"), true)->Iterations(200)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  std::string pattern = (std::filesystem::temp_directory_path() / "bp-floor-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return 1;
  g_tmp_dir = pattern;
  for (int slot : {kParentSlot, kChildSlot}) {
    auto keys = bp::bus::GenerateCurveKeyPair();
    if (!keys.ok()) {
      std::fprintf(stderr, "no CURVE: %s\n", keys.status().ToString().c_str());
      return 1;
    }
    g_keys[slot] = keys.value();
  }
  SpawnAll();  // before any ZeroMQ context or thread exists in this process
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  g_bus.clear();
  g_push_pull.clear();
  g_dealer.clear();
  ReapAll();
  std::error_code ignored;
  std::filesystem::remove_all(g_tmp_dir, ignored);
  return 0;
}

#include "soak_load.h"

#include <chrono>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "bp/clock.h"

namespace bp::chassis {

namespace {

int64_t NowUs() { return Clock::Real().NowMicros(); }

// Latencies kept per client: all of them up to this many, then a uniform
// sample (reservoir), so a 30-minute run stays within a few MiB.
constexpr size_t kLatencySamples = 100000;

}  // namespace

struct SoakLoad::Client {
  int index = 0;
  std::string endpoint;
  std::thread thread;
  std::mt19937_64 rng;
  uint64_t seq = 0;
  // Guarded by mu: LiveCheck reads the key states while the client runs.
  mutable std::mutex mu;
  std::vector<KeyWrites> keys;  // keys[j]: key index + j * clients
  uint64_t acked = 0, not_durable = 0, unknown = 0, failed = 0, written = 0;
  std::vector<double> latency_us;
  std::map<std::string, uint64_t> errors;
};

SoakLoad::SoakLoad(std::vector<std::string> endpoints, SoakLoadOptions options)
    : endpoints_(std::move(endpoints)), opts_(std::move(options)) {
  for (int i = 0; i < opts_.clients; ++i) {
    auto c = std::make_unique<Client>();
    c->index = i;
    c->endpoint = endpoints_.empty() ? "" : endpoints_[size_t(i) % endpoints_.size()];
    c->rng.seed(uint64_t(i) * 7919 + 17);
    uint64_t owned = opts_.key_space / uint64_t(opts_.clients) +
                     (uint64_t(i) < opts_.key_space % uint64_t(opts_.clients) ? 1 : 0);
    c->keys.resize(owned);
    clients_.push_back(std::move(c));
  }
}

SoakLoad::~SoakLoad() { Stop(); }

Status SoakLoad::Check(const SoakLoadOptions& o) {
  if (o.clients < 1) return Status::InvalidArgument("--clients must be at least 1");
  if (o.key_space < uint64_t(o.clients)) {
    return Status::InvalidArgument("--key-space (" + std::to_string(o.key_space) +
                                   ") must be at least --clients (" + std::to_string(o.clients) +
                                   "): each client writes keys of its own");
  }
  size_t min = SoakValueMinSize(o.clients, o.key_prefix + std::to_string(o.key_space - 1));
  if (o.value_size < min) {
    return Status::InvalidArgument("--value-size " + std::to_string(o.value_size) +
                                   " is too short for a value naming its writer, sequence "
                                   "number and key; use --value-size " +
                                   std::to_string(min) + " or more");
  }
  if (o.rate < 0) return Status::InvalidArgument("--rate must be >= 0 (0 = closed loop)");
  return Status::Ok();
}

void SoakLoad::Start() {
  start_us_ = NowUs();
  for (auto& c : clients_) c->thread = std::thread([this, cp = c.get()] { Run(*cp); });
}

void SoakLoad::Stop() {
  if (stop_.exchange(true)) return;
  for (auto& c : clients_) {
    if (c->thread.joinable()) c->thread.join();
  }
  stop_us_ = NowUs();
}

void SoakLoad::Run(Client& c) {
  fw_options_t o;
  fw_options_init(&o);
  o.endpoint = c.endpoint.c_str();
  o.request_timeout_ms = opts_.request_timeout_ms;
  o.connect_timeout_ms = 200;
  o.retry_backoff_ms = opts_.retry_backoff_ms;
  o.lazy_connect = 1;
  fw_board_t* h = nullptr;
  if (fw_open(&o, &h) != FW_OK) return;
  // Paced: one write per interval of the total rate shared by the clients.
  const bool paced = opts_.rate > 0;
  const auto interval =
      std::chrono::nanoseconds(paced ? int64_t(1e9 * double(opts_.clients) / opts_.rate) : 0);
  auto next = std::chrono::steady_clock::now();
  size_t local = 0;
  while (!stop_.load() && !c.keys.empty()) {
    if (paced) {
      next += interval;
      auto now = std::chrono::steady_clock::now();
      if (next > now)
        std::this_thread::sleep_until(next);
      else if (now - next > std::chrono::seconds(1))
        next = now;  // no catch-up burst
    }
    WriteOne(c, h, local);
    local = (local + 1) % c.keys.size();
  }
  fw_close(h);
}

void SoakLoad::WriteOne(Client& c, fw_board_t* h, size_t local) {
  const std::string key = Key(uint64_t(c.index) + uint64_t(local) * clients_.size());
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> l(c.mu);
    seq = ++c.seq;
    c.keys[local].attempted = seq;
  }
  const std::string value = SoakValue(c.index, seq, key, opts_.value_size);
  int64_t t0 = NowUs();
  fw_err_t e = fw_put(h, key.data(), key.size(), value.data(), value.size(), nullptr);
  int64_t t1 = NowUs();
  std::lock_guard<std::mutex> l(c.mu);
  KeyWrites& w = c.keys[local];
  ++c.written;
  if (e == FW_OK) {
    w.acked = seq;
    ++c.acked;
    acked_.fetch_add(1);
    double lat = double(t1 - t0);
    if (c.latency_us.size() < kLatencySamples) {
      c.latency_us.push_back(lat);
    } else {
      uint64_t slot = c.rng() % c.written;
      if (slot < kLatencySamples) c.latency_us[slot] = lat;
    }
    return;
  }
  ++c.errors[fw_strerror(e)];
  if (e == FW_ERR_NOT_DURABLE || e == FW_ERR_UNKNOWN_OUTCOME || e == FW_ERR_TIMEOUT) {
    w.uncertain.insert(seq);
    (e == FW_ERR_NOT_DURABLE ? c.not_durable : c.unknown)++;
  } else {
    w.failed.insert(seq);
    ++c.failed;
  }
  if (e == FW_ERR_BOARD_DOWN || e == FW_ERR_UNAVAILABLE) {
    // The shim already waited; a short pause keeps a dead board from
    // turning the loop into a spin.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

KeyWrites SoakLoad::StateOf(uint64_t i) const {
  const Client& c = Owner(i);
  std::lock_guard<std::mutex> l(c.mu);
  return c.keys[size_t(i / clients_.size())];
}

void SoakLoad::Add(ValueVerdict v, int slot, const std::string& key,
                   const std::optional<std::string>& value, WriteCheck* out) const {
  switch (v) {
    case ValueVerdict::kOk:
      return;
    case ValueVerdict::kLateUnknown:
      ++out->late_unknown;
      return;
    case ValueVerdict::kLost:
      ++out->lost;
      break;
    case ValueVerdict::kDoubled:
      ++out->doubled;
      break;
    case ValueVerdict::kFailedApplied:
      ++out->failed_applied;
      break;
  }
  if (out->examples.size() < 8) {
    std::string held = value ? value->substr(0, std::min<size_t>(value->size(), 48)) : "(absent)";
    out->examples.push_back("slot " + std::to_string(slot) + ": " + key + ": " +
                            ValueVerdictName(v) + ", holds " + held);
  }
}

void SoakLoad::LiveCheck(BoardLink& link, int slot, uint64_t count, WriteCheck* out) {
  for (uint64_t n = 0; n < count && n < opts_.key_space; ++n) {
    const uint64_t i = next_live_;
    next_live_ = (next_live_ + 1) % opts_.key_space;
    const std::string key = Key(i);
    const std::optional<uint64_t> floor = StateOf(i).acked;
    auto v = link.GetLocal(key);
    if (!v.ok() && !v.status().IsNotFound()) {
      ++out->read_errors;
      continue;
    }
    KeyWrites w = StateOf(i);
    w.acked = floor;
    std::optional<std::string> value;
    if (v.ok()) value = *v;
    ++out->live_checks;
    Add(ClassifyValue(value, key, int(i % clients_.size()), w), slot, key, value, out);
  }
}

WriteCheck SoakLoad::FinalCheck(const std::map<int, std::string>& endpoints, int settle_ms) const {
  std::vector<KeyWrites> state;
  for (uint64_t i = 0; i < opts_.key_space; ++i) state.push_back(StateOf(i));
  struct Board {
    std::map<uint64_t, std::optional<std::string>> wrong;  // key index -> value held
    uint64_t read_errors = 0;
  };
  std::map<int, Board> boards;
  for (const auto& [slot, ep] : endpoints) boards[slot];  // no rehash under threads
  std::vector<std::thread> threads;
  for (const auto& [slot, ep] : endpoints) {
    threads.emplace_back([&, slot = slot, ep = ep] {
      BoardLink link(ep, 2000);
      Board& b = boards[slot];
      std::vector<uint64_t> todo;
      for (uint64_t i = 0; i < opts_.key_space; ++i) todo.push_back(i);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(settle_ms);
      while (!todo.empty()) {
        b.wrong.clear();
        b.read_errors = 0;
        std::vector<uint64_t> again;
        for (uint64_t i : todo) {
          auto v = link.GetLocal(Key(i));
          if (!v.ok() && !v.status().IsNotFound()) {
            ++b.read_errors;
            continue;
          }
          std::optional<std::string> value;
          if (v.ok()) value = *v;
          if (ClassifyValue(value, Key(i), int(i % clients_.size()), state[i]) ==
              ValueVerdict::kOk) {
            continue;
          }
          b.wrong[i] = value;
          again.push_back(i);
        }
        if (again.empty() || std::chrono::steady_clock::now() >= deadline) break;
        todo = std::move(again);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }
  for (auto& t : threads) t.join();
  WriteCheck out;
  out.acked = acked_.load();
  std::set<uint64_t> counted;  // a key wrong on several boards counts once
  for (const auto& [slot, b] : boards) {
    out.read_errors += b.read_errors;
    for (const auto& [i, value] : b.wrong) {
      if (!counted.insert(i).second) continue;
      Add(ClassifyValue(value, Key(i), int(i % clients_.size()), state[i]), slot, Key(i), value,
          &out);
    }
  }
  return out;
}

LoadTotals SoakLoad::Totals() const {
  LoadTotals t;
  t.elapsed_s = double((stop_us_ ? stop_us_ : NowUs()) - start_us_) / 1e6;
  std::vector<double> lat;
  for (const auto& c : clients_) {
    std::lock_guard<std::mutex> l(c->mu);
    t.durable += c->acked;
    t.not_durable += c->not_durable;
    t.unknown += c->unknown;
    t.failed += c->failed;
    lat.insert(lat.end(), c->latency_us.begin(), c->latency_us.end());
    for (const auto& [k, n] : c->errors) t.errors[k] += n;
  }
  t.write_latency_us = Summarize(std::move(lat));
  return t;
}

}  // namespace bp::chassis

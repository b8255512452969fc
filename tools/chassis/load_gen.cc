#include "load_gen.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "bp/clock.h"

namespace bp::chassis {

struct LoadGen::Client {
  int index = 0;
  std::string endpoint;
  std::thread thread;
  std::mt19937_64 rng;
  uint64_t seq = 0;
  // Guarded by mu: read by FirstDurableAfter while the client runs.
  mutable std::mutex mu;
  std::vector<int64_t> durable_us;  // ascending: one client writes in sequence
  std::vector<WriteRecord> writes;
  std::vector<double> write_lat_us, read_lat_us;
  uint64_t reads = 0, read_errors = 0, read_not_found = 0;
  uint64_t not_durable = 0, unknown = 0, failed = 0;
  std::map<std::string, uint64_t> errors;
  std::vector<HistoryOp> history;
};

// Closed loop, or one op per interval of a total rate shared by the clients.
class LoadGen::Pacer {
 public:
  Pacer(double rate, int clients)
      : paced_(rate > 0),
        interval_(paced_ ? int64_t(1e9 * double(clients) / rate) : 0),
        next_(std::chrono::steady_clock::now()) {}
  void Wait() {
    if (!paced_) return;
    next_ += interval_;
    auto now = std::chrono::steady_clock::now();
    if (next_ > now)
      std::this_thread::sleep_until(next_);
    else if (now - next_ > std::chrono::seconds(1))
      next_ = now;  // no catch-up burst
  }

 private:
  bool paced_;
  std::chrono::nanoseconds interval_;
  std::chrono::steady_clock::time_point next_;
};

namespace {

int64_t NowUs() { return Clock::Real().NowMicros(); }

Outcome Classify(fw_err_t e) {
  switch (e) {
    case FW_OK:
      return Outcome::kDurable;
    case FW_ERR_NOT_DURABLE:
      return Outcome::kNotDurable;
    case FW_ERR_UNKNOWN_OUTCOME:
    case FW_ERR_TIMEOUT:
      return Outcome::kUnknown;
    default:
      return Outcome::kFailed;
  }
}

}  // namespace

std::string MakeValue(const std::string& key, size_t size) {
  std::string v;
  v.reserve(size);
  while (v.size() < size) v += key + ".";
  v.resize(size);
  return v;
}

LoadGen::LoadGen(std::vector<std::string> endpoints, LoadOptions options)
    : endpoints_(std::move(endpoints)), opts_(std::move(options)) {}

LoadGen::~LoadGen() { Stop(); }

void LoadGen::Start() {
  start_us_ = NowUs();
  for (int i = 0; i < opts_.clients; ++i) {
    auto c = std::make_unique<Client>();
    c->index = i;
    c->endpoint = endpoints_[size_t(i) % endpoints_.size()];
    c->rng.seed(uint64_t(start_us_) * 7919 + uint64_t(i));
    clients_.push_back(std::move(c));
  }
  for (auto& c : clients_) c->thread = std::thread([this, cp = c.get()] { Run(*cp); });
}

void LoadGen::Stop() {
  if (stop_.exchange(true)) return;
  for (auto& c : clients_) {
    if (c->thread.joinable()) c->thread.join();
  }
  stop_us_ = NowUs();
}

fw_board_t* LoadGen::Open(const Client& c) const { return Open(c.endpoint); }

fw_board_t* LoadGen::Open(const std::string& endpoint) const {
  fw_options_t o;
  fw_options_init(&o);
  o.endpoint = endpoint.c_str();
  o.request_timeout_ms = opts_.request_timeout_ms;
  o.connect_timeout_ms = 200;  // a dead board: BOARD_DOWN quickly, then retry
  o.retry_backoff_ms = opts_.retry_backoff_ms;
  o.lazy_connect = 1;  // the board may be restarting right now
  fw_board_t* h = nullptr;
  return fw_open(&o, &h) == FW_OK ? h : nullptr;
}

void LoadGen::Run(Client& c) {
  if (!opts_.history_prefix.empty()) return RunHistory(c);
  fw_board_t* h = Open(c);
  Pacer pacer(opts_.rate, opts_.clients);
  std::uniform_real_distribution<double> coin(0, 1);
  while (!stop_.load() && h) {
    pacer.Wait();
    if (opts_.read_ratio > 0 && coin(c.rng) < opts_.read_ratio)
      DoRead(c, h);
    else
      DoWrite(c, h);
  }
  if (h) fw_close(h);
}

void LoadGen::DoWrite(Client& c, fw_board_t* h) {
  std::string key =
      opts_.unique_prefix.empty()
          ? "k" + std::to_string(c.rng() % std::max<uint64_t>(1, opts_.key_space))
          : opts_.unique_prefix + "-" + std::to_string(c.index) + "-" + std::to_string(c.seq++);
  std::string value = MakeValue(key, opts_.value_size);
  int64_t t0 = NowUs();
  fw_err_t e = fw_put(h, key.data(), key.size(), value.data(), value.size(), nullptr);
  int64_t t1 = NowUs();
  Outcome o = Classify(e);
  std::lock_guard<std::mutex> l(c.mu);
  if (o == Outcome::kDurable) {
    c.durable_us.push_back(t1);
    c.write_lat_us.push_back(double(t1 - t0));
    durable_.fetch_add(1);
  } else {
    ++c.errors[fw_strerror(e)];
    (o == Outcome::kNotDurable ? c.not_durable : o == Outcome::kUnknown ? c.unknown : c.failed)++;
  }
  if (!opts_.unique_prefix.empty()) c.writes.push_back({std::move(key), o, t1});
  if (e == FW_ERR_BOARD_DOWN || e == FW_ERR_UNAVAILABLE) {
    // The board is down or has no master: the shim already waited; a short
    // pause keeps a dead board from turning this loop into a spin.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void LoadGen::DoRead(Client& c, fw_board_t* h) {
  std::string key = "k" + std::to_string(c.rng() % std::max<uint64_t>(1, opts_.key_space));
  char* val = nullptr;
  size_t len = 0;
  int64_t t0 = NowUs();
  fw_err_t e = fw_get(h, key.data(), key.size(), opts_.read_mode, &val, &len);
  int64_t t1 = NowUs();
  fw_free(val);
  std::lock_guard<std::mutex> l(c.mu);
  ++c.reads;
  if (e == FW_OK || e == FW_ERR_NOT_FOUND) {
    c.read_lat_us.push_back(double(t1 - t0));
    if (e == FW_ERR_NOT_FOUND) ++c.read_not_found;
  } else {
    ++c.read_errors;
    ++c.errors[fw_strerror(e)];
  }
}

void LoadGen::RunHistory(Client& c) {
  std::vector<fw_board_t*> handles;
  for (const auto& ep : endpoints_) handles.push_back(Open(ep));
  size_t cur = size_t(c.index) % handles.size();
  Pacer pacer(opts_.rate, opts_.clients);
  while (!stop_.load()) {
    pacer.Wait();
    if (handles[cur] && DoHistoryOp(c, handles[cur])) continue;
    // Refused or failed here: the master may be elsewhere now. A short
    // pause keeps a round of refusals from turning into a spin.
    cur = (cur + 1) % handles.size();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (fw_board_t* h : handles) {
    if (h) fw_close(h);
  }
}

// One recorded get or put; false if it got no definite good answer.
bool LoadGen::DoHistoryOp(Client& c, fw_board_t* h) {
  HistoryOp op;
  op.client = c.index;
  op.key = opts_.history_prefix + "-k" +
           std::to_string(c.rng() % uint64_t(std::max(1, opts_.history_keys)));
  std::uniform_real_distribution<double> coin(0, 1);
  op.kind = coin(c.rng) < opts_.read_ratio ? OpKind::kGet : OpKind::kPut;
  fw_err_t e = op.kind == OpKind::kPut ? HistoryPut(c, h, op) : HistoryGet(h, op);
  Record(c, op, e);
  return e == FW_OK || e == FW_ERR_NOT_FOUND;
}

fw_err_t LoadGen::HistoryPut(Client& c, fw_board_t* h, HistoryOp& op) {
  op.value = "c" + std::to_string(c.index) + "-" + std::to_string(c.seq++);
  op.invoke_us = NowUs();
  fw_err_t e = fw_put(h, op.key.data(), op.key.size(), op.value->data(), op.value->size(), nullptr);
  op.return_us = NowUs();
  Outcome o = Classify(e);
  // Not durable counts as unknown: applied on the master, it may still be
  // rolled back by a failover.
  op.result = o == Outcome::kDurable  ? OpResult::kOk
              : o == Outcome::kFailed ? OpResult::kFail
                                      : OpResult::kUnknown;
  return e;
}

fw_err_t LoadGen::HistoryGet(fw_board_t* h, HistoryOp& op) const {
  char* val = nullptr;
  size_t len = 0;
  fw_read_info_t info;
  op.invoke_us = NowUs();
  fw_err_t e = fw_get_ex(h, op.key.data(), op.key.size(), opts_.read_mode, &val, &len, &info);
  op.return_us = NowUs();
  if (e == FW_OK) op.value = std::string(val, len);
  if ((e == FW_OK || e == FW_ERR_NOT_FOUND) && info.served_by > 0) {
    op.served = ServedBy{info.served_by, info.served_gen, info.served_mono_us};
  }
  fw_free(val);
  // A get that failed had no effect: the checker leaves it out.
  op.result = e == FW_OK || e == FW_ERR_NOT_FOUND ? OpResult::kOk : OpResult::kFail;
  return e;
}

void LoadGen::Record(Client& c, const HistoryOp& op, fw_err_t e) {
  std::lock_guard<std::mutex> l(c.mu);
  double lat = double(op.return_us - op.invoke_us);
  if (op.kind == OpKind::kGet) {
    ++c.reads;
    if (op.result == OpResult::kOk) c.read_lat_us.push_back(lat);
    if (e == FW_ERR_NOT_FOUND) ++c.read_not_found;
    if (op.result != OpResult::kOk) ++c.read_errors;
  } else if (e == FW_OK) {
    c.durable_us.push_back(op.return_us);
    c.write_lat_us.push_back(lat);
  } else {
    Outcome o = Classify(e);
    (o == Outcome::kNotDurable ? c.not_durable : o == Outcome::kUnknown ? c.unknown : c.failed)++;
  }
  if (e != FW_OK && e != FW_ERR_NOT_FOUND) ++c.errors[fw_strerror(e)];
  c.history.push_back(op);
}

int64_t LoadGen::FirstDurableAfter(int64_t after_us) const {
  int64_t best = 0;
  for (const auto& c : clients_) {
    std::lock_guard<std::mutex> l(c->mu);
    auto it = std::lower_bound(c->durable_us.begin(), c->durable_us.end(), after_us);
    if (it != c->durable_us.end() && (best == 0 || *it < best)) best = *it;
  }
  return best;
}

LoadTotals LoadGen::Totals() const {
  LoadTotals t;
  t.elapsed_s = double((stop_us_ ? stop_us_ : NowUs()) - start_us_) / 1e6;
  std::vector<double> wl, rl;
  for (const auto& c : clients_) {
    std::lock_guard<std::mutex> l(c->mu);
    t.reads += c->reads;
    t.read_errors += c->read_errors;
    t.read_not_found += c->read_not_found;
    t.durable += c->durable_us.size();
    t.not_durable += c->not_durable;
    t.unknown += c->unknown;
    t.failed += c->failed;
    wl.insert(wl.end(), c->write_lat_us.begin(), c->write_lat_us.end());
    rl.insert(rl.end(), c->read_lat_us.begin(), c->read_lat_us.end());
    for (const auto& [k, n] : c->errors) t.errors[k] += n;
  }
  t.write_latency_us = Summarize(std::move(wl));
  t.read_latency_us = Summarize(std::move(rl));
  return t;
}

std::vector<HistoryOp> LoadGen::History() const {
  std::vector<HistoryOp> all;
  for (const auto& c : clients_) {
    std::lock_guard<std::mutex> l(c->mu);
    all.insert(all.end(), c->history.begin(), c->history.end());
  }
  return all;
}

std::vector<WriteRecord> LoadGen::Writes() const {
  std::vector<WriteRecord> all;
  for (const auto& c : clients_) {
    std::lock_guard<std::mutex> l(c->mu);
    all.insert(all.end(), c->writes.begin(), c->writes.end());
  }
  return all;
}

}  // namespace bp::chassis

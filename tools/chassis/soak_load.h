// SoakLoad: the soak's writers. A fixed key space "<prefix><i>" is split
// among the clients (key i belongs to client i % clients), and each client
// writes its keys in turn, over and over, closed loop or paced, each value
// naming the client and a per-client sequence number (SoakValue). So every
// key has one writer whose writes to it are ordered, and what a board holds
// can be checked against what the writer was told (ClassifyValue): an
// acknowledged value missing is lost; an older acknowledged value over a
// later one is a write applied twice.
//
// Client threads (one shim handle each, client i on endpoints[i % n], the
// way firmware reaches its own board) write; the caller's thread runs
// LiveCheck while they do, and FinalCheck after Stop. Each client's key
// state is guarded by its own mutex.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "board_link.h"
#include "load_gen.h"
#include "soak_eval.h"

namespace bp::chassis {

struct SoakLoadOptions {
  int clients = 8;
  double rate = 0;  // total writes per second; 0 = closed loop (the highest rate)
  uint64_t key_space = 1000;
  size_t value_size = 64;
  std::string key_prefix = "soak-k";  // RunSoak: SoakKeyPrefix, a prefix per run
  uint32_t request_timeout_ms = 1000;
  uint32_t retry_backoff_ms = 10;
};

class SoakLoad {
 public:
  SoakLoad(std::vector<std::string> endpoints, SoakLoadOptions options);
  ~SoakLoad();
  SoakLoad(const SoakLoad&) = delete;
  SoakLoad& operator=(const SoakLoad&) = delete;

  // The options are usable: enough keys for the clients, values long enough.
  static Status Check(const SoakLoadOptions& o);

  void Start();
  void Stop();  // joins the clients; idempotent
  uint64_t acked() const { return acked_.load(); }

  // Reads the next `count` keys (in turn over the key space) through `link`
  // (to board `slot`) and adds each verdict to `out`. Call while the clients run.
  void LiveCheck(BoardLink& link, int slot, uint64_t count, WriteCheck* out);
  // After Stop: every key on every board (slot -> client endpoint), one
  // thread per board; a board still applying the tail gets `settle_ms` to
  // catch up before a wrong value counts.
  WriteCheck FinalCheck(const std::map<int, std::string>& endpoints, int settle_ms) const;

  // After Stop (or while running: so far).
  LoadTotals Totals() const;
  // Key i's name and what its writer knows of its writes to it.
  std::string Key(uint64_t i) const { return opts_.key_prefix + std::to_string(i); }
  KeyWrites StateOf(uint64_t i) const;

 private:
  struct Client;
  void Run(Client& c);
  void WriteOne(Client& c, fw_board_t* h, size_t local);
  Client& Owner(uint64_t i) const { return *clients_[size_t(i % clients_.size())]; }
  void Add(ValueVerdict v, int slot, const std::string& key,
           const std::optional<std::string>& value, WriteCheck* out) const;

  const std::vector<std::string> endpoints_;
  const SoakLoadOptions opts_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_{0};
  uint64_t next_live_ = 0;  // LiveCheck's next key
  int64_t start_us_ = 0, stop_us_ = 0;
};

}  // namespace bp::chassis

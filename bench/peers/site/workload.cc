#include "site/workload.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <string>
#include <thread>

#include "peer_proto.h"

namespace bp::peers {
namespace {

constexpr int kKeyBytes = 16;
constexpr int kValueBytes = 100;
constexpr int kDeadlockRetries = 20;  // as Oracle's txn_guide example bounds it

std::atomic<uint64_t> g_next_key_id{1};

// splitmix64: consecutive ids become well-spread, distinct keys, so
// concurrent writers touch disjoint random btree positions.
uint64_t Scramble(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// 16 hex digits of the (scrambled) id: exactly kKeyBytes, no terminator.
void FormatKey(uint64_t id, char* out, bool sequential = false) {
  static const char kHex[] = "0123456789abcdef";
  uint64_t v = sequential ? id : Scramble(id);
  for (int i = kKeyBytes - 1; i >= 0; --i, v >>= 4) out[i] = kHex[v & 0xf];
}

struct RecordShape {
  int value_bytes = kValueBytes;
  bool sequential = false;
};

int PutInTxn(DB* db, DB_TXN* txn, uint64_t key_id, const RecordShape& shape, std::string& value_buf) {
  char key_buf[kKeyBytes];
  FormatKey(key_id, key_buf, shape.sequential);
  value_buf.assign(static_cast<size_t>(shape.value_bytes), 'v');
  std::memcpy(value_buf.data(), key_buf, std::min<size_t>(sizeof(key_buf), value_buf.size()));
  DBT key{};
  DBT value{};
  key.data = key_buf;
  key.size = kKeyBytes;
  value.data = value_buf.data();
  value.size = static_cast<u_int32_t>(value_buf.size());
  return db->put(db, txn, &key, &value, 0);
}

// Runs `puts` puts with ids from first_id in one transaction, once.
int TxnOnce(DB_ENV* env, DB* db, uint64_t first_id, int puts, const RecordShape& shape) {
  DB_TXN* txn = nullptr;
  std::string value_buf;
  if (int ret = env->txn_begin(env, nullptr, &txn, 0); ret != 0) return ret;
  for (int i = 0; i < puts; ++i) {
    if (int ret = PutInTxn(db, txn, first_id + static_cast<uint64_t>(i), shape, value_buf);
        ret != 0) {
      txn->abort(txn);
      return ret;
    }
  }
  return txn->commit(txn, 0);
}

int TxnWithRetry(DB_ENV* env, DB* db, uint64_t first_id, int puts,
                 const RecordShape& shape = RecordShape{}) {
  int ret = 0;
  for (int attempt = 0; attempt < kDeadlockRetries; ++attempt) {
    ret = TxnOnce(env, db, first_id, puts, shape);
    if (ret != DB_LOCK_DEADLOCK) return ret;
  }
  return ret;
}

}  // namespace

uint64_t NextKeyId() { return g_next_key_id.fetch_add(1); }

int CommitOneRecord(DB_ENV* env, DB* db, uint64_t key_id) {
  if (db == nullptr) return EINVAL;
  return TxnWithRetry(env, db, key_id, 1);
}

LatencyRun RunLatency(DB_ENV* env, DB* db, int count, int warmup) {
  LatencyRun run;
  run.latency_ns.reserve(static_cast<size_t>(count));
  for (int i = 0; i < warmup; ++i) {
    if (CommitOneRecord(env, db, NextKeyId()) != 0) ++run.failures;
  }
  const int64_t start_ns = MonoNs();
  for (int i = 0; i < count; ++i) {
    const int64_t t0 = MonoNs();
    const int ret = CommitOneRecord(env, db, NextKeyId());
    const int64_t t1 = MonoNs();
    if (ret != 0) ++run.failures;
    run.latency_ns.push_back(t1 - t0);
  }
  run.elapsed_ns = MonoNs() - start_ns;
  return run;
}

LatencyRun RunThroughput(DB_ENV* env, DB* db, int writers, int warm_ms, int meas_ms) {
  const int64_t begin_ns = MonoNs() + int64_t{warm_ms} * 1'000'000;
  const int64_t end_ns = begin_ns + int64_t{meas_ms} * 1'000'000;
  std::vector<LatencyRun> per_writer(static_cast<size_t>(writers));
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      LatencyRun& mine = per_writer[static_cast<size_t>(w)];
      for (int64_t t0 = MonoNs(); t0 < end_ns; t0 = MonoNs()) {
        const int ret = CommitOneRecord(env, db, NextKeyId());
        const int64_t t1 = MonoNs();
        if (t1 < begin_ns || t1 > end_ns) continue;  // outside the measured window
        if (ret != 0) ++mine.failures;
        mine.latency_ns.push_back(t1 - t0);
      }
    });
  }
  for (auto& t : threads) t.join();
  LatencyRun all;
  all.elapsed_ns = end_ns - begin_ns;
  for (auto& run : per_writer) {
    all.latency_ns.insert(all.latency_ns.end(), run.latency_ns.begin(), run.latency_ns.end());
    all.failures += run.failures;
  }
  return all;
}

LoadResult RunLoad(DB_ENV* env, DB* db, const LoadSpec& spec) {
  LoadResult result;
  if (db == nullptr || spec.per_txn <= 0 || spec.value_bytes < kKeyBytes) {
    result.ret = EINVAL;
    return result;
  }
  const RecordShape shape{spec.value_bytes, spec.sequential};
  const int64_t record_bytes = kKeyBytes + spec.value_bytes;
  int64_t since_ckpt = 0;
  for (int64_t done = 0; done < spec.records; done += spec.per_txn) {
    const int puts = static_cast<int>(std::min<int64_t>(spec.per_txn, spec.records - done));
    const uint64_t first_id = g_next_key_id.fetch_add(static_cast<uint64_t>(puts));
    if (int ret = TxnWithRetry(env, db, first_id, puts, shape); ret != 0) {
      result.ret = ret;
      return result;
    }
    since_ckpt += puts * record_bytes;
    if (spec.ckpt_every_bytes > 0 && since_ckpt >= spec.ckpt_every_bytes) {
      if (int ret = env->txn_checkpoint(env, 0, 0, DB_FORCE); ret != 0) {
        result.ret = ret;
        return result;
      }
      ++result.checkpoints;
      since_ckpt = 0;
    }
  }
  return result;
}

// Walks /proc/self/fd: the proof that the LD_PRELOAD shim took effect (or,
// as shipped, that repmgr leaves Nagle on).
SocketCensus CountTcpSockets() {
  SocketCensus census;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return census;
  while (dirent* e = readdir(dir)) {
    const int fd = std::atoi(e->d_name);
    struct stat st {};
    if (e->d_name[0] == '.' || fd == dirfd(dir) || fstat(fd, &st) != 0) continue;
    if (!S_ISSOCK(st.st_mode)) continue;
    int domain = 0, type = 0, nodelay = 0;
    socklen_t len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) continue;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) continue;
    if ((domain != AF_INET && domain != AF_INET6) || type != SOCK_STREAM) continue;
    ++census.tcp;
    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0 && nodelay) {
      ++census.nodelay;
    }
  }
  closedir(dir);
  return census;
}

}  // namespace bp::peers

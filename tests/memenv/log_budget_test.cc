// The log volume in flight across all writers is bounded (issue 12): many
// concurrent large batches must never fill the in-memory log ring
// (DB_LOG_BUFFER_FULL, a panic on a replication master). Each batch either
// commits or is refused with a clear Busy naming the ring; and the log
// estimate of a batch of small ops covers what Berkeley DB really writes
// (page splits log whole pages).
#include <db.h>
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <string>
#include <thread>
#include <vector>

#include "memenv/env.h"
#include "test_util.h"

namespace bp::memenv {
namespace {

constexpr int kWriters = 8;
constexpr int kOpsPerBatch = 20000;

// The board's default sizing (log_buffer_mb = 16), with a cache that holds
// every batch.
EnvOptions BoardDefaults() {
  EnvOptions o;
  o.cache_bytes = 128u << 20;
  o.log_buffer_bytes = 16u << 20;
  return o;
}

std::string SmallKey(int writer, int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "w%d-%06d", writer, i);
  return buf;
}

uint64_t LogEndBytes(__db_env* env) {
  DB_LOG_STAT* st = nullptr;
  EXPECT_EQ(env->log_stat(env, &st, 0), 0);
  const uint64_t end = uint64_t{st->st_cur_file} * st->st_lg_size + st->st_cur_offset;
  free(st);
  return end;
}

// A refusal must be the budget's own clear error, never the ring overflowing.
void ExpectCommittedOrRefused(const Status& s, int writer) {
  if (s.ok()) return;
  EXPECT_EQ(s.code(), Status::Code::kBusy) << "writer " << writer << ": " << s.ToString();
  EXPECT_NE(s.message().find("log_buffer"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.message().find("DB_LOG_BUFFER_FULL"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.message().find("buffer is full"), std::string::npos) << s.ToString();
}

// Runs kWriters batches at once, released together, through `write`, and
// checks each outcome; returns how many committed.
int RunConcurrentBatches(Env& env, Table& table,
                         const std::function<Status(Env&, Table&, int writer)>& write) {
  std::barrier start(kWriters);
  std::vector<Status> results(kWriters);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      start.arrive_and_wait();
      results[w] = write(env, table, w);
    });
  }
  for (auto& t : threads) t.join();
  int committed = 0;
  for (int w = 0; w < kWriters; ++w) {
    ExpectCommittedOrRefused(results[w], w);
    committed += results[w].ok() ? 1 : 0;
  }
  // Nothing panicked: the environment still takes writes.
  EXPECT_TRUE(table.Put("after", "ok").ok());
  return committed;
}

std::vector<BatchOp> SmallBatch(int writer, const std::string& value = "value-0123456789") {
  std::vector<BatchOp> ops;
  ops.reserve(kOpsPerBatch);
  for (int i = 0; i < kOpsPerBatch; ++i) {
    ops.push_back({BatchOp::Kind::kPut, SmallKey(writer, i), value});
  }
  return ops;
}

// Every writer's keys exist already, each writer in leaf pages of its own:
// the concurrent batches overwrite without waiting on each other's page
// locks, so their log records interleave in the ring.
void Populate(Table& table) {
  for (int w = 0; w < kWriters; ++w) {
    std::vector<BatchOp> all = SmallBatch(w);
    for (size_t at = 0; at < all.size(); at += 1000) {
      std::vector<BatchOp> chunk(all.begin() + at, all.begin() + at + 1000);
      ASSERT_OK(table.ApplyBatch(chunk));
    }
  }
}

TEST(LogBudgetTest, EightConcurrentBatchesOfSmallOpsNeverFillTheRing) {
  auto env = testing::OpenOrDie(BoardDefaults());
  ASSERT_NE(env, nullptr);
  Table* table = env->OpenTable("kv", true).value();
  Populate(*table);
  std::vector<std::vector<BatchOp>> batches;
  for (int w = 0; w < kWriters; ++w) batches.push_back(SmallBatch(w, "VALUE-9876543210"));
  const int committed = RunConcurrentBatches(
      *env, *table, [&](Env&, Table& t, int w) { return t.ApplyBatch(batches[w]); });
  EXPECT_GE(committed, 1);
  std::printf("ApplyBatch: %d of %d batches committed\n", committed, kWriters);
}

// The board's write path: one WithTxn whose body puts op by op (the
// transaction does not know its size up front).
TEST(LogBudgetTest, EightConcurrentTransactionsPuttingOpByOpNeverFillTheRing) {
  auto env = testing::OpenOrDie(BoardDefaults());
  ASSERT_NE(env, nullptr);
  Table* table = env->OpenTable("kv", true).value();
  Populate(*table);
  const int committed = RunConcurrentBatches(*env, *table, [](Env& e, Table& t, int w) {
    return e.WithTxn([&](Txn& txn) {
      for (int i = 0; i < kOpsPerBatch; ++i) {
        BP_RETURN_IF_ERROR(txn.Put(t, SmallKey(w, i), "VALUE-9876543210"));
      }
      return Status::Ok();
    });
  });
  EXPECT_GE(committed, 1);
  std::printf("WithTxn: %d of %d transactions committed\n", committed, kWriters);
}

// What one batch of small puts into fresh pages really logs, against the
// estimate the size check and the budget use.
TEST(LogBudgetTest, EstimateCoversTheLogOfSmallOpsWithPageSplits) {
  auto env = testing::OpenOrDie(BoardDefaults());
  ASSERT_NE(env, nullptr);
  Table* table = env->OpenTable("kv", true).value();
  const std::vector<BatchOp> ops = SmallBatch(0);
  size_t payload = 0;
  for (const BatchOp& op : ops) payload += op.key.size() + op.value.size();
  const uint64_t before = LogEndBytes(env->raw());
  ASSERT_OK(table->ApplyBatch(ops));
  const uint64_t logged = LogEndBytes(env->raw()) - before;
  const uint64_t estimate = env->EstimateTxnLogBytes(payload, ops.size());
  std::printf("%d small puts: %zu bytes of payload, %llu bytes logged, estimate %llu\n",
              kOpsPerBatch, payload, static_cast<unsigned long long>(logged),
              static_cast<unsigned long long>(estimate));
  EXPECT_GE(estimate, logged);
}

}  // namespace
}  // namespace bp::memenv

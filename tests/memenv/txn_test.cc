// Transactions: all-or-nothing batches, the size limit refused before any
// write, and concurrent writers that deadlock, are retried, and keep the
// bank invariant.
#include <db.h>
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <future>
#include <random>
#include <thread>
#include <vector>

#include "memenv/env.h"
#include "test_util.h"

namespace bp::memenv {
namespace {

using testing::Key;
using testing::OpenOrDie;
using testing::SmallOptions;

class TxnTest : public ::testing::Test {
 protected:
  void Open(EnvOptions o = SmallOptions()) {
    env_ = OpenOrDie(std::move(o));
    ASSERT_NE(env_, nullptr);
    table_ = env_->OpenTable("kv", true).value();
  }
  std::unique_ptr<Env> env_;
  Table* table_ = nullptr;
};

TEST_F(TxnTest, CommitsWhenTheBodySucceeds) {
  Open();
  __db_txn* seen = nullptr;
  ASSERT_OK(env_->WithTxn(
      [&](Txn& txn) {
        BP_RETURN_IF_ERROR(txn.Put(*table_, "a", "1"));
        BP_RETURN_IF_ERROR(txn.Put(*table_, "b", "2"));
        Result<std::string> a = txn.Get(*table_, "a");  // reads its own writes
        return a.ok() && *a == "1" ? Status::Ok() : Status::Internal("lost own write");
      },
      [&](__db_txn* txn) { seen = txn; }));
  EXPECT_NE(seen, nullptr);
  EXPECT_EQ(table_->Get("b").value(), "2");
  EXPECT_EQ(env_->Stats().commits, 1u);
}

TEST_F(TxnTest, FailingBodyLeavesNothingBehind) {
  Open();
  ASSERT_OK(table_->Put("keep", "old"));
  Status s = env_->WithTxn([&](Txn& txn) {
    for (int i = 0; i < 50; ++i) BP_RETURN_IF_ERROR(txn.Put(*table_, Key(i), "x"));
    BP_RETURN_IF_ERROR(txn.Put(*table_, "keep", "new"));
    BP_RETURN_IF_ERROR(txn.Delete(*table_, "keep"));
    return Status::Unavailable("lost the master midway");
  });
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_EQ(table_->Count().value(), 1u);
  EXPECT_EQ(table_->Get("keep").value(), "old");
  EXPECT_GE(env_->Stats().aborts, 1u);
}

TEST_F(TxnTest, BatchIsAllOrNothing) {
  Open();
  std::vector<BatchOp> ops;
  for (int i = 0; i < 10; ++i) ops.push_back({BatchOp::Kind::kPut, Key(i), "v"});
  ops.push_back({BatchOp::Kind::kPut, "", "empty key fails the batch"});
  EXPECT_EQ(table_->ApplyBatch(ops).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(table_->Count().value(), 0u);
  ops.pop_back();
  ops.push_back({BatchOp::Kind::kDelete, Key(3), ""});
  ops.push_back({BatchOp::Kind::kDelete, "absent", ""});  // tolerated
  ASSERT_OK(table_->ApplyBatch(ops));
  EXPECT_EQ(table_->Count().value(), 9u);
  EXPECT_TRUE(table_->Get(Key(3)).status().IsNotFound());
}

TEST_F(TxnTest, OversizedBatchIsRefusedBeforeAnyWrite) {
  EnvOptions o = SmallOptions();
  o.log_buffer_bytes = 16u << 20;
  o.cache_bytes = 64u << 20;
  Open(o);
  std::vector<BatchOp> ops;
  for (int i = 0; i < 46; ++i)
    ops.push_back({BatchOp::Kind::kPut, Key(i), std::string(100000, 'v')});
  Status s = table_->ApplyBatch(ops);
  ASSERT_EQ(s.code(), Status::Code::kTooLarge) << s.ToString();
  EXPECT_NE(s.message().find("exceeds the 4 MiB transaction limit derived from log_buffer=16 MiB; "
                             "raise log_buffer_mb (log_buffer_bytes) or split the batch"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("batch of 9.4 MiB"), std::string::npos) << s.message();
  EXPECT_EQ(table_->Count().value(), 0u);
  EXPECT_EQ(env_->Stats().commits, 0u);
}

TEST_F(TxnTest, TransactionGrowingPastTheLimitIsRefusedAndRolledBack) {
  Open();  // 2 MiB ring: 512 KiB limit
  int written = 0;
  Status s = env_->WithTxn([&](Txn& txn) {
    for (int i = 0; i < 1000; ++i) {
      BP_RETURN_IF_ERROR(txn.Put(*table_, Key(i), std::string(1000, 'v')));
      ++written;
    }
    return Status::Ok();
  });
  ASSERT_EQ(s.code(), Status::Code::kTooLarge) << s.ToString();
  EXPECT_GT(written, 100);
  EXPECT_LT(written, 1000);
  EXPECT_EQ(table_->Count().value(), 0u);
}

// Deleting a big value logs the whole old value: the limit counts it.
TEST_F(TxnTest, DeletesCountTheValueTheyRemove) {
  Open();
  for (int i = 0; i < 4; ++i) ASSERT_OK(table_->Put(Key(i), std::string(200000, 'v')));
  std::vector<BatchOp> ops;
  for (int i = 0; i < 4; ++i) ops.push_back({BatchOp::Kind::kDelete, Key(i), ""});
  Status s = table_->ApplyBatch(ops);
  EXPECT_EQ(s.code(), Status::Code::kTooLarge) << s.ToString();
  EXPECT_EQ(table_->Count().value(), 4u);
}

// A transaction that cannot get its lock is a deadlock victim every time:
// after deadlock_retries re-runs the caller gets Busy naming the fix.
TEST_F(TxnTest, ExhaustedRetriesReturnBusy) {
  EnvOptions o = SmallOptions();
  o.deadlock_retries = 3;
  Open(o);
  std::promise<void> locked, release;
  std::thread holder([&] {
    ASSERT_OK(env_->WithTxn([&](Txn& txn) {
      BP_RETURN_IF_ERROR(txn.Put(*table_, "hot", "held"));
      locked.set_value();
      release.get_future().wait();
      return Status::Ok();
    }));
  });
  locked.get_future().wait();
  // Lock timeouts are enforced by the detector; set_lk_detect runs it only
  // when a request blocks, so expire timed-out waiters from here.
  std::atomic<bool> stop{false};
  std::thread expirer([&] {
    while (!stop) {
      (void)env_->raw()->lock_detect(env_->raw(), 0, DB_LOCK_EXPIRE, nullptr);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  int runs = 0;
  Status s = env_->WithTxn([&](Txn& txn) {
    ++runs;
    // Lock waits time out after 1 ms (DB_LOCK_NOTGRANTED/DEADLOCK).
    txn.raw()->set_timeout(txn.raw(), 1000, DB_SET_LOCK_TIMEOUT);
    return txn.Put(*table_, "hot", "mine");
  });
  stop = true;
  expirer.join();
  release.set_value();
  holder.join();
  ASSERT_EQ(s.code(), Status::Code::kBusy) << s.ToString();
  EXPECT_EQ(runs, 4);
  EXPECT_NE(s.message().find("deadlock_retries=3"), std::string::npos) << s.message();
  EXPECT_EQ(table_->Get("hot").value(), "held");
}

// Two transactions read-lock the same btree page, then both try to write it:
// a certain deadlock. The victim is aborted and re-run; both commit.
TEST_F(TxnTest, ForcedDeadlockIsRetried) {
  Open();
  ASSERT_OK(table_->Put("a", "0"));
  ASSERT_OK(table_->Put("b", "0"));
  std::barrier both_read(2);
  auto writer = [&](const char* key) {
    int runs = 0;
    Status s = env_->WithTxn([&](Txn& txn) {
      Result<std::string> v = txn.Get(*table_, key);
      if (!v.ok()) return v.status();
      if (runs++ == 0) both_read.arrive_and_wait();
      return txn.Put(*table_, key, "1");
    });
    EXPECT_OK(s);
  };
  std::thread t1(writer, "a"), t2(writer, "b");
  t1.join();
  t2.join();
  EXPECT_EQ(table_->Get("a").value(), "1");
  EXPECT_EQ(table_->Get("b").value(), "1");
  EXPECT_GE(env_->Stats().deadlock_retries, 1u);
}

// Transfers between accounts on overlapping keys, each a read-modify-write
// of two accounts in random order: read locks upgraded to write locks
// deadlock constantly. Every victim is re-run; money is never created or lost.
TEST_F(TxnTest, ConcurrentTransfersDeadlockRetryAndConserveTheSum) {
  EnvOptions o = SmallOptions();
  o.deadlock_retries = 500;
  Open(o);
  constexpr int kAccounts = 8, kThreads = 8, kTransfers = 1000, kInitial = 1000;
  for (int i = 0; i < kAccounts; ++i) ASSERT_OK(table_->Put(Key(i), std::to_string(kInitial)));
  std::atomic<int> done{0}, busy{0};
  auto worker = [&](int seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> account(0, kAccounts - 1), amount(1, 10);
    for (int n = 0; n < kTransfers; ++n) {
      const int from = account(rng), to = (from + 1 + account(rng) % (kAccounts - 1)) % kAccounts;
      const int x = amount(rng);
      Status s = env_->WithTxn([&](Txn& txn) {
        Result<std::string> a = txn.Get(*table_, Key(from));
        if (!a.ok()) return a.status();
        Result<std::string> b = txn.Get(*table_, Key(to));
        if (!b.ok()) return b.status();
        BP_RETURN_IF_ERROR(txn.Put(*table_, Key(from), std::to_string(std::stoi(*a) - x)));
        return txn.Put(*table_, Key(to), std::to_string(std::stoi(*b) + x));
      });
      if (s.ok()) {
        ++done;
      } else {
        ASSERT_EQ(s.code(), Status::Code::kBusy) << s.ToString();
        ++busy;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, 1000 + t);
  for (auto& t : threads) t.join();
  long sum = 0;
  auto rows = table_->Scan("", "", 0);
  ASSERT_TRUE(rows.ok());
  for (const auto& [key, value] : *rows) sum += std::stol(value);
  EXPECT_EQ(sum, long{kAccounts} * kInitial);
  EXPECT_EQ(done + busy, kThreads * kTransfers);
  EXPECT_GT(env_->Stats().deadlock_retries, 0u);
  std::printf("transfers: %d committed, %d busy, %lu deadlock retries\n", done.load(), busy.load(),
              static_cast<unsigned long>(env_->Stats().deadlock_retries));
}

}  // namespace
}  // namespace bp::memenv

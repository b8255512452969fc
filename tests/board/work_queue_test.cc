// WorkQueue / ThreadPool bounds: count and byte limits, refusals counted,
// an empty queue always takes one item, Close hands out what is queued.
#include "board/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>

namespace bp::board {
namespace {

TEST(WorkQueue, RefusesBeyondTheItemLimitAndCounts) {
  WorkQueue<int> q(QueueLimits{3, SIZE_MAX});
  EXPECT_TRUE(q.Push(1));
  EXPECT_TRUE(q.Push(2));
  EXPECT_TRUE(q.Push(3));
  EXPECT_FALSE(q.Push(4));
  EXPECT_FALSE(q.Push(5));
  QueueStats s = q.Stats();
  EXPECT_EQ(s.depth, 3u);
  EXPECT_EQ(s.refused, 2u);
  EXPECT_EQ(s.peak_depth, 3u);
  EXPECT_EQ(s.limits.max_items, 3u);
  EXPECT_EQ(*q.Pop(), 1);
  EXPECT_TRUE(q.Push(6));  // room again
  EXPECT_EQ(*q.Pop(), 2);
  EXPECT_EQ(*q.Pop(), 3);
  EXPECT_EQ(*q.Pop(), 6);
}

TEST(WorkQueue, RefusesBeyondTheByteLimit) {
  WorkQueue<std::string> q(QueueLimits{SIZE_MAX, 100});
  EXPECT_TRUE(q.Push("a", 60));
  EXPECT_TRUE(q.Push("b", 40));   // exactly at the limit
  EXPECT_FALSE(q.Push("c", 1));   // one byte over
  EXPECT_EQ(q.Stats().bytes, 100u);
  EXPECT_EQ(q.Stats().refused, 1u);
  EXPECT_EQ(*q.Pop(), "a");
  EXPECT_EQ(q.Stats().bytes, 40u);
  EXPECT_TRUE(q.Push("d", 60));
  EXPECT_FALSE(q.Push("e", SIZE_MAX));  // no overflow in the arithmetic
}

TEST(WorkQueue, EmptyQueueTakesOneOversizeItem) {
  WorkQueue<int> q(QueueLimits{SIZE_MAX, 10});
  EXPECT_TRUE(q.Push(1, 1000));  // bigger than the whole bound, but alone
  EXPECT_FALSE(q.Push(2, 1));
  EXPECT_EQ(*q.Pop(), 1);
  EXPECT_EQ(q.Stats().bytes, 0u);
}

TEST(WorkQueue, ClosedQueueRefusesWithoutCountingAndDrains) {
  WorkQueue<int> q;
  EXPECT_TRUE(q.Push(1));
  q.Close();
  EXPECT_FALSE(q.Push(2));
  EXPECT_EQ(q.Stats().refused, 0u);
  EXPECT_EQ(*q.Pop(), 1);  // queued before Close: still handed out
  EXPECT_FALSE(q.Pop().has_value());
}

TEST(ThreadPool, FullPoolRefusesAndTheTaskNeverRuns) {
  ThreadPool pool(QueueLimits{2, SIZE_MAX});
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  std::promise<void> started;
  pool.Start(1);
  ASSERT_TRUE(pool.Submit([&] {
    started.set_value();
    gate.wait();
    ++ran;
  }));
  started.get_future().wait();  // the one thread is busy now
  EXPECT_TRUE(pool.Submit([&] { ++ran; }));
  EXPECT_TRUE(pool.Submit([&] { ++ran; }));
  EXPECT_FALSE(pool.Submit([&] { ran += 100; }));  // 2 waiting: full
  EXPECT_EQ(pool.Stats().refused, 1u);
  EXPECT_EQ(pool.Stats().depth, 2u);
  release.set_value();
  pool.Stop();  // runs what was queued
  EXPECT_EQ(ran.load(), 3);
  EXPECT_FALSE(pool.Submit([] {}));  // stopped
}

}  // namespace
}  // namespace bp::board

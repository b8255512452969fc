// LagBytes: the one LSN distance status, the write throttle and re-init
// progress use: within a file, across files, and never negative.
#include <gtest/gtest.h>

#include "board/lag.h"

namespace bp::board {
namespace {

constexpr int64_t kFile = 10 << 20;  // lg_max of a 10 MiB log file

TEST(LagBytes, WithinOneFileIsTheOffsetDifference) {
  EXPECT_EQ(LagBytes({1, 5000}, {1, 1200}, kFile), 3800);
}

TEST(LagBytes, AcrossFilesCountsTheWholeFilesBetween) {
  // From (1, 9 MiB) to (3, 100): the rest of file 1, all of file 2, 100 bytes of file 3.
  EXPECT_EQ(LagBytes({3, 100}, {1, 9 << 20}, kFile), 2 * kFile + 100 - (9 << 20));
  // The offset ahead may be smaller than the one behind.
  EXPECT_EQ(LagBytes({2, 28}, {1, 4000}, kFile), kFile + 28 - 4000);
}

TEST(LagBytes, NotBehindIsZero) {
  EXPECT_EQ(LagBytes({2, 300}, {2, 300}, kFile), 0);
  EXPECT_EQ(LagBytes({1, 300}, {2, 28}, kFile), 0);   // the other board is ahead
  EXPECT_EQ(LagBytes({0, 0}, {1, 28}, kFile), 0);     // no position yet
}

}  // namespace
}  // namespace bp::board

// Tables: CRUD, ordered range scans with limits, Count, the table cache, and
// the promise that nothing ever reaches the home directory.
#include <db.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "memenv/env.h"
#include "test_util.h"

namespace bp::memenv {
namespace {

using testing::Key;
using testing::OpenOrDie;
using testing::SmallOptions;

class TableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = OpenOrDie();
    ASSERT_NE(env_, nullptr);
    Result<Table*> t = env_->OpenTable("kv", /*create=*/true);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    table_ = *t;
  }
  void Fill(int n) {
    for (int i = 0; i < n; ++i) ASSERT_OK(table_->Put(Key(i), "v" + std::to_string(i)));
  }
  std::unique_ptr<Env> env_;
  Table* table_ = nullptr;
};

TEST_F(TableTest, PutGetOverwriteDelete) {
  EXPECT_TRUE(table_->Get("a").status().IsNotFound());
  ASSERT_OK(table_->Put("a", "1"));
  EXPECT_EQ(table_->Get("a").value(), "1");
  ASSERT_OK(table_->Put("a", "22"));
  EXPECT_EQ(table_->Get("a").value(), "22");
  ASSERT_OK(table_->Put("empty", ""));
  EXPECT_EQ(table_->Get("empty").value(), "");
  ASSERT_OK(table_->Delete("a"));
  EXPECT_TRUE(table_->Get("a").status().IsNotFound());
  EXPECT_TRUE(table_->Delete("a").IsNotFound());
}

TEST_F(TableTest, BinaryKeysAndValuesRoundTrip) {
  const std::string key("\x00\xff\x01", 3), value("\x00\x00\x80zz", 5);
  ASSERT_OK(table_->Put(key, value));
  EXPECT_EQ(table_->Get(key).value(), value);
  const std::string big(200000, 'x');  // overflow pages
  ASSERT_OK(table_->Put("big", big));
  EXPECT_EQ(table_->Get("big").value(), big);
}

TEST_F(TableTest, EmptyKeysAreRefused) {
  EXPECT_EQ(table_->Put("", "v").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(table_->Get("").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(table_->Delete("").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(table_->ApplyBatch({{BatchOp::Kind::kPut, "", "v"}}).code(),
            Status::Code::kInvalidArgument);
}

TEST_F(TableTest, ScanIsOrderedAndHonoursRangeAndLimit) {
  Fill(100);
  auto all = table_->Scan("", "", 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ((*all)[i].first, Key(i));
    EXPECT_EQ((*all)[i].second, "v" + std::to_string(i));
  }
  auto range = table_->Scan(Key(10), Key(20), 0);  // [start, end)
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range->size(), 10u);
  EXPECT_EQ(range->front().first, Key(10));
  EXPECT_EQ(range->back().first, Key(19));
  auto limited = table_->Scan(Key(95), "", 3);
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->size(), 3u);
  EXPECT_EQ(limited->back().first, Key(97));
  auto between = table_->Scan("k000010a", "k000012", 0);  // start between keys
  ASSERT_TRUE(between.ok());
  ASSERT_EQ(between->size(), 1u);
  EXPECT_EQ(between->front().first, Key(11));
  EXPECT_TRUE(table_->Scan("z", "", 0)->empty());
  EXPECT_TRUE(table_->Scan(Key(5), Key(5), 0)->empty());
}

TEST_F(TableTest, ScanOrdersBytewiseUnsigned) {
  ASSERT_OK(table_->Put(std::string("\x80", 1), "high"));
  ASSERT_OK(table_->Put("\x7f", "low"));
  auto rows = table_->Scan("", "", 0);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].second, "low");
  EXPECT_EQ((*rows)[1].second, "high");
}

TEST_F(TableTest, CountFollowsPutsAndDeletes) {
  EXPECT_EQ(table_->Count().value(), 0u);
  Fill(250);
  EXPECT_EQ(table_->Count().value(), 250u);
  ASSERT_OK(table_->Delete(Key(3)));
  ASSERT_OK(table_->Put(Key(4), "overwrite"));
  EXPECT_EQ(table_->Count().value(), 249u);
}

TEST_F(TableTest, OpenTableReturnsTheCachedTable) {
  Result<Table*> again = env_->OpenTable("kv", /*create=*/false);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, table_);
  Result<Table*> other = env_->OpenTable("other", /*create=*/true);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, table_);
  ASSERT_OK((*other)->Put("a", "other"));
  ASSERT_OK(table_->Put("a", "kv"));
  EXPECT_EQ((*other)->Get("a").value(), "other");  // tables are separate
}

TEST_F(TableTest, OpenWithoutCreateIsNotFoundUntilCreated) {
  Result<Table*> missing = env_->OpenTable("later", /*create=*/false);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
  ASSERT_TRUE(env_->OpenTable("later", /*create=*/true).ok());
}

// What the engine does after a role change: handles are dropped and reopened;
// in-memory databases live as long as the environment, not the handle.
TEST_F(TableTest, InvalidatedHandlesReopenWithDataIntact) {
  Fill(10);
  env_->InvalidateTables();
  EXPECT_EQ(table_->Get(Key(3)).value(), "v3");
  ASSERT_OK(table_->Put(Key(3), "again"));
  env_->InvalidateTables();
  EXPECT_EQ(table_->Count().value(), 10u);
  EXPECT_EQ(table_->Get(Key(3)).value(), "again");
}

TEST(HomeTest, GivenHomeStaysEmptyAndTempHomeIsRemoved) {
  std::string dir = (std::filesystem::temp_directory_path() / "bp-memenv-test-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  {
    EnvOptions o = SmallOptions();
    o.home = dir;
    auto env = OpenOrDie(o);
    ASSERT_NE(env, nullptr);
    Table* t = env->OpenTable("kv", true).value();
    for (int i = 0; i < 2000; ++i) ASSERT_OK(t->Put(Key(i), std::string(512, 'v')));
    ASSERT_OK(env->Checkpoint(/*force=*/true));
    EXPECT_TRUE(std::filesystem::is_empty(dir));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove(dir);

  std::string temp_home;
  {
    auto env = OpenOrDie();
    ASSERT_NE(env, nullptr);
    temp_home = env->options().home;
    EXPECT_TRUE(std::filesystem::is_directory(temp_home));
    ASSERT_OK(env->OpenTable("kv", true).value()->Put("a", "b"));
    EXPECT_TRUE(std::filesystem::is_empty(temp_home));
  }
  EXPECT_FALSE(std::filesystem::exists(temp_home));
}

TEST(MessagesTest, BdbMessagesReachTheCallback) {
  std::vector<std::string> messages;
  EnvOptions o = SmallOptions();
  o.on_bdb_message = [&](const std::string& m) { messages.push_back(m); };
  o.before_open = [](__db_env* env) {
    // An illegal flag: BDB reports it through the error callback.
    (void)env->set_flags(env, 0x40000000, 1);
    return Status::Ok();
  };
  auto env = OpenOrDie(o);
  ASSERT_NE(env, nullptr);
  ASSERT_FALSE(messages.empty());
}

}  // namespace
}  // namespace bp::memenv

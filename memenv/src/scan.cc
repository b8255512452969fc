// Table::Scan: one ordered, read-committed cursor pass over [start, end).
#include <db.h>

#include "dbt.h"
#include "memenv/env.h"

namespace bp::memenv {

namespace {

// Closes the cursor before its transaction ends, whatever path is taken.
class CursorCloser {
 public:
  explicit CursorCloser(DBC* c) : c_(c) {}
  ~CursorCloser() { (void)c_->close(c_); }
  CursorCloser(const CursorCloser&) = delete;
  CursorCloser& operator=(const CursorCloser&) = delete;

 private:
  DBC* c_;
};

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> Table::Scan(std::string_view start,
                                                                     std::string_view end,
                                                                     size_t limit) {
  std::vector<std::pair<std::string, std::string>> rows;
  auto body = [&](Txn& txn) -> Status {
    rows.clear();  // a deadlock re-runs the whole pass
    Result<DB*> db = txn.Use(*this);
    if (!db.ok()) return db.status();
    DBC* cursor = nullptr;
    BP_RETURN_IF_ERROR(
        txn.Check((*db)->cursor(*db, txn.raw(), &cursor, 0), "DB->cursor", *this, *db, false));
    CursorCloser closer(cursor);
    OutDbt key(start), value;
    uint32_t flags = start.empty() ? DB_FIRST : DB_SET_RANGE;
    while (limit == 0 || rows.size() < limit) {
      const int ret = cursor->get(cursor, key.get(), value.get(), flags);
      if (ret == DB_NOTFOUND) break;
      BP_RETURN_IF_ERROR(txn.Check(ret, "DBC->get", *this, *db, false));
      if (!end.empty() && key.view() >= end) break;
      rows.emplace_back(key.view(), value.view());
      flags = DB_NEXT;
    }
    return Status::Ok();
  };
  BP_RETURN_IF_ERROR(env_->RunTxn(DB_READ_COMMITTED, body, nullptr, /*writes=*/false));
  return rows;
}

}  // namespace bp::memenv

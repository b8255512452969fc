// DBT helpers. With DB_THREAD every DBT that Berkeley DB fills must say who
// owns the memory; memenv lets BDB (re)allocate it and frees it here.
#pragma once

#include <db.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace bp::memenv {

// A DBT pointing at caller memory, for keys and values passed in.
inline DBT InDbt(std::string_view bytes) {
  DBT dbt;
  std::memset(&dbt, 0, sizeof dbt);
  dbt.data = const_cast<char*>(bytes.data());  // BDB does not write input DBTs
  dbt.size = static_cast<uint32_t>(bytes.size());
  return dbt;
}

// A DBT that Berkeley DB fills with realloc'd memory, reused across cursor steps.
class OutDbt {
 public:
  OutDbt() {
    std::memset(&dbt_, 0, sizeof dbt_);
    dbt_.flags = DB_DBT_REALLOC;
  }
  explicit OutDbt(std::string_view initial) : OutDbt() {
    dbt_.data = std::malloc(initial.empty() ? 1 : initial.size());
    std::memcpy(dbt_.data, initial.data(), initial.size());
    dbt_.size = static_cast<uint32_t>(initial.size());
  }
  ~OutDbt() { std::free(dbt_.data); }
  OutDbt(const OutDbt&) = delete;
  OutDbt& operator=(const OutDbt&) = delete;

  DBT* get() { return &dbt_; }
  std::string_view view() const { return {static_cast<const char*>(dbt_.data), dbt_.size}; }

 private:
  DBT dbt_;
};

}  // namespace bp::memenv

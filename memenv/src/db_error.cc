#include "db_error.h"

#include <db.h>

#include <cerrno>
#include <string>

namespace bp::memenv {

namespace {

std::string Describe(int ret, std::string_view what) {
  return std::string(what) + ": " + db_strerror(ret);
}

}  // namespace

bool IsDeadlock(int ret) { return ret == DB_LOCK_DEADLOCK || ret == DB_LOCK_NOTGRANTED; }

Status FromDb(int ret, std::string_view what, bool replica_write) {
  switch (ret) {
    case 0:
      return Status::Ok();
    case DB_NOTFOUND:
    case DB_KEYEMPTY:
      return Status::NotFound(Describe(ret, what));
    case ENOENT:
      return Status::NotFound(Describe(ret, what) +
                              " (table not created yet; on a replica it appears once the "
                              "master's create arrives: retry later)");
    case DB_LOCK_DEADLOCK:
    case DB_LOCK_NOTGRANTED:
      return Status::Busy(Describe(ret, what));
    case DB_REP_HANDLE_DEAD:
      return Status::Unavailable(Describe(ret, what) + " (replication invalidated the handle)");
    case DB_REP_LOCKOUT:
      return Status::Unavailable(Describe(ret, what) + " (replication lockout: board syncing)");
    case DB_REP_LEASE_EXPIRED:
      return Status::Unavailable(Describe(ret, what) + " (master lease expired)");
    case DB_TIMEOUT:
      return Status::Timeout(Describe(ret, what));
    case EACCES:
      // Berkeley DB refuses every write on a replication client with EACCES;
      // nothing else in a file-less environment produces it.
      return Status::NotMaster(Describe(ret, what) +
                               " (this board is a read-only replica: send writes to the master)");
    case EINVAL:
      if (replica_write) {
        return Status::NotMaster(Describe(ret, what) +
                                 " (this board is a replica: send writes to the master)");
      }
      return Status::InvalidArgument(Describe(ret, what));
    case ENOMEM:
      return Status::Internal(Describe(ret, what) +
                              " (cache full: raise cache_bytes; in-memory data cannot be "
                              "evicted. If the bdb: message names the lock table, raise "
                              "max_locks/max_lock_objects/max_lockers)");
    case DB_LOG_BUFFER_FULL:
      return Status::TooLarge(Describe(ret, what) +
                              " (a transaction spans the in-memory log ring: raise "
                              "log_buffer_bytes, split the transaction, or do not keep a "
                              "transaction open while others write)");
    case DB_RUNRECOVERY:
      return Status::Internal(Describe(ret, what) +
                              " (environment panicked; the board must restart)");
    default:
      return Status::Internal(Describe(ret, what));
  }
}

}  // namespace bp::memenv

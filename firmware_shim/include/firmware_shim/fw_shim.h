/* fw_shim.h: the C API board firmware uses to reach its local board.
 *
 * The firmware talks only to the board process on its own board, over that
 * board's client endpoint (a ZeroMQ socket, usually ipc://). The board
 * forwards writes to the chassis master, serves reads locally or on the
 * master, and pushes role changes to subscribers.
 *
 * Conventions
 *   (1) Every function returns an fw_err_t; FW_OK (0) is success. On any
 *       other code, fw_last_error() has a message naming the cause and the
 *       fix (the board's own text when the board answered).
 *   (2) char** results are set to NULL first, so fw_free() on them is always
 *       safe; other out parameters are written only on FW_OK, except the
 *       write result, which is filled on every outcome so the caller always
 *       knows the request id to retry with.
 *   (3) Memory returned through char** (values, JSON) is malloc'd by the
 *       library; release it with fw_free(). Keys and values are byte
 *       strings (not NUL-terminated) with explicit lengths; returned values
 *       carry an extra NUL after *vlen bytes for convenience.
 *   (4) No function aborts, raises a signal or lets an exception escape on
 *       bad input: NULL pointers, empty or oversized keys, closed handles
 *       and a board that is not running are all reported as codes.
 *   (5) Threads: a handle may be shared by threads. Each handle owns one
 *       request socket guarded by a mutex, so calls on one handle are
 *       serialized (a write that is retrying blocks other callers of that
 *       handle; open one handle per thread for parallelism). fw_last_error()
 *       is per thread. Role events are read from the subscription's fd on
 *       any thread, or delivered to a callback on the shim's event thread.
 *
 * Example:
 *   fw_options_t o;
 *   fw_options_init(&o);
 *   o.endpoint = "ipc:///run/bp/slot1.client";
 *   fw_board_t* h;
 *   if (fw_open(&o, &h) != FW_OK) { log("%s", fw_last_error()); return; }
 *   fw_write_result_t r;
 *   fw_err_t e = fw_put(h, "fan", 3, "on", 2, &r);
 *   if (e == FW_ERR_UNKNOWN_OUTCOME)   // later: the same write, the same id
 *     e = fw_batch_with_id(h, &r.request_id, &(fw_op_t){FW_OP_PUT, "fan", 3, "on", 2}, 1, &r);
 *   char* v; size_t n;
 *   if (fw_get(h, "fan", 3, FW_READ_YOUR_WRITES, &v, &n) == FW_OK) { use(v, n); fw_free(v); }
 *   fw_close(h);
 *
 * Over tcp:// to a chassis with security = "curve" (since 1.3), also:
 *   o.endpoint = "tcp://10.0.0.1:7001";
 *   o.server_public_key = "<the board's public_key from chassis.toml>";
 *   o.client_secret_key = "<this client's secret key; its public key listed in
 *                          client_public_keys>";
 *
 * Handles: fw_close() releases a handle. The library keeps a registry of
 * open handles and never dereferences a pointer that is not in it, so a
 * NULL, foreign or already-closed handle returns FW_ERR_BAD_HANDLE or
 * FW_ERR_CLOSED instead of crashing. Once another fw_open() reuses the
 * address of a closed handle, a stale pointer is indistinguishable from
 * the new handle: do not keep using closed handles.
 *
 * ABI contract: error codes, event kinds, read modes and op kinds are never
 * renumbered or reused. Structs are only extended within their reserved
 * space, so their size never changes within a major version. A change that
 * breaks this bumps FW_SHIM_VERSION_MAJOR (and the library's soname).
 */
#ifndef FIRMWARE_SHIM_FW_SHIM_H_
#define FIRMWARE_SHIM_FW_SHIM_H_

#include <stddef.h>
#include <stdint.h>

#if defined(FW_SHIM_BUILDING)
#define FW_EXPORT __attribute__((visibility("default")))
#else
#define FW_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define FW_SHIM_VERSION_MAJOR 1
#define FW_SHIM_VERSION_MINOR 3
#define FW_SHIM_VERSION_PATCH 0
#define FW_SHIM_VERSION \
  (FW_SHIM_VERSION_MAJOR * 10000 + FW_SHIM_VERSION_MINOR * 100 + FW_SHIM_VERSION_PATCH)

/* The library's version (compare with FW_SHIM_VERSION at run time). */
FW_EXPORT int fw_version(int* major, int* minor, int* patch);

/* ---- errors ---- */

typedef enum fw_err {
  FW_OK = 0,
  FW_ERR_INVALID_ARG = 1,     /* the call itself is wrong; never retry as is */
  FW_ERR_NOT_FOUND = 2,       /* no such key */
  FW_ERR_TOO_LARGE = 3,       /* key, value or batch over a limit */
  FW_ERR_UNAVAILABLE = 4,     /* no master / re-initialising / lease lost: retry later */
  FW_ERR_NOT_MASTER = 5,      /* this board cannot serve it (LINEARIZABLE on a replica) */
  FW_ERR_TIMEOUT = 6,         /* a read got no answer in time; nothing was changed */
  FW_ERR_UNKNOWN_OUTCOME = 7, /* a write may or may not be applied: retry with its id */
  FW_ERR_NOT_DURABLE = 8,     /* write applied on the master, ack policy NOT met */
  FW_ERR_CLOSED = 9,          /* the handle was closed */
  FW_ERR_BAD_HANDLE = 10,     /* NULL or not a handle from fw_open */
  FW_ERR_BOARD_DOWN = 11,     /* no board process answering at the endpoint */
  FW_ERR_BUSY = 12,           /* transient contention on the board: retry */
  FW_ERR_AGAIN = 13,          /* nothing pending (fw_next_event) */
  FW_ERR_PROTOCOL = 14,       /* the board sent something this shim cannot read */
  FW_ERR_NO_MEMORY = 15,
  FW_ERR_INTERNAL = 16, /* a bug in the shim or the board */
  /* Since 1.2: a retry whose request id the master no longer remembers
   * (older than request_retention_s, or evicted early by request_budget_pct):
   * whether the first attempt applied is unknown, and it was NOT applied now.
   * Read the keys to learn the state; write again with a new id. */
  FW_ERR_ID_EXPIRED = 17,
  /* Since 1.2: the chassis' data reached its cache high-water mark
   * (cache_high_water_pct of the smallest cache_mb); not applied. Deletes and
   * overwrites that do not grow a value still pass. */
  FW_ERR_FULL = 18
} fw_err_t;

/* A static description of a code ("unknown error code" for others). */
FW_EXPORT const char* fw_strerror(fw_err_t code);
/* The message of this thread's last failed call (empty if none). Valid until
 * this thread's next fw_ call. Never NULL. */
FW_EXPORT const char* fw_last_error(void);
/* 1 if retrying later may succeed (UNAVAILABLE, NOT_MASTER, TIMEOUT,
 * UNKNOWN_OUTCOME, BOARD_DOWN, BUSY), else 0. */
FW_EXPORT int fw_err_is_retryable(fw_err_t code);

/* Releases memory returned by the library. NULL is a no-op. */
FW_EXPORT void fw_free(void* p);

/* ---- opening ---- */

typedef struct fw_board fw_board_t;

typedef struct fw_options {
  const char* endpoint;        /* the board's client endpoint, e.g. "ipc:///run/bp/slot1.client" */
  uint32_t request_timeout_ms; /* one request's wait for its reply (default 2000) */
  uint32_t connect_timeout_ms; /* wait for a connection to the board before FW_ERR_BOARD_DOWN
                                  (default 500) */
  uint32_t write_retries;      /* extra attempts of a write on retryable errors (default 8) */
  uint32_t retry_backoff_ms;   /* first backoff, doubled each retry, capped at 1 s (default 4) */
  uint32_t max_key_bytes;      /* checked before sending (default 1024, the board's default) */
  uint32_t max_value_bytes;    /* checked before sending (default 1 MiB) */
  uint32_t lazy_connect;       /* 0 (default): fw_open checks that the board answers;
                                  1: fw_open succeeds without a board, calls fail until it runs */
  /* Since 1.3, in what was reserved_u32[7] (size and earlier offsets unchanged;
   * a zeroed struct of 1.2 means no CURVE, as before). */
  uint32_t reserved_u32[1];    /* zero; future options (still an array: code that
                                  zeroed reserved_u32[0] compiles as before) */
  /* CURVE (for a tcp:// endpoint of a chassis with security = "curve"): Z85
   * keys, 40 characters each, NUL-terminated; all NULL (default): no CURVE.
   * server_public_key is the board's public_key in chassis.toml; the client
   * key pair's public key must be listed in client_public_keys. With
   * server_public_key set, client_secret_key is required; client_public_key
   * may be NULL (derived from the secret key) or must match it. The strings
   * are copied by fw_open. A board that does not accept the key never
   * completes the handshake: calls fail with FW_ERR_BOARD_DOWN. */
  const char* server_public_key;
  const char* client_public_key;
  const char* client_secret_key;
#if UINTPTR_MAX == 0xffffffffu
  uint32_t reserved_u32_ilp32[3]; /* 32-bit targets: keeps the size of 1.2 */
#endif
} fw_options_t;

/* Fills *opts with the defaults (endpoint NULL). */
FW_EXPORT void fw_options_init(fw_options_t* opts);

/* Opens a handle to the board at opts->endpoint. Zero numeric fields take
 * their defaults. Unless lazy_connect, asks the board for its status first:
 * FW_ERR_BOARD_DOWN if nothing answers within connect_timeout_ms.
 * On FW_OK, *out is a handle to release with fw_close(). */
FW_EXPORT fw_err_t fw_open(const fw_options_t* opts, fw_board_t** out);
/* Closes the handle: stops its subscription (if any) and its sockets. Waits
 * for a call in progress on another thread to finish. Closing twice returns
 * FW_ERR_CLOSED. Must not be called from the event callback. */
FW_EXPORT fw_err_t fw_close(fw_board_t* h);

/* ---- reads ---- */

typedef enum fw_read_mode {
  FW_READ_LOCAL = 0,       /* this board's copy; may lag the master */
  FW_READ_YOUR_WRITES = 1, /* waits until this handle's last write is applied here */
  FW_READ_LINEARIZABLE = 2 /* served by the master only (FW_ERR_NOT_MASTER elsewhere) */
} fw_read_mode_t;

/* Reads `key`. On FW_OK, *val is a malloc'd copy of the value (free with
 * fw_free) and *vlen its length. FW_ERR_NOT_FOUND if absent. Reads are not
 * retried by the shim: a read has no side effect, so the caller decides.
 * FW_READ_YOUR_WRITES on a handle that has not written is a local read;
 * otherwise the board waits up to 3/4 of request_timeout_ms for the write
 * to be applied locally (FW_ERR_TIMEOUT after that). A replica that is
 * re-initialising refuses local reads with FW_ERR_UNAVAILABLE. */
FW_EXPORT fw_err_t fw_get(fw_board_t* h, const char* key, size_t klen, fw_read_mode_t mode,
                          char** val, size_t* vlen);

/* Who answered a read (since 1.1). For a FW_READ_LINEARIZABLE read answered
 * with FW_OK or FW_ERR_NOT_FOUND: the master's slot, its master generation,
 * and the CLOCK_MONOTONIC time (microseconds, the clock every process on the
 * machine shares) at which it last confirmed it was master for this read.
 * All zero for other reads and on errors. Meant for checkers and drills. */
typedef struct fw_read_info {
  int32_t served_by;
  uint32_t served_gen;
  int64_t served_mono_us;
  int64_t reserved[4];
} fw_read_info_t;

/* fw_get, also filling *info (may be NULL) as described above. */
FW_EXPORT fw_err_t fw_get_ex(fw_board_t* h, const char* key, size_t klen, fw_read_mode_t mode,
                             char** val, size_t* vlen, fw_read_info_t* info);

/* ---- writes ---- */

/* A write's id: 128 random bits made per logical write. The master records
 * it with the write, so resending the same id never applies the write twice. */
typedef struct fw_request_id {
  uint64_t hi;
  uint64_t lo;
} fw_request_id_t;

typedef struct fw_write_result {
  fw_request_id_t request_id; /* the id used: pass it to fw_batch_with_id to retry */
  int32_t durable;            /* 1: committed and the ack policy met */
  int32_t attempts;           /* requests sent (retries included) */
  int64_t reserved[4];
} fw_write_result_t;

typedef enum fw_op_kind { FW_OP_PUT = 0, FW_OP_DELETE = 1 } fw_op_kind_t;

typedef struct fw_op {
  fw_op_kind_t kind;
  const char* key;
  size_t klen;
  const char* val; /* FW_OP_PUT only */
  size_t vlen;
} fw_op_t;

/* Writes are applied on the master (forwarded by the board when it is a
 * replica), retried on retryable errors with the same request id, and
 * return:
 *   FW_OK                   applied and durable (ack policy met).
 *   FW_ERR_NOT_DURABLE      applied on the master, but too few replicas
 *                           acknowledged it: a master failure now may lose
 *                           it. Retrying with fw_batch_with_id (same id)
 *                           applies nothing again and reports durability anew.
 *   FW_ERR_UNKNOWN_OUTCOME  no definite answer (timeouts across a failover):
 *                           the write may or may not be applied. Retrying
 *                           with fw_batch_with_id and result->request_id is
 *                           safe: it is applied at most once.
 *   others                  not applied (INVALID_ARG, TOO_LARGE, BOARD_DOWN
 *                           when the request could not be sent, ...).
 * `result` may be NULL; if given, it is filled on every outcome. A write
 * that reached the master (OK or NOT_DURABLE) records its commit token in
 * the handle for FW_READ_YOUR_WRITES. */
FW_EXPORT fw_err_t fw_put(fw_board_t* h, const char* key, size_t klen, const char* val, size_t vlen,
                          fw_write_result_t* result);
FW_EXPORT fw_err_t fw_delete(fw_board_t* h, const char* key, size_t klen,
                             fw_write_result_t* result);
/* All `n` ops atomically (all or nothing). */
FW_EXPORT fw_err_t fw_batch(fw_board_t* h, const fw_op_t* ops, size_t n, fw_write_result_t* result);
/* The same with a given id: the retry of an earlier write (pass the same
 * ops), or a caller-made id (fw_new_request_id). */
FW_EXPORT fw_err_t fw_batch_with_id(fw_board_t* h, const fw_request_id_t* id, const fw_op_t* ops,
                                    size_t n, fw_write_result_t* result);
/* A fresh random request id (never all zero). */
FW_EXPORT fw_err_t fw_new_request_id(fw_request_id_t* id);

/* ---- status and tools ---- */

typedef enum fw_role {
  FW_ROLE_UNKNOWN = 0, /* starting, or not known */
  FW_ROLE_REPLICA = 1,
  FW_ROLE_MASTER = 2
} fw_role_t;

typedef struct fw_status {
  fw_role_t role;
  int32_t slot;   /* this board's slot */
  int32_t master; /* the master's slot, -1 if none known */
  uint32_t generation;
  int32_t startup_complete; /* 1: in sync with the master */
  int32_t reinit;           /* 1: re-initialising from peers (reads refused) */
  int32_t confirmed_master; /* master only: 1 if a quorum was heard recently */
  int32_t peers;            /* other boards configured */
  int32_t peers_alive;
  int32_t reserved_i32;
  int64_t max_lag_bytes; /* master only: the furthest replica's lag, else -1 */
  int64_t reserved[6];
} fw_status_t;

FW_EXPORT fw_err_t fw_status(fw_board_t* h, fw_status_t* out);
/* The board's full status document (JSON, malloc'd; free with fw_free). */
FW_EXPORT fw_err_t fw_status_json(fw_board_t* h, char** json);
/* Runs an admin command (JSON, e.g. {"cmd":"partition"}) and returns the
 * board's JSON answer. A command the board rejects ({"ok":false,...})
 * returns FW_ERR_INVALID_ARG with the board's error in fw_last_error(). */
FW_EXPORT fw_err_t fw_admin(fw_board_t* h, const char* json_cmd, char** json_out);

/* ---- role events ---- */

/* Board event kinds (the board's EventKind values), plus the shim's own. */
typedef enum fw_event_kind {
  FW_EVENT_BECAME_REPLICA = 1,
  FW_EVENT_BECAME_MASTER = 2,
  FW_EVENT_NEW_MASTER = 3,
  FW_EVENT_STARTUP_DONE = 4,
  FW_EVENT_PERM_FAILED = 5, /* a write was not durable */
  FW_EVENT_ELECTION_STARTED = 6,
  FW_EVENT_PEER_UP = 9,
  FW_EVENT_PEER_DOWN = 10,
  FW_EVENT_BOARD_LINK_DOWN = 100, /* shim: lost the connection to the board process */
  FW_EVENT_BOARD_LINK_UP = 101    /* shim: (re)subscribed after a connection */
} fw_event_kind_t;

typedef struct fw_event {
  int32_t kind;   /* fw_event_kind_t (unknown kinds may appear: ignore them) */
  fw_role_t role; /* the board's role when it sent the event */
  int32_t master; /* master slot, -1 if none */
  uint32_t generation;
  uint64_t dropped; /* events dropped so far because the queue was full */
  int64_t reserved[4];
} fw_event_t;

/* Called on the shim's event thread. It may call fw_get/fw_put/... on the
 * handle, but not fw_close or fw_unsubscribe. */
typedef void (*fw_event_cb)(void* arg, const fw_event_t* event);

/* Subscribes to the board's role events; waits (request_timeout_ms) for the
 * board to confirm. With `cb`, events go to the callback only. Without, they
 * are queued (up to 256, oldest dropped) and *fd (if fd is non-NULL) is an
 * eventfd that is readable while events are pending (level-triggered: poll
 * it, then call fw_next_event until FW_ERR_AGAIN; do not read() it). The
 * fd belongs to the handle: it stays valid until fw_unsubscribe/fw_close.
 * After a board restart the shim subscribes again by itself. One
 * subscription per handle (FW_ERR_INVALID_ARG for a second). */
FW_EXPORT fw_err_t fw_subscribe(fw_board_t* h, fw_event_cb cb, void* arg, int* fd);
/* Takes the oldest pending event: FW_OK, or FW_ERR_AGAIN if none. */
FW_EXPORT fw_err_t fw_next_event(fw_board_t* h, fw_event_t* out);
FW_EXPORT fw_err_t fw_unsubscribe(fw_board_t* h);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FIRMWARE_SHIM_FW_SHIM_H_ */

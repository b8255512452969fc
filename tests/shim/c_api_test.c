/* c_api_test: the shim's C API from C (C11), against the public header only.
 *
 * Goal: prove the header is valid C, and that every bad-input path returns
 * its code and a message instead of crashing: NULL and foreign handles,
 * NULL/empty/oversized keys and values, closed handles, bad modes, and a
 * board that is not running (FW_ERR_BOARD_DOWN within the connect timeout).
 * Method: no board is started; the endpoint is an ipc path in a fresh
 * temporary directory that nothing listens on. */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "firmware_shim/fw_shim.h"

/* The ABI: 1.3 put its CURVE keys into 1.2's reserved_u32[7]; the size and
 * the offsets of the 1.2 fields must not move (LP64 figures). */
#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof(fw_options_t) == 64, "fw_options_t size changed: ABI break");
_Static_assert(offsetof(fw_options_t, endpoint) == 0, "endpoint moved");
_Static_assert(offsetof(fw_options_t, request_timeout_ms) == 8, "request_timeout_ms moved");
_Static_assert(offsetof(fw_options_t, connect_timeout_ms) == 12, "connect_timeout_ms moved");
_Static_assert(offsetof(fw_options_t, write_retries) == 16, "write_retries moved");
_Static_assert(offsetof(fw_options_t, retry_backoff_ms) == 20, "retry_backoff_ms moved");
_Static_assert(offsetof(fw_options_t, max_key_bytes) == 24, "max_key_bytes moved");
_Static_assert(offsetof(fw_options_t, max_value_bytes) == 28, "max_value_bytes moved");
_Static_assert(offsetof(fw_options_t, lazy_connect) == 32, "lazy_connect moved");
_Static_assert(offsetof(fw_options_t, reserved_u32) == 36, "reserved_u32 moved");
_Static_assert(offsetof(fw_options_t, server_public_key) == 40, "server_public_key moved");
_Static_assert(offsetof(fw_options_t, client_public_key) == 48, "client_public_key moved");
_Static_assert(offsetof(fw_options_t, client_secret_key) == 56, "client_secret_key moved");
#endif

/* libzmq's CURVE test key pairs (tests/testutil_security). */
static const char* kServerPublic = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
static const char* kClientPublic = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
static const char* kClientSecret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

static int g_failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      g_failures++;                                                            \
    }                                                                          \
  } while (0)

/* A call must return `want` and leave a message naming the cause. */
#define CHECK_ERR(call, want)                                                                      \
  do {                                                                                             \
    fw_err_t got_ = (call);                                                                        \
    if (got_ != (want)) {                                                                          \
      fprintf(stderr, "%s:%d: %s returned %d (%s), want %d; last error: %s\n", __FILE__, __LINE__, \
              #call, (int)got_, fw_strerror(got_), (int)(want), fw_last_error());                  \
      g_failures++;                                                                                \
    } else if ((want) != FW_OK && fw_last_error()[0] == '\0') {                                    \
      fprintf(stderr, "%s:%d: %s: no message\n", __FILE__, __LINE__, #call);                       \
      g_failures++;                                                                                \
    }                                                                                              \
  } while (0)

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char g_dir[64];
static char g_endpoint[128];

static void test_version(void) {
  int major = -1, minor = -1, patch = -1;
  CHECK(fw_version(&major, &minor, &patch) == FW_SHIM_VERSION);
  CHECK(major == FW_SHIM_VERSION_MAJOR);
  CHECK(minor == FW_SHIM_VERSION_MINOR);
  CHECK(patch == FW_SHIM_VERSION_PATCH);
  CHECK(fw_version(NULL, NULL, NULL) == FW_SHIM_VERSION);
}

static void test_strerror(void) {
  for (int c = FW_OK; c <= FW_ERR_FULL; ++c) {
    const char* s = fw_strerror((fw_err_t)c);
    CHECK(s != NULL && s[0] != '\0');
  }
  CHECK(strcmp(fw_strerror((fw_err_t)999), "unknown error code") == 0);
  CHECK(fw_strerror((fw_err_t)-1) != NULL);
  CHECK(fw_err_is_retryable(FW_ERR_UNKNOWN_OUTCOME) == 1);
  CHECK(fw_err_is_retryable(FW_ERR_BOARD_DOWN) == 1);
  CHECK(fw_err_is_retryable(FW_ERR_INVALID_ARG) == 0);
  CHECK(fw_err_is_retryable(FW_ERR_ID_EXPIRED) == 0);
  CHECK(fw_err_is_retryable(FW_ERR_FULL) == 0);
  CHECK(fw_err_is_retryable(FW_OK) == 0);
  CHECK(fw_last_error() != NULL);
}

static void test_options(void) {
  fw_options_t o;
  memset(&o, 0xff, sizeof o);
  fw_options_init(&o);
  CHECK(o.endpoint == NULL);
  CHECK(o.request_timeout_ms > 0 && o.connect_timeout_ms > 0);
  CHECK(o.max_key_bytes == 1024 && o.max_value_bytes == (1u << 20));
  CHECK(o.lazy_connect == 0);
  CHECK(o.reserved_u32[0] == 0);
  CHECK(o.server_public_key == NULL && o.client_public_key == NULL && o.client_secret_key == NULL);
  fw_options_init(NULL); /* no crash */
}

/* Bad CURVE keys: FW_ERR_INVALID_ARG naming the field; good ones open. */
static void test_curve_options(void) {
  fw_options_t o;
  fw_board_t* h = NULL;
  fw_options_init(&o);
  o.endpoint = g_endpoint;
  o.lazy_connect = 1;
  o.server_public_key = "too short";
  o.client_secret_key = kClientSecret;
  CHECK_ERR(fw_open(&o, &h), FW_ERR_INVALID_ARG);
  CHECK(strstr(fw_last_error(), "server_public_key") != NULL);
  o.server_public_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7 and more";
  CHECK_ERR(fw_open(&o, &h), FW_ERR_INVALID_ARG);
  o.server_public_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]y\"7"; /* '"' is not Z85 */
  CHECK_ERR(fw_open(&o, &h), FW_ERR_INVALID_ARG);
  CHECK(strstr(fw_last_error(), "server_public_key") != NULL);
  o.server_public_key = kServerPublic;
  o.client_secret_key = NULL;
  CHECK_ERR(fw_open(&o, &h), FW_ERR_INVALID_ARG);
  CHECK(strstr(fw_last_error(), "client_secret_key") != NULL);
  o.client_secret_key = "x";
  CHECK_ERR(fw_open(&o, &h), FW_ERR_INVALID_ARG);
  CHECK(strstr(fw_last_error(), "client_secret_key") != NULL);
  o.client_secret_key = kClientSecret;
  o.client_public_key = kServerPublic; /* not the secret key's */
  CHECK_ERR(fw_open(&o, &h), FW_ERR_INVALID_ARG);
  CHECK(strstr(fw_last_error(), "client_public_key") != NULL);
  o.server_public_key = NULL; /* client keys without the board's key */
  o.client_public_key = kClientPublic;
  CHECK_ERR(fw_open(&o, &h), FW_ERR_INVALID_ARG);
  CHECK(strstr(fw_last_error(), "server_public_key") != NULL);
  CHECK(h == NULL);
  o.server_public_key = kServerPublic;
  CHECK_ERR(fw_open(&o, &h), FW_OK);
  CHECK_ERR(fw_close(h), FW_OK);
  o.client_public_key = NULL; /* derived from the secret key */
  CHECK_ERR(fw_open(&o, &h), FW_OK);
  CHECK_ERR(fw_close(h), FW_OK);
}

static void test_open_bad_args(void) {
  fw_board_t* h = (fw_board_t*)0x1;
  fw_options_t o;
  fw_options_init(&o);
  CHECK_ERR(fw_open(NULL, &h), FW_ERR_INVALID_ARG);
  CHECK(h == NULL);
  CHECK_ERR(fw_open(&o, NULL), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_open(&o, &h), FW_ERR_INVALID_ARG); /* no endpoint */
  o.endpoint = "";
  CHECK_ERR(fw_open(&o, &h), FW_ERR_INVALID_ARG);
  o.endpoint = "nonsense://x";
  CHECK_ERR(fw_open(&o, &h), FW_ERR_INVALID_ARG);
  CHECK(strstr(fw_last_error(), "nonsense://x") != NULL);
}

static void test_open_board_down(void) {
  fw_options_t o;
  fw_options_init(&o);
  o.endpoint = g_endpoint;
  o.connect_timeout_ms = 200;
  fw_board_t* h = NULL;
  double t0 = now_ms();
  CHECK_ERR(fw_open(&o, &h), FW_ERR_BOARD_DOWN);
  double took = now_ms() - t0;
  CHECK(h == NULL);
  CHECK(took < 2000);
  CHECK(strstr(fw_last_error(), "is the board process running?") != NULL);
  CHECK(strstr(fw_last_error(), g_endpoint) != NULL);
}

/* Every call with a NULL or foreign handle. */
static void test_bad_handles(void) {
  char* v = NULL;
  size_t vl = 0;
  fw_status_t st;
  fw_event_t ev;
  fw_write_result_t r;
  fw_op_t op = {FW_OP_PUT, "k", 1, "v", 1};
  fw_request_id_t id = {1, 2};
  int fd;
  long not_a_handle = 42;
  fw_board_t* foreign = (fw_board_t*)&not_a_handle;
  fw_board_t* handles[2] = {NULL, foreign};
  for (int i = 0; i < 2; ++i) {
    fw_board_t* h = handles[i];
    CHECK_ERR(fw_close(h), FW_ERR_BAD_HANDLE);
    CHECK_ERR(fw_get(h, "k", 1, FW_READ_LOCAL, &v, &vl), FW_ERR_BAD_HANDLE);
    CHECK_ERR(fw_put(h, "k", 1, "v", 1, &r), FW_ERR_BAD_HANDLE);
    CHECK_ERR(fw_delete(h, "k", 1, NULL), FW_ERR_BAD_HANDLE);
    CHECK_ERR(fw_batch(h, &op, 1, NULL), FW_ERR_BAD_HANDLE);
    CHECK_ERR(fw_batch_with_id(h, &id, &op, 1, NULL), FW_ERR_BAD_HANDLE);
    CHECK_ERR(fw_status(h, &st), FW_ERR_BAD_HANDLE);
    CHECK_ERR(fw_status_json(h, &v), FW_ERR_BAD_HANDLE);
    CHECK_ERR(fw_admin(h, "{}", &v), FW_ERR_BAD_HANDLE);
    CHECK_ERR(fw_subscribe(h, NULL, NULL, &fd), FW_ERR_BAD_HANDLE);
    CHECK_ERR(fw_next_event(h, &ev), FW_ERR_BAD_HANDLE);
    CHECK_ERR(fw_unsubscribe(h), FW_ERR_BAD_HANDLE);
  }
  CHECK(v == NULL);
  CHECK(not_a_handle == 42); /* never written through */
}

static fw_board_t* open_lazy(void) {
  fw_options_t o;
  fw_options_init(&o);
  o.endpoint = g_endpoint;
  o.connect_timeout_ms = 100;
  o.request_timeout_ms = 300;
  o.max_key_bytes = 16;
  o.max_value_bytes = 64;
  o.lazy_connect = 1;
  fw_board_t* h = NULL;
  CHECK_ERR(fw_open(&o, &h), FW_OK);
  CHECK(h != NULL);
  return h;
}

static void test_bad_keys_and_values(fw_board_t* h) {
  char* v = NULL;
  size_t vl = 0;
  char big[100];
  memset(big, 'x', sizeof big);
  CHECK_ERR(fw_get(h, NULL, 1, FW_READ_LOCAL, &v, &vl), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_get(h, "k", 0, FW_READ_LOCAL, &v, &vl), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_get(h, big, 17, FW_READ_LOCAL, &v, &vl), FW_ERR_TOO_LARGE);
  CHECK(strstr(fw_last_error(), "max_key_bytes") != NULL);
  CHECK_ERR(fw_get(h, "k", 1, (fw_read_mode_t)7, &v, &vl), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_get(h, "k", 1, FW_READ_LOCAL, NULL, &vl), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_put(h, NULL, 1, "v", 1, NULL), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_put(h, "", 0, "v", 1, NULL), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_put(h, big, 17, "v", 1, NULL), FW_ERR_TOO_LARGE);
  CHECK_ERR(fw_put(h, "k", 1, big, 65, NULL), FW_ERR_TOO_LARGE);
  CHECK(strstr(fw_last_error(), "max_value_bytes") != NULL);
  CHECK_ERR(fw_put(h, "k", 1, NULL, 5, NULL), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_delete(h, NULL, 0, NULL), FW_ERR_INVALID_ARG);
  CHECK(v == NULL);
}

static void test_bad_batches(fw_board_t* h) {
  fw_op_t ops[2] = {{FW_OP_PUT, "a", 1, "1", 1}, {(fw_op_kind_t)9, "b", 1, NULL, 0}};
  fw_request_id_t zero = {0, 0};
  fw_write_result_t r;
  CHECK_ERR(fw_batch(h, NULL, 1, &r), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_batch(h, ops, 0, &r), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_batch(h, ops, 2, &r), FW_ERR_INVALID_ARG);
  CHECK(strstr(fw_last_error(), "op 1") != NULL);
  CHECK_ERR(fw_batch_with_id(h, NULL, ops, 1, &r), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_batch_with_id(h, &zero, ops, 1, &r), FW_ERR_INVALID_ARG);
}

static void test_misc_bad_args(fw_board_t* h) {
  fw_event_t ev;
  char* out = (char*)0x1;
  CHECK_ERR(fw_status(h, NULL), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_status_json(h, NULL), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_admin(h, NULL, &out), FW_ERR_INVALID_ARG);
  CHECK(out == NULL);
  CHECK_ERR(fw_admin(h, "", &out), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_admin(h, "{}", NULL), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_next_event(h, &ev), FW_ERR_INVALID_ARG); /* not subscribed */
  CHECK_ERR(fw_next_event(h, NULL), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_unsubscribe(h), FW_ERR_INVALID_ARG);
  CHECK_ERR(fw_new_request_id(NULL), FW_ERR_INVALID_ARG);
  fw_request_id_t a, b;
  CHECK_ERR(fw_new_request_id(&a), FW_OK);
  CHECK_ERR(fw_new_request_id(&b), FW_OK);
  CHECK(a.hi != b.hi || a.lo != b.lo);
  fw_free(NULL);
}

/* A lazily opened handle with no board: every remote call is BOARD_DOWN,
 * and a write that was never sent says so (attempts 0, id filled). */
static void test_board_down_calls(fw_board_t* h) {
  char* v = NULL;
  fw_status_t st;
  fw_write_result_t r;
  int fd = 7;
  CHECK_ERR(fw_get(h, "k", 1, FW_READ_LOCAL, &v, NULL), FW_ERR_BOARD_DOWN);
  CHECK_ERR(fw_put(h, "k", 1, "v", 1, &r), FW_ERR_BOARD_DOWN);
  CHECK(r.attempts == 0);
  CHECK(r.request_id.hi != 0 || r.request_id.lo != 0);
  CHECK_ERR(fw_status(h, &st), FW_ERR_BOARD_DOWN);
  CHECK_ERR(fw_status_json(h, &v), FW_ERR_BOARD_DOWN);
  CHECK_ERR(fw_admin(h, "{\"cmd\":\"status\"}", &v), FW_ERR_BOARD_DOWN);
  CHECK_ERR(fw_subscribe(h, NULL, NULL, &fd), FW_ERR_BOARD_DOWN);
  CHECK(fd == 7); /* untouched on failure */
  CHECK(v == NULL);
}

static void test_close(fw_board_t* h) {
  char* v = NULL;
  CHECK_ERR(fw_close(h), FW_OK);
  CHECK(fw_last_error()[0] == '\0'); /* success clears the message */
  CHECK_ERR(fw_close(h), FW_ERR_CLOSED);
  CHECK_ERR(fw_get(h, "k", 1, FW_READ_LOCAL, &v, NULL), FW_ERR_CLOSED);
  CHECK_ERR(fw_put(h, "k", 1, "v", 1, NULL), FW_ERR_CLOSED);
}

int main(void) {
  strcpy(g_dir, "/tmp/fw-shim-c-XXXXXX");
  if (mkdtemp(g_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(g_endpoint, sizeof g_endpoint, "ipc://%s/no-board.client", g_dir);
  test_version();
  test_strerror();
  test_options();
  test_open_bad_args();
  test_curve_options();
  test_open_board_down();
  test_bad_handles();
  fw_board_t* h = open_lazy();
  if (h) {
    test_bad_keys_and_values(h);
    test_bad_batches(h);
    test_misc_bad_args(h);
    test_board_down_calls(h);
    test_close(h);
  }
  rmdir(g_dir);
  if (g_failures) {
    fprintf(stderr, "c_api_test: %d check(s) failed\n", g_failures);
    return 1;
  }
  printf("c_api_test: all checks passed\n");
  return 0;
}

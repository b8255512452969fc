/*
 * libnodelay_preload.so: an LD_PRELOAD interposer that sets TCP_NODELAY on
 * every TCP socket of the process.
 *
 * Why: Berkeley DB 5.3's Replication Manager never sets TCP_NODELAY (it only
 * sets SO_REUSEADDR and SO_KEEPALIVE), so Nagle plus the peer's delayed ACK
 * holds every acknowledged commit for about 40 ms. BDB has no API for it, so
 * the "best" repmgr variant of the peer benchmark forces it from outside.
 *
 * It wraps socket() (the option then survives connect() and is inherited by
 * nothing else), connect() (sockets created before the library was loaded)
 * and accept()/accept4() (accepted sockets, in case the kernel does not copy
 * the option from the listener). Non-TCP sockets are left alone.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>

typedef int (*socket_fn)(int, int, int);
typedef int (*connect_fn)(int, const struct sockaddr*, socklen_t);
typedef int (*accept_fn)(int, struct sockaddr*, socklen_t*);
typedef int (*accept4_fn)(int, struct sockaddr*, socklen_t*, int);

/* Looks the next definition up on every call: dlsym is cheap next to a
 * socket call, and this avoids any initialisation-order or threading issue. */
static void* next_symbol(const char* name) {
  void* sym = dlsym(RTLD_NEXT, name);
  if (sym == NULL) errno = ENOSYS;
  return sym;
}

/* True if fd is an IPv4/IPv6 stream socket. */
static int is_tcp_fd(int fd) {
  int domain = 0;
  int type = 0;
  socklen_t len = sizeof(domain);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return 0;
  len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return 0;
  return (domain == AF_INET || domain == AF_INET6) && type == SOCK_STREAM;
}

/* Best effort: a failure leaves the socket as the application made it. */
static void set_nodelay(int fd) {
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int socket(int domain, int type, int protocol) {
  socket_fn real = (socket_fn)next_symbol("socket");
  if (real == NULL) return -1;
  int fd = real(domain, type, protocol);
  /* SOCK_NONBLOCK and SOCK_CLOEXEC may be or-ed into type. */
  int base_type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0 && (domain == AF_INET || domain == AF_INET6) && base_type == SOCK_STREAM) {
    set_nodelay(fd);
  }
  return fd;
}

int connect(int fd, const struct sockaddr* addr, socklen_t len) {
  connect_fn real = (connect_fn)next_symbol("connect");
  if (real == NULL) return -1;
  if (is_tcp_fd(fd)) set_nodelay(fd);
  return real(fd, addr, len);
}

int accept(int fd, struct sockaddr* addr, socklen_t* len) {
  accept_fn real = (accept_fn)next_symbol("accept");
  if (real == NULL) return -1;
  int conn = real(fd, addr, len);
  if (conn >= 0 && is_tcp_fd(conn)) set_nodelay(conn);
  return conn;
}

int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  accept4_fn real = (accept4_fn)next_symbol("accept4");
  if (real == NULL) return -1;
  int conn = real(fd, addr, len, flags);
  if (conn >= 0 && is_tcp_fd(conn)) set_nodelay(conn);
  return conn;
}

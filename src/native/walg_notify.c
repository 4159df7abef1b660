/*
 * walg_notify: systemd's notification protocol for `wal-g daemon`, part of the walg_native addon (walg_native.c
 * registers it). Node.js has no UNIX datagram sockets (node:dgram is udp4/udp6 only), so this one call is native.
 *
 *   sdNotify(socketPath, state) -> boolean   sends `state` (e.g. "READY=1", "WATCHDOG=1") as one datagram to
 *                                            socketPath: a filesystem path, or "@name" for the abstract namespace
 *                                            (as NOTIFY_SOCKET gives it); true once sent, false when it could not
 *                                            be (the errno is not reported: notification is best effort)
 *
 * Synchronous: one non-blocking sendto of a few bytes, as sd_notify(3) does it.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int send_notification(const char *path, size_t plen, const char *state, size_t slen) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (plen == 0 || plen >= sizeof addr.sun_path) return 0;
  memcpy(addr.sun_path, path, plen);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + (path[0] == '@' ? 0 : 1));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return 0;
  ssize_t n = sendto(fd, state, slen, MSG_NOSIGNAL, (struct sockaddr *)&addr, alen);
  close(fd);
  return n == (ssize_t)slen;
}

static napi_value sd_notify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  char state[1024];
  size_t plen = 0, slen = 0;
  if (argc < 2 || napi_get_value_string_utf8(env, args[0], path, sizeof path, &plen) != napi_ok ||
      napi_get_value_string_utf8(env, args[1], state, sizeof state, &slen) != napi_ok) {
    napi_throw_type_error(env, NULL, "sdNotify(socketPath: string, state: string)");
    return NULL;
  }
  napi_value out;
  if (napi_get_boolean(env, send_notification(path, plen, state, slen), &out) != napi_ok) return NULL;
  return out;
}

int walg_notify_init(napi_env env, napi_value exports);

/* Adds sdNotify to the addon's exports; returns 0 on failure. */
int walg_notify_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"sdNotify", NULL, sd_notify, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, 1, props) == napi_ok;
}

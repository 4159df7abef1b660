/*
 * walg_archive: a PostgreSQL 15+ archive module (archive_library = 'walg_archive') that hands each WAL file to a
 * running `wal-g daemon` over its UNIX socket, without starting a process per file (issue 15).
 *
 *   archive_library = 'walg_archive'
 *   walg_archive.socket = '/run/wal-g/daemon.sock'    the daemon's socket (required; empty = not configured)
 *   walg_archive.timeout = 60s                         deadline for one request once connected
 *   walg_archive.connection_timeout = 5s               deadline for connecting
 *
 * For every file the archiver hands over it sends one wal-push request in the daemon wire protocol
 * (src/pg/daemon/protocol.ts): 'F', a big-endian uint16 total length counting the 3 header bytes, and the file name
 * (%f, as WAL-G documents `walg-daemon-client <socket> wal-push %f`: the daemon finds it under its PGDATA/pg_wal).
 * It reports success only when the daemon answers 'O'. Any other reply, a closed connection, a timeout or a missing
 * daemon is a WARNING in the server log and a failed attempt: the archiver retries the file as it does after a
 * failed archive_command. Waits are sliced so that a shutdown or postmaster death interrupts them.
 */
#include "postgres.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/pmsignal.h"
#include "utils/guc.h"
#if PG_VERSION_NUM >= 160000
#include "archive/archive_module.h"
#else
#include "postmaster/pgarch.h"
#endif

PG_MODULE_MAGIC;

static char *walg_socket = NULL;
static int walg_timeout_s = 60;
static int walg_connection_timeout_s = 5;

void _PG_init(void);

/* Registers the settings (reloadable with pg_reload_conf / SIGHUP). */
void _PG_init(void) {
    DefineCustomStringVariable("walg_archive.socket", "UNIX socket of the wal-g daemon that archives WAL files.",
                               NULL, &walg_socket, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
    DefineCustomIntVariable("walg_archive.timeout", "Deadline for one wal-push request to the daemon once connected.",
                            NULL, &walg_timeout_s, 60, 1, 86400, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
    DefineCustomIntVariable("walg_archive.connection_timeout", "Deadline for connecting to the daemon's socket.",
                            NULL, &walg_connection_timeout_s, 5, 1, 3600, PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
    MarkGUCPrefixReserved("walg_archive");
}

static int64 now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` until `deadline` (monotonic ms), in slices that check for interrupts. 1 ready, 0 timeout. */
static int wait_socket(int fd, short events, int64 deadline) {
    for (;;) {
        int64 left = deadline - now_ms();
        struct pollfd pfd;
        int r;
        if (left <= 0) return 0;
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        r = poll(&pfd, 1, left > 500 ? 500 : (int) left);
        if (r > 0) return 1;
        if (r < 0 && errno != EINTR) return -1;
        if (!PostmasterIsAlive()) return -1;
        CHECK_FOR_INTERRUPTS();
    }
}

/* Connects to the socket. Returns the descriptor, or -1 with a message in `why`. */
static int connect_daemon(char *why, size_t whysize) {
    struct sockaddr_un addr;
    int fd;
    int64 deadline = now_ms() + (int64) walg_connection_timeout_s * 1000;
    size_t len = strlen(walg_socket);
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (len >= sizeof addr.sun_path) {
        snprintf(why, whysize, "socket path is longer than %zu bytes", sizeof addr.sun_path - 1);
        return -1;
    }
    memcpy(addr.sun_path, walg_socket, len);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, whysize, "socket: %s", strerror(errno));
        return -1;
    }
    for (;;) {
        if (connect(fd, (struct sockaddr *) &addr, sizeof addr) == 0) return fd;
        if (errno == EINTR) continue;
        if (errno == EAGAIN && now_ms() < deadline) {
            /* A full listen backlog: retry until the connection deadline. */
            pg_usleep(5000);
            CHECK_FOR_INTERRUPTS();
            continue;
        }
        snprintf(why, whysize, "connect: %s", errno == EAGAIN ? "timed out" : strerror(errno));
        close(fd);
        return -1;
    }
}

/* One wal-push exchange. Returns the reply byte, or -1 with a message in `why`. */
static int push_to_daemon(const char *file, char *why, size_t whysize) {
    unsigned char msg[3 + MAXPGPATH];
    size_t len = strlen(file), off = 0;
    int64 deadline;
    int fd;
    if (len + 3 > sizeof msg) {
        snprintf(why, whysize, "file name too long");
        return -1;
    }
    msg[0] = 'F';
    msg[1] = (unsigned char) ((len + 3) >> 8);
    msg[2] = (unsigned char) (len + 3);
    memcpy(msg + 3, file, len);
    fd = connect_daemon(why, whysize);
    if (fd < 0) return -1;
    deadline = now_ms() + (int64) walg_timeout_s * 1000;
    while (off < len + 3) {
        ssize_t n = send(fd, msg + off, len + 3 - off, MSG_NOSIGNAL);
        if (n >= 0) { off += (size_t) n; continue; }
        if (errno == EINTR) continue;
        if (errno == EAGAIN && wait_socket(fd, POLLOUT, deadline) == 1) continue;
        snprintf(why, whysize, "write: %s", errno == EAGAIN ? "timed out" : strerror(errno));
        close(fd);
        return -1;
    }
    for (;;) {
        unsigned char reply;
        ssize_t n = recv(fd, &reply, 1, 0);
        int w;
        if (n == 1) { close(fd); return reply; }
        if (n == 0) { snprintf(why, whysize, "the daemon closed the connection without a reply"); break; }
        if (errno == EINTR) continue;
        if (errno != EAGAIN) { snprintf(why, whysize, "read: %s", strerror(errno)); break; }
        w = wait_socket(fd, POLLIN, deadline);
        if (w == 1) continue;
        snprintf(why, whysize, w == 0 ? "no reply within walg_archive.timeout (%d s)" : "interrupted", walg_timeout_s);
        break;
    }
    close(fd);
    return -1;
}

/* Archives one file: true only when the daemon answered 'O'. */
static bool walg_archive_file(const char *file) {
    char why[256];
    int reply = push_to_daemon(file, why, sizeof why);
    if (reply == 'O') return true;
    if (reply < 0) {
        ereport(WARNING, (errmsg("walg_archive: archiving \"%s\" through \"%s\" failed: %s", file, walg_socket, why)));
    } else {
        ereport(WARNING, (errmsg("walg_archive: the daemon at \"%s\" answered '%c' for \"%s\"", walg_socket,
                                 reply >= 0x20 && reply < 0x7f ? reply : '?', file)));
    }
    return false;
}

#if PG_VERSION_NUM >= 160000
static bool check_configured(ArchiveModuleState *state) {
    return walg_socket != NULL && walg_socket[0] != '\0';
}
static bool archive_file(ArchiveModuleState *state, const char *file, const char *path) {
    return walg_archive_file(file);
}
static const ArchiveModuleCallbacks callbacks = {
    .check_configured_cb = check_configured,
    .archive_file_cb = archive_file,
};
const ArchiveModuleCallbacks *_PG_archive_module_init(void);
/* The archiver's entry point (PostgreSQL 16+). */
const ArchiveModuleCallbacks *_PG_archive_module_init(void) {
    return &callbacks;
}
#else
static bool check_configured(void) {
    return walg_socket != NULL && walg_socket[0] != '\0';
}
static bool archive_file(const char *file, const char *path) {
    return walg_archive_file(file);
}
void _PG_archive_module_init(ArchiveModuleCallbacks *cb);
/* The archiver's entry point (PostgreSQL 15). */
void _PG_archive_module_init(ArchiveModuleCallbacks *cb) {
    cb->check_configured_cb = check_configured;
    cb->archive_file_cb = archive_file;
    cb->shutdown_cb = NULL;
}
#endif

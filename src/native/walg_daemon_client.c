/*
 * walg-daemon-client: the native front end of `wal-g daemon` for archive_command / restore_command (issue 15).
 *
 *   walg-daemon-client <socket> wal-push <wal_filepath>            [-timeout d] [-connection-timeout d]
 *   walg-daemon-client <socket> wal-fetch <wal_name> <destination> [-timeout d] [-connection-timeout d]
 *   walg-daemon-client --version
 *
 * One request per connection, in the daemon wire protocol (src/pg/daemon/protocol.ts): a type byte ('F' wal-push,
 * 'f' wal-fetch), a big-endian uint16 total length counting the 3 header bytes, then the body (the raw argument for
 * one argument; a count byte and uint16-length-prefixed arguments for two). The daemon answers one byte.
 *
 * It prints and exits exactly as `wal-g daemon-client` (src/commands/pg/daemon-client.ts, itself matched to WAL-G's
 * walg-daemon-client): 0 on 'O'; on 'N' the reply error on stdout and exit 74 (EX_IOERR); any other failure one Go
 * `log` line ("YYYY/MM/DD HH:MM:SS message", local time) on stderr and exit 1; usage errors Go flag's output on
 * stderr, the usage text on stdout, exit 1. Flags follow Go's flag package and time.ParseDuration.
 * libc only; the version comes from -DWALG_VERSION at build time (the Makefile reads package.json).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef WALG_VERSION
#define WALG_VERSION "0.0.0"
#endif

#define EX_IOERR 74
#define MAX_UINT16 0xffff

static const char FLAG_DEFAULTS[] =
    "  -connection-timeout duration\n    \tdaemon socket connection timeout (default 5s)\n"
    "  -timeout duration\n    \tdaemon operation execution timeout (default 1m0s)\n";

/* A usage failure: message, and what Go's flag package printed first (0 none, 1 error, 2 -h). */
struct usage_error {
    char message[600];
    const char *command_usage; /* "wal-fetch wal_name destination_filename" when a known command lacks arguments */
    int flag_parse;
};

struct request {
    const char *socket_path;
    char type;
    const char *args[2];
    int nargs;
    int64_t timeout_ns;
    int64_t connection_timeout_ns;
};

/* compat: a line of Go's standard log package (log.Fatal): local time, the message, one newline. */
static void go_log(const char *fmt, ...) {
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y/%m/%d %H:%M:%S ", &tm);
    static char msg[MAX_UINT16 + 1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = strlen(msg);
    fprintf(stderr, "%s%s%s", ts, msg, (n > 0 && msg[n - 1] == '\n') ? "" : "\n");
}

/* compat: Go's syscall error texts are glibc's with a lower-case first letter (a few differ). */
static const char *go_errno_text(int err, char *buf, size_t size) {
    switch (err) {
    case ETIMEDOUT: return "connection timed out";
    case EAGAIN: return "resource temporarily unavailable";
    default: break;
    }
    snprintf(buf, size, "%s", strerror(err));
    if (buf[0] >= 'A' && buf[0] <= 'Z') buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

/* compat: Go's time.ParseDuration. Returns 0 and sets *out, or -1 for anything Go rejects. */
static int parse_go_duration(const char *s, int64_t *out) {
    static const struct { const char *name; uint64_t ns; } units[] = {
        {"ns", 1ULL}, {"us", 1000ULL}, {"\xc2\xb5s", 1000ULL}, {"\xce\xbcs", 1000ULL},
        {"ms", 1000000ULL}, {"s", 1000000000ULL}, {"m", 60000000000ULL}, {"h", 3600000000000ULL},
    };
    const uint64_t limit = 1ULL << 63;
    int neg = 0;
    if (*s == '-' || *s == '+') { neg = *s == '-'; s++; }
    if (strcmp(s, "0") == 0) { *out = 0; return 0; }
    if (*s == '\0') return -1;
    uint64_t d = 0;
    while (*s) {
        if (!(*s == '.' || (*s >= '0' && *s <= '9'))) return -1;
        uint64_t v = 0, f = 0;
        double scale = 1.0;
        const char *p = s;
        while (*s >= '0' && *s <= '9') {
            if (v > (limit - 1) / 10) return -1;
            v = v * 10 + (uint64_t)(*s - '0');
            if (v > limit) return -1;
            s++;
        }
        int pre = s != p, post = 0;
        if (*s == '.') {
            s++;
            p = s;
            int overflow = 0;
            while (*s >= '0' && *s <= '9') {
                if (!overflow) {
                    if (f > (limit - 1) / 10) overflow = 1;
                    else { f = f * 10 + (uint64_t)(*s - '0'); scale *= 10; }
                }
                s++;
            }
            post = s != p;
        }
        if (!pre && !post) return -1;
        p = s;
        while (*s && !(*s == '.' || (*s >= '0' && *s <= '9'))) s++;
        size_t ulen = (size_t)(s - p);
        if (ulen == 0) return -1;
        uint64_t unit = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            if (strlen(units[i].name) == ulen && memcmp(units[i].name, p, ulen) == 0) { unit = units[i].ns; break; }
        }
        if (unit == 0) return -1;
        if (v > limit / unit) return -1;
        v *= unit;
        if (f > 0) {
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > limit) return -1;
        }
        d += v;
        if (d > limit) return -1;
    }
    if (neg) { *out = d == limit ? INT64_MIN : -(int64_t)d; return 0; }
    if (d > limit - 1) return -1;
    *out = (int64_t)d;
    return 0;
}

/* compat: Go's %q of a flag value (strconv.Quote for the printable ASCII case; other bytes as \xNN). */
static void go_quote(const char *v, char *out, size_t size) {
    size_t o = 0;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)v; *p && o + 6 < size; p++) {
        if (*p == '"' || *p == '\\') { out[o++] = '\\'; out[o++] = (char)*p; }
        else if (*p == '\a') { out[o++] = '\\'; out[o++] = 'a'; }
        else if (*p == '\b') { out[o++] = '\\'; out[o++] = 'b'; }
        else if (*p == '\f') { out[o++] = '\\'; out[o++] = 'f'; }
        else if (*p == '\n') { out[o++] = '\\'; out[o++] = 'n'; }
        else if (*p == '\r') { out[o++] = '\\'; out[o++] = 'r'; }
        else if (*p == '\t') { out[o++] = '\\'; out[o++] = 't'; }
        else if (*p == '\v') { out[o++] = '\\'; out[o++] = 'v'; }
        else if (*p < 0x20 || *p == 0x7f) o += (size_t)snprintf(out + o, size - o, "\\x%02x", *p);
        else out[o++] = (char)*p;
    }
    out[o++] = '"';
    out[o] = '\0';
}

static int usage_fail(struct usage_error *e, int flag_parse, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->flag_parse = flag_parse;
    return -1;
}

/* Go's flag.FlagSet.Parse over the words after the command's arguments; stops at the first non-flag. */
static int parse_flags(int argc, char **argv, struct request *req, struct usage_error *e) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strlen(a) < 2 || a[0] != '-') break;
        const char *body = a + 1;
        if (a[1] == '-') {
            if (a[2] == '\0') break;
            body = a + 2;
        }
        if (body[0] == '\0' || body[0] == '-' || body[0] == '=') return usage_fail(e, 1, "bad flag syntax: %s", a);
        const char *eq = strchr(body + 1, '=');
        size_t nlen = eq ? (size_t)(eq - body) : strlen(body);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(nlen < 255 ? nlen : 255), body);
        int is_timeout = strcmp(name, "timeout") == 0, is_conn = strcmp(name, "connection-timeout") == 0;
        if (!is_timeout && !is_conn) {
            if (strcmp(name, "h") == 0 || strcmp(name, "help") == 0) return usage_fail(e, 2, "flag: help requested");
            return usage_fail(e, 1, "flag provided but not defined: -%s", name);
        }
        const char *value;
        if (eq) value = eq + 1;
        else {
            if (i + 1 >= argc) return usage_fail(e, 1, "flag needs an argument: -%s", name);
            value = argv[++i];
        }
        int64_t ns;
        if (parse_go_duration(value, &ns) != 0) {
            char q[520];
            go_quote(value, q, sizeof q);
            return usage_fail(e, 1, "invalid value %s for flag -%s: parse error", q, name);
        }
        if (is_timeout) req->timeout_ns = ns; else req->connection_timeout_ns = ns;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct request *req, struct usage_error *e) {
    memset(req, 0, sizeof *req);
    req->timeout_ns = 60LL * 1000000000LL;
    req->connection_timeout_ns = 5LL * 1000000000LL;
    if (argc < 2) return usage_fail(e, 0, "not enough arguments");
    char command[256];
    snprintf(command, sizeof command, "%s", argv[1]);
    for (char *c = command; *c; c++) if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    int need;
    if (strcmp(command, "wal-push") == 0) { req->type = 'F'; need = 1; e->command_usage = "wal-push wal_filepath"; }
    else if (strcmp(command, "wal-fetch") == 0) {
        req->type = 'f'; need = 2; e->command_usage = "wal-fetch wal_name destination_filename";
    } else {
        e->command_usage = NULL;
        return usage_fail(e, 0, "unsupported command %s", command);
    }
    if (argc < 2 + need) return usage_fail(e, 0, "not enough command arguments");
    e->command_usage = NULL;
    req->socket_path = argv[0];
    req->nargs = need;
    for (int i = 0; i < need; i++) req->args[i] = argv[2 + i];
    return parse_flags(argc - 2 - need, argv + 2 + need, req, e);
}

static void print_usage(const struct usage_error *e) {
    if (e->flag_parse == 1) fprintf(stderr, "%s\nUsage:\n%s", e->message, FLAG_DEFAULTS);
    else if (e->flag_parse == 2) fprintf(stderr, "Usage:\n%s", FLAG_DEFAULTS);
    fflush(stderr);
    printf("Error: %s\n\nwalg-daemon-client is lightweight client for WAL-G daemon\n\nUsage:\n", e->message);
    printf("  walg-daemon-client socket %s [flags]\n", e->command_usage ? e->command_usage : "command [command_args]");
    if (!e->command_usage) {
        printf("\nArguments:\n  socket\t- name of unix socket to communicate with wal-g daemon\n"
               "  command\t- command to send to the daemon: wal-push, wal-fetch\n"
               "  command_args\t- command specific arguments\n");
    }
    printf("\nFlags:\n");
    fflush(stdout);
    fputs(FLAG_DEFAULTS, stderr);
}

/* compat: daemon.getMessage / ArgsToBytes. Returns the length, or -1 with *err set to WAL-G's message. */
static long encode_message(const struct request *req, unsigned char *buf, size_t size, char *err, size_t errsize) {
    size_t body = 0;
    unsigned char *p = buf + 3;
    if (req->nargs == 1) {
        size_t len = strlen(req->args[0]);
        if (len + 3 > MAX_UINT16) {
            snprintf(err, errsize, "unsupported arg size: message length %zu exceeds uint16 max", len + 3);
            return -1;
        }
        memcpy(p, req->args[0], len);
        body = len;
    } else {
        p[0] = (unsigned char)req->nargs;
        body = 1;
        for (int i = 0; i < req->nargs; i++) {
            size_t len = strlen(req->args[i]);
            if (len > MAX_UINT16) { snprintf(err, errsize, "unsupported arg size"); return -1; }
            if (3 + body + 2 + len > size) { snprintf(err, errsize, "unsupported total args size"); return -1; }
            p[body] = (unsigned char)(len >> 8);
            p[body + 1] = (unsigned char)len;
            memcpy(p + body + 2, req->args[i], len);
            body += 2 + len;
            if (body > (size_t)(MAX_UINT16 - 1 - 2 * req->nargs)) {
                snprintf(err, errsize, "unsupported total args size");
                return -1;
            }
        }
    }
    if (body + 3 > MAX_UINT16) { snprintf(err, errsize, "unsupported total args size"); return -1; }
    buf[0] = (unsigned char)req->type;
    buf[1] = (unsigned char)((body + 3) >> 8);
    buf[2] = (unsigned char)(body + 3);
    return (long)(body + 3);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits for `events` on fd until `deadline` (monotonic ns). 1 ready, 0 timed out, -1 error (errno). */
static int wait_fd(int fd, short events, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - now_ns();
        if (left <= 0) return 0;
        int ms = left / 1000000 + 1 > 1000000000 ? 1000000000 : (int)(left / 1000000 + 1);
        struct pollfd pfd = {fd, events, 0};
        int r = poll(&pfd, 1, ms);
        if (r > 0) return 1;
        if (r < 0 && errno != EINTR) return -1;
    }
}

static int64_t deadline_after(int64_t ns) {
    int64_t t = now_ns();
    return ns > INT64_MAX - t ? INT64_MAX : t + ns;
}

/* Connects within the connection timeout. Returns the descriptor, or -1 after logging Go's dial error. */
static int dial(const struct request *req) {
    const char *path = req->socket_path;
    if (req->connection_timeout_ns <= 0) {
        go_log("unix socket dial error: dial unix %s: i/o timeout", path);
        return -1;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path) {
        go_log("unix socket dial error: dial unix %s: connect: invalid argument", path);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    char eb[128];
    if (fd < 0) {
        go_log("unix socket dial error: dial unix %s: socket: %s", path, go_errno_text(errno, eb, sizeof eb));
        return -1;
    }
    int64_t deadline = deadline_after(req->connection_timeout_ns);
    for (;;) {
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EINPROGRESS) break;
        /* A full listen backlog (EAGAIN on a unix socket): retry until the connection deadline. */
        if (errno == EINPROGRESS) {
            int r = wait_fd(fd, POLLOUT, deadline);
            if (r == 1) {
                int soerr = 0;
                socklen_t len = sizeof soerr;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
                if (soerr == 0) return fd;
                errno = soerr;
                break;
            }
            if (r == 0) errno = ETIMEDOUT;
            break;
        }
        if (now_ns() >= deadline) { errno = ETIMEDOUT; break; }
        struct timespec pause = {0, 5000000};
        nanosleep(&pause, NULL);
    }
    int err = errno;
    close(fd);
    if (err == ETIMEDOUT) go_log("unix socket dial error: dial unix %s: i/o timeout", path);
    else go_log("unix socket dial error: dial unix %s: connect: %s", path, go_errno_text(err, eb, sizeof eb));
    return -1;
}

/* Sends the request and reads the reply byte before the operation deadline. Returns the byte, or -1 (logged). */
static int exchange(int fd, const struct request *req) {
    const char *path = req->socket_path;
    char eb[128];
    if (req->timeout_ns <= 0) { go_log("unix socket write error: write unix @->%s: i/o timeout", path); return -1; }
    int64_t deadline = deadline_after(req->timeout_ns);
    static unsigned char msg[MAX_UINT16 + 8];
    char err[128];
    long len = encode_message(req, msg, sizeof msg, err, sizeof err);
    if (len < 0) { go_log("%s", err); return -1; }
    long off = 0;
    while (off < len) {
        ssize_t n = send(fd, msg + off, (size_t)(len - off), MSG_NOSIGNAL);
        if (n >= 0) { off += n; continue; }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
            int r = wait_fd(fd, POLLOUT, deadline);
            if (r == 1) continue;
            if (r == 0) { go_log("unix socket write error: write unix @->%s: i/o timeout", path); return -1; }
        }
        go_log("unix socket write error: write unix @->%s: write: %s", path, go_errno_text(errno, eb, sizeof eb));
        return -1;
    }
    for (;;) {
        unsigned char reply;
        ssize_t n = recv(fd, &reply, 1, 0);
        if (n == 1) return reply;
        if (n == 0) { go_log("unix socket read error: EOF"); return -1; }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
            int r = wait_fd(fd, POLLIN, deadline);
            if (r == 1) continue;
            if (r == 0) { go_log("unix socket read error: read unix @->%s: i/o timeout", path); return -1; }
        }
        go_log("unix socket read error: read unix @->%s: read: %s", path, go_errno_text(errno, eb, sizeof eb));
        return -1;
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcasecmp(argv[1], "--version") == 0) {
        printf("walg-daemon-client\tv%s\tdevel\tdevel\n", WALG_VERSION);
        return 0;
    }
    struct request req;
    struct usage_error ue;
    memset(&ue, 0, sizeof ue);
    if (parse_args(argc - 1, argv + 1, &req, &ue) != 0) {
        print_usage(&ue);
        return 1;
    }
    struct stat st;
    char eb[128];
    if (stat(req.socket_path, &st) != 0) {
        go_log("daemon socket '%s' doesn't exist or is unavailable:\n\tstat %s: %s", req.socket_path, req.socket_path,
               go_errno_text(errno, eb, sizeof eb));
        return 1;
    }
    int fd = dial(&req);
    if (fd < 0) return 1;
    int reply = exchange(fd, &req);
    close(fd);
    if (reply < 0) return 1;
    if (reply == 'O') return 0;
    /* compat: Go formats the []string arguments as "[a b]", and string(byte) of a reply byte as UTF-8. */
    static char text[MAX_UINT16 + 256];
    char r[3] = {(char)reply, 0, 0};
    if (reply >= 0x80) { r[0] = (char)(0xc0 | (reply >> 6)); r[1] = (char)(0x80 | (reply & 0x3f)); }
    if (req.nargs == 1) {
        snprintf(text, sizeof text, "daemon command run error [message type: %c, args: [%s], daemon response: %s]",
                 req.type, req.args[0], r);
    } else {
        snprintf(text, sizeof text, "daemon command run error [message type: %c, args: [%s %s], daemon response: %s]",
                 req.type, req.args[0], req.args[1], r);
    }
    if (reply == 'N') {
        printf("%s\n", text);
        return EX_IOERR;
    }
    go_log("%s", text);
    return 1;
}

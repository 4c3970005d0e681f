/* Fan-out load client: S WebSocket subscribers on one epoll loop, measuring delivery latency.
 *
 *   fanout_client --port P --path /v1/workspaces/W/live --subscribers S
 *                 [--header "Authorization: Bearer K"] [--socketio] [--connect-concurrency 200]
 *
 * Opens S connections (handshake, masked client frames, unmasked server frames of any length,
 * fragmented messages reassembled), answers pings. Prints "ready <connected>" on stdout once every
 * subscriber is subscribed (its first text message: orderlog's snapshot, the peer's hello; for
 * socket.io the namespace connect "40" after engine.io's open packet). Then reads one line on stdin:
 * "<window start ns> <window end ns> <stop ns>" (CLOCK_REALTIME). Until stop it counts every event
 * of every text message: each event carries its publish time as "t":<ns> in the order's metadata
 * (batch frames hold several; snapshot frames are not events and are skipped), and events whose t
 * is inside the window go into a latency histogram (1% buckets). Prints one JSON object.
 *
 * socket.io: the engine.io v4 text protocol over WebSocket ("/socket.io/?EIO=4&transport=websocket"):
 * "0{...}" open -> send "40"; "40{...}" connected; "2" ping -> send "3"; "42[...]" events.
 */
#include "common.h"

#include <math.h>
#include <sys/epoll.h>

enum { CONNECTING, HANDSHAKE, OPEN, CLOSED };

typedef struct {
    int fd, state, msgs, subscribed;
    unsigned char *buf; /* bytes read, not yet parsed */
    size_t len, cap;
    unsigned char *msg; /* a fragmented message being reassembled */
    size_t mlen, mcap;
    int mop;
} conn_t;

#define NBUCKET 2400
static long long hist[NBUCKET];
static long long in_window, total_events, late_over_max;
static int64_t lat_max;
static int64_t w_start = INT64_MAX, w_end = INT64_MAX, stop_at = INT64_MAX;
static int socketio, ready_msgs = 1;
static long long subscribed_count, closed_by_server, frames;

static void grow(unsigned char **p, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    *p = realloc(*p, c);
    if (!*p) {
        perror("realloc");
        exit(2);
    }
    *cap = c;
}

/* A masked (zero key) client frame. */
static void send_frame(conn_t *c, int opcode, const char *data, size_t n) {
    unsigned char hdr[8];
    size_t h = 0;
    hdr[h++] = (unsigned char)(0x80 | opcode);
    hdr[h++] = (unsigned char)(0x80 | n); /* control frames and our texts are < 126 bytes */
    memset(hdr + h, 0, 4);
    h += 4;
    char out[160];
    memcpy(out, hdr, h);
    memcpy(out + h, data, n);
    if (write_all(c->fd, out, h + n) < 0) c->state = CLOSED;
}

static void record(int64_t t) {
    total_events++;
    if (t < w_start || t >= w_end) return;
    int64_t lat = now_ns() - t;
    if (lat < 0) lat = 0;
    in_window++;
    if (lat > lat_max) lat_max = lat;
    int b = (int)(log((double)lat / 1000.0 + 1.0) * 100.0);
    if (b >= NBUCKET) {
        b = NBUCKET - 1;
        late_over_max++;
    }
    hist[b]++;
}

static double bucket_ms(int b) { return (exp((b + 1) / 100.0) - 1.0) / 1000.0; }

static double pct_ms(double p) {
    if (!in_window) return 0;
    long long want = (long long)(p * (double)in_window), seen = 0;
    for (int b = 0; b < NBUCKET; b++) {
        seen += hist[b];
        if (seen > want) return bucket_ms(b);
    }
    return bucket_ms(NBUCKET - 1);
}

/* Every "t":<digits> (or \"t\":<digits> inside a JSON string) of a message is one event. */
static void count_events(const unsigned char *m, size_t n) {
    static const char snap[] = "{\"type\":\"snapshot\"";
    if (n >= sizeof snap - 1 && !memcmp(m, snap, sizeof snap - 1)) return;
    const unsigned char *p = m, *end = m + n;
    while ((p = memmem(p, (size_t)(end - p), "\"t", 2)) != NULL) {
        p += 2;
        if (p < end && *p == '\\') p++;
        if (p + 1 < end && p[0] == '"' && p[1] == ':') {
            p += 2;
            while (p < end && *p == ' ') p++;
            int64_t v = 0;
            int digits = 0;
            while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0'), digits++;
            if (digits >= 15) record(v);
        }
    }
}

static void on_message(conn_t *c, const unsigned char *m, size_t n) {
    frames++;
    c->msgs++;
    if (socketio) {
        if (n >= 1 && m[0] == '0') {
            send_frame(c, 1, "40", 2);
            return;
        }
        if (n == 1 && m[0] == '2') {
            send_frame(c, 1, "3", 1);
            return;
        }
    }
    if (!c->subscribed && c->msgs >= ready_msgs) {
        c->subscribed = 1;
        subscribed_count++;
    }
    count_events(m, n);
}

/* Parses complete frames out of c->buf. */
static void parse(conn_t *c) {
    size_t off = 0;
    for (;;) {
        unsigned char *b = c->buf + off;
        size_t avail = c->len - off;
        if (avail < 2) break;
        int fin = b[0] & 0x80, op = b[0] & 0x0f;
        uint64_t n = b[1] & 0x7f;
        size_t h = 2;
        if (n == 126) {
            if (avail < 4) break;
            n = ((uint64_t)b[2] << 8) | b[3];
            h = 4;
        } else if (n == 127) {
            if (avail < 10) break;
            n = 0;
            for (int i = 0; i < 8; i++) n = (n << 8) | b[2 + i];
            h = 10;
        }
        if (b[1] & 0x80) h += 4; /* servers do not mask; tolerate it anyway (no unmasking) */
        if (avail < h + n) {
            grow(&c->buf, &c->cap, off + h + n); /* b may move: recomputed next round */
            break;
        }
        unsigned char *payload = b + h;
        if (op == 8) {
            closed_by_server++;
            c->state = CLOSED;
            return;
        } else if (op == 9) {
            send_frame(c, 10, (const char *)payload, n < 125 ? n : 125);
        } else if (op == 1 || op == 2 || op == 0) {
            if (op != 0 && fin) {
                on_message(c, payload, n);
            } else {
                if (op != 0) {
                    c->mlen = 0;
                    c->mop = op;
                }
                grow(&c->msg, &c->mcap, c->mlen + n);
                memcpy(c->msg + c->mlen, payload, n);
                c->mlen += n;
                if (fin) on_message(c, c->msg, c->mlen);
            }
        }
        off += h + n;
    }
    if (off) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
}

int main(int argc, char **argv) {
    int port = 0, subs = 100, concurrency = 200;
    const char *path = "/", *header = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--socketio")) {
            socketio = 1;
            ready_msgs = 2;
            continue;
        }
        i++;
        if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--path")) path = v;
        else if (!strcmp(a, "--subscribers")) subs = atoi(v);
        else if (!strcmp(a, "--header")) header = v;
        else if (!strcmp(a, "--connect-concurrency")) concurrency = atoi(v);
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
    }
    struct rlimit rl = {(rlim_t)subs + 64, (rlim_t)subs + 64};
    setrlimit(RLIMIT_NOFILE, &rl);
    char req[1024];
    int reqlen = snprintf(req, sizeof req,
                          "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n%s%s\r\n",
                          path, port, header ? header : "", header ? "\r\n" : "");
    conn_t *cs = calloc((size_t)subs, sizeof *cs);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
    int started = 0, handshaking = 0, failed = 0, printed_ready = 0;
    double cpu0 = self_cpu_s();
    int64_t t_begin = mono_ns(), connect_deadline = t_begin + 120000000000LL;
    struct epoll_event evs[512];
    char line[256];
    size_t line_len = 0;
    for (;;) {
        while (started < subs && handshaking < concurrency) {
            conn_t *c = &cs[started++];
            c->fd = connect_loopback(port, 0);
            c->state = CONNECTING;
            handshaking++;
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        }
        if (!printed_ready &&
            (subscribed_count + failed >= subs || mono_ns() > connect_deadline)) {
            printf("ready %lld\n", subscribed_count);
            fflush(stdout);
            printed_ready = 1;
        }
        int64_t now = now_ns();
        if (now >= stop_at) break;
        int n = epoll_wait(ep, evs, 512, 50);
        for (int e = 0; e < n; e++) {
            conn_t *c = evs[e].data.ptr;
            if (!c) { /* the window line on stdin */
                ssize_t r = read(0, line + line_len, sizeof line - 1 - line_len);
                if (r <= 0) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
                    if (stop_at == INT64_MAX) stop_at = now_ns();
                    continue;
                }
                line_len += (size_t)r;
                line[line_len] = 0;
                if (strchr(line, '\n')) {
                    long long a, b, s;
                    if (sscanf(line, "%lld %lld %lld", &a, &b, &s) == 3) {
                        w_start = a;
                        w_end = b;
                        stop_at = s;
                    }
                }
                continue;
            }
            if (c->state == CLOSED) continue;
            if (c->state == CONNECTING) {
                if (evs[e].events & (EPOLLERR | EPOLLHUP)) {
                    c->state = CLOSED;
                    failed++;
                    handshaking--;
                    close(c->fd);
                    continue;
                }
                if (write_all(c->fd, req, (size_t)reqlen) < 0) {
                    c->state = CLOSED;
                    failed++;
                    handshaking--;
                    close(c->fd);
                    continue;
                }
                c->state = HANDSHAKE;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                continue;
            }
            for (;;) {
                grow(&c->buf, &c->cap, c->len + 65536);
                ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
                if (r < 0 && errno == EAGAIN) break;
                if (r <= 0) {
                    if (c->state == HANDSHAKE) {
                        failed++;
                        handshaking--;
                    } else {
                        closed_by_server++;
                    }
                    c->state = CLOSED;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    break;
                }
                c->len += (size_t)r;
                if (c->state == HANDSHAKE) {
                    unsigned char *hend = memmem(c->buf, c->len, "\r\n\r\n", 4);
                    if (!hend) continue;
                    handshaking--;
                    if (c->len < 12 || memcmp(c->buf + 9, "101", 3) != 0) {
                        if (failed < 3) fprintf(stderr, "handshake refused: %.*s\n", 120, c->buf);
                        failed++;
                        c->state = CLOSED;
                        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                        close(c->fd);
                        break;
                    }
                    size_t hl = (size_t)(hend + 4 - c->buf);
                    memmove(c->buf, c->buf + hl, c->len - hl);
                    c->len -= hl;
                    c->state = OPEN;
                }
                parse(c);
                if (c->state == CLOSED) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    break;
                }
            }
        }
    }
    double wall = (double)(mono_ns() - t_begin) / 1e9, cpu = self_cpu_s() - cpu0;
    double window_s = w_end > w_start && w_end != INT64_MAX ? (double)(w_end - w_start) / 1e9 : 0;
    printf("{\"subscribers\":%d,\"subscribed\":%lld,\"failed\":%d,\"closed_by_server\":%lld,"
           "\"events_received\":%lld,\"events_in_window\":%lld,\"delivered_per_s\":%.0f,"
           "\"frames\":%lld,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"client_cpu_pct\":%.1f}\n",
           subs, subscribed_count, failed, closed_by_server, total_events, in_window,
           window_s ? (double)in_window / window_s : 0.0, frames, pct_ms(0.5), pct_ms(0.99),
           (double)lat_max / 1e6, 100.0 * cpu / wall);
    return 0;
}

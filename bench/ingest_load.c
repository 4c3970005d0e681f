/* Open-loop HTTP load generator for orderlog's ingest API (and the peers' same-shaped one).
 *
 * Requests are scheduled at fixed intended times (rate per second); latency is measured from the
 * intended time, not the actual send, so a stalled server cannot hide its queue (no coordinated
 * omission). Keep-alive connections, one request in flight per connection, no pipelining.
 *
 *   ingest_load --ports 8001[,8002] --rate R --duration S --warmup S --conns N
 *               --workspace W --key K [--mix full|create] [--path-prefix /v1/workspaces]
 *
 * mix=full: a create, then two status changes of each created order (waiting_for_preparation,
 * completed), interleaved; mix=create: creates only, each carrying metadata {"t": <send ns>}
 * (the live benchmark's publisher: subscribers compute latency from it).
 * --start-at <CLOCK_REALTIME ns>: when the first request is due (default: now).
 * Prints one JSON object on stdout (latency_samples: answers to requests due after the warm-up,
 * the ones the percentiles are taken from).
 */
#include "common.h"

#include <sys/epoll.h>

#define INBUF 65536
#define RING (1 << 21)

typedef struct {
    int fd, port, busy;
    int kind; /* 0 create, 1.. status index */
    int64_t intended;
    char order[25];
    char in[INBUF];
    size_t inlen;
} conn_t;

typedef struct {
    char id[25];
    int next; /* index into STATUSES */
} todo_t;

static const char *STATUSES[] = {"waiting_for_preparation", "completed"};
#define NSTATUS 2

static int64_t *pending; /* intended send times (monotonic ns) waiting for a free connection */
static size_t p_head, p_tail;
static todo_t *todo;
static size_t t_head, t_tail;

static const char *workspace, *key, *prefix = "/v1/workspaces";
static int mix_full = 1;
static long long n_requests;
static int64_t real_offset;

static void send_request(conn_t *c, int64_t intended) {
    char body[512], req[1024];
    int blen;
    const char *path_tail = "/orders";
    char path[256];
    c->intended = intended;
    c->kind = 0;
    if (mix_full && t_head != t_tail && n_requests++ % 3 != 0) {
        todo_t *t = &todo[t_head % RING];
        t_head++;
        c->kind = 1 + t->next;
        memcpy(c->order, t->id, 25);
        blen = snprintf(body, sizeof body, "{\"status\":\"%s\"}", STATUSES[t->next]);
        snprintf(path, sizeof path, "%s/%s/orders/%s/status", prefix, workspace, t->id);
    } else {
        blen = snprintf(body, sizeof body,
                        "{\"customer\":{\"user_id\":%d,\"username\":\"bench%d\"},"
                        "\"items\":[{\"name\":\"Latte\",\"quantity\":1}],"
                        "\"metadata\":{\"t\":%lld}}",
                        1 + (int)(intended % 100000), (int)(intended % 1000),
                        (long long)(intended + real_offset));
        snprintf(path, sizeof path, "%s/%s%s", prefix, workspace, path_tail);
    }
    int rlen = snprintf(req, sizeof req,
                        "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                        path, key, blen, body);
    c->busy = 1;
    c->inlen = 0;
    if (write_all(c->fd, req, (size_t)rlen) < 0) c->busy = 2; /* reported as an error on read */
}

int main(int argc, char **argv) {
    int ports[16], nports = 0, conns = 50;
    double rate = 1000, duration = 10, warmup = 2;
    long long start_at = 0; /* CLOCK_REALTIME ns of the first send, if given */
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--ports")) {
            char *s = strdup(v), *tok, *save;
            for (tok = strtok_r(s, ",", &save); tok && nports < 16; tok = strtok_r(NULL, ",", &save))
                ports[nports++] = atoi(tok);
        } else if (!strcmp(a, "--rate")) rate = atof(v);
        else if (!strcmp(a, "--duration")) duration = atof(v);
        else if (!strcmp(a, "--warmup")) warmup = atof(v);
        else if (!strcmp(a, "--conns")) conns = atoi(v);
        else if (!strcmp(a, "--workspace")) workspace = v;
        else if (!strcmp(a, "--key")) key = v;
        else if (!strcmp(a, "--mix")) mix_full = strcmp(v, "create") != 0;
        else if (!strcmp(a, "--path-prefix")) prefix = v;
        else if (!strcmp(a, "--start-at")) start_at = atoll(v);
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
    }
    if (!nports || !workspace || !key) {
        fprintf(stderr, "usage: ingest_load --ports P[,P] --workspace W --key K [...]\n");
        return 2;
    }
    pending = xmalloc(RING * sizeof *pending);
    todo = xmalloc(RING * sizeof *todo);
    conn_t *cs = calloc((size_t)conns, sizeof *cs);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < conns; i++) {
        cs[i].port = ports[i % nports];
        cs[i].fd = connect_loopback(cs[i].port, 1);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    samples_t lat = {0};
    long long sent = 0, ok = 0, errors = 0, in_window = 0, dropped = 0, reconnects = 0;
    long long codes[6] = {0};
    char first_error[300] = "";
    real_offset = now_ns() - mono_ns();
    double cpu0 = self_cpu_s();
    int64_t t0 = mono_ns() + 50000000LL;
    if (start_at) t0 = start_at - real_offset;
    int64_t w_start = t0 + (int64_t)(warmup * 1e9), end = w_start + (int64_t)(duration * 1e9);
    long long scheduled = 0;
    int64_t next = t0, drain_deadline = end + 5000000000LL;
    int inflight = 0;
    struct epoll_event evs[256];
    for (;;) {
        int64_t now = mono_ns();
        while (next <= now && next < end) { /* everything due joins the queue */
            if (p_tail - p_head < RING) pending[p_tail++ % RING] = next;
            else dropped++;
            next = t0 + (int64_t)((double)++scheduled * 1e9 / rate);
        }
        for (int i = 0; i < conns && p_head != p_tail; i++) {
            if (!cs[i].busy) {
                send_request(&cs[i], pending[p_head++ % RING]);
                sent++;
                inflight++;
            }
        }
        if (now >= end && ((p_head == p_tail && inflight == 0) || now >= drain_deadline)) break;
        /* Until the next send is due; but with every connection busy, a due send could only
         * join the queue, which the next answer's wake-up does as well (intended times come
         * from the schedule, not from when the loop wakes): waking at the offered rate
         * (20k/s at saturation) would burn the core Redis shares with this loader. */
        int64_t wait = next < end ? next - now : 10000000LL;
        if (inflight >= conns && now < end) wait = end - now;
        if (wait < 0) wait = 0;
        struct timespec ts = {wait / 1000000000LL, wait % 1000000000LL};
        int n = epoll_pwait2(ep, evs, 256, &ts, NULL);
        for (int e = 0; e < n; e++) {
            conn_t *c = evs[e].data.ptr;
            ssize_t r = read(c->fd, c->in + c->inlen, INBUF - 1 - c->inlen);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                if (c->busy) {
                    errors++;
                    inflight--;
                }
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = connect_loopback(c->port, 1);
                c->busy = 0;
                reconnects++;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
                continue;
            }
            c->inlen += (size_t)r;
            c->in[c->inlen] = 0;
            char *hend = strstr(c->in, "\r\n\r\n");
            if (!hend) continue;
            char *cl = strcasestr(c->in, "content-length:");
            size_t blen = cl && cl < hend ? (size_t)atol(cl + 15) : 0;
            char *body = hend + 4;
            if ((size_t)(c->in + c->inlen - body) < blen) continue;
            int64_t done = mono_ns();
            int code = atoi(c->in + 9);
            if (code >= 100 && code < 600) codes[code / 100]++;
            if (code >= 200 && code < 300) {
                ok++;
                if (c->intended >= w_start) samples_add(&lat, done - c->intended);
                if (done >= w_start && done < end) in_window++;
                if (mix_full) {
                    int next_status = c->kind; /* create -> 0, status k -> k */
                    char *id = c->kind == 0 ? strstr(body, "\"id\":\"") : NULL;
                    if ((id || c->kind) && next_status < NSTATUS && t_tail - t_head < RING) {
                        todo_t *t = &todo[t_tail++ % RING];
                        if (id) memcpy(t->id, id + 6, 24);
                        else memcpy(t->id, c->order, 24);
                        t->id[24] = 0;
                        t->next = next_status;
                    }
                }
            } else {
                errors++;
                if (!first_error[0]) snprintf(first_error, sizeof first_error, "%.*s", 200, body);
            }
            c->busy = 0;
            inflight--;
            c->inlen = 0;
        }
    }
    double wall = (double)(mono_ns() - t0) / 1e9;
    double cpu = self_cpu_s() - cpu0;
    samples_sort(&lat);
    for (char *p = first_error; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 32) *p = ' ';
    printf("{\"offered_rate\":%.0f,\"duration_s\":%.1f,\"sent\":%lld,\"ok\":%lld,\"errors\":%lld,"
           "\"unsent\":%lld,\"unanswered\":%d,\"dropped\":%lld,\"reconnects\":%lld,"
           "\"ok_per_s\":%.1f,\"latency_samples\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"max_ms\":%.3f,"
           "\"codes\":{\"2xx\":%lld,\"4xx\":%lld,\"5xx\":%lld},\"loader_cpu_pct\":%.1f,"
           "\"first_error\":\"%s\"}\n",
           rate, duration, sent, ok, errors, (long long)(p_tail - p_head), inflight, dropped,
           reconnects, (double)in_window / duration, lat.n, samples_pct_ms(&lat, 0.5),
           samples_pct_ms(&lat, 0.99), lat.n ? (double)lat.v[lat.n - 1] / 1e6 : 0.0, codes[2],
           codes[4], codes[5], 100.0 * cpu / wall, first_error);
    return 0;
}

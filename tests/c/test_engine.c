#define _GNU_SOURCE /* strcasestr */
/* test_engine.c - the engine and the transfer record end to end, against a scripted server on
 * 127.0.0.1 in a thread of this process: lifecycle and counters, keep-alive reuse, the head
 * caps and framing checks, cancellation, an engine deadline, the async completion queue.
 * Every wait is bounded. Run under valgrind by `make valgrind`. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "httpr.h"

enum mode { OK, BIG, SILENT, CUT_HEAD, CUT_HEAD_BARE, CL_CONFLICT, CHUNKED_CL, MANY_LINES, INFORMATIONAL };

#define BIG_BYTES (8 * 1024 * 1024)

typedef struct {
    int lfd;
    int port;
    enum mode mode;
    volatile int stop;
    int accepted;
    pthread_t thread;
} server;

static int wait_readable(server *s, int fd)
{
    for (;;) {
        if (s->stop)
            return 0;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, 20);
        if (r > 0)
            return 1;
        if (r < 0)
            return 0;
    }
}

static void send_all(int fd, const char *data, size_t n)
{
    while (n) {
        ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        data += w;
        n -= (size_t)w;
    }
}

/* Reads one request head (and a Content-Length body); 0 on EOF or stop. */
static int read_request(server *s, int fd)
{
    char buf[8192];
    size_t len = 0;
    for (;;) {
        if (!wait_readable(s, fd))
            return 0;
        ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0)
            return 0;
        len += (size_t)r;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            long body = 0;
            char *cl = strcasestr(buf, "\r\ncontent-length:");
            if (cl)
                body = strtol(cl + 17, NULL, 10);
            long have = (long)(len - (size_t)(end + 4 - buf));
            while (have < body) {
                if (!wait_readable(s, fd))
                    return 0;
                r = recv(fd, buf, sizeof(buf), 0);
                if (r <= 0)
                    return 0;
                have += r;
            }
            return 1;
        }
        if (len >= sizeof(buf) - 1)
            return 0;
    }
}

static void serve(server *s, int fd)
{
    static char many[64 * 1024];
    while (read_request(s, fd)) {
        switch (s->mode) {
        case OK: {
            const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
            send_all(fd, r, strlen(r));
            continue; /* keep-alive */
        }
        case BIG: {
            /* BIG_BYTES of a position pattern, in 64 KiB writes. */
            char head[128];
            int hn = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
                              BIG_BYTES);
            send_all(fd, head, (size_t)hn);
            static char chunk[65536];
            for (int off = 0; off < BIG_BYTES && !s->stop; off += (int)sizeof(chunk)) {
                for (size_t i = 0; i < sizeof(chunk); i++)
                    chunk[i] = (char)((off + (int)i) % 251);
                send_all(fd, chunk, sizeof(chunk));
            }
            continue;
        }
        case INFORMATIONAL: {
            const char *r = "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Final: 1\r\n\r\nok";
            send_all(fd, r, strlen(r));
            continue;
        }
        case SILENT:
            while (wait_readable(s, fd)) {
                char b[512];
                if (recv(fd, b, sizeof(b), 0) <= 0)
                    return;
            }
            return;
        case CUT_HEAD: {
            const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n";
            send_all(fd, r, strlen(r));
            return;
        }
        case CUT_HEAD_BARE: {
            const char *r = "HTTP/1.1 200 OK\r\nX-A: b\r\n";
            send_all(fd, r, strlen(r));
            return;
        }
        case CL_CONFLICT: {
            const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
            send_all(fd, r, strlen(r));
            return;
        }
        case CHUNKED_CL: {
            const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "5\r\nhello\r\n0\r\n\r\n";
            send_all(fd, r, strlen(r));
            return;
        }
        case MANY_LINES: {
            size_t n = (size_t)snprintf(many, sizeof(many), "HTTP/1.1 200 OK\r\n");
            for (int i = 0; i < 1001 && n + 16 < sizeof(many); i++)
                n += (size_t)snprintf(many + n, sizeof(many) - n, "X-%d: y\r\n", i);
            n += (size_t)snprintf(many + n, sizeof(many) - n, "Content-Length: 0\r\n\r\n");
            send_all(fd, many, n);
            return;
        }
        }
    }
}

static void *server_main(void *arg)
{
    server *s = arg;
    while (!s->stop) {
        if (!wait_readable(s, s->lfd))
            break;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        s->accepted++;
        serve(s, fd);
        close(fd);
    }
    return NULL;
}

static void server_start(server *s, enum mode mode)
{
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s->lfd, (struct sockaddr *)&a, sizeof(a));
    listen(s->lfd, 16);
    socklen_t alen = sizeof(a);
    getsockname(s->lfd, (struct sockaddr *)&a, &alen);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->thread, NULL, server_main, s);
}

static void server_stop(server *s)
{
    s->stop = 1;
    pthread_join(s->thread, NULL);
    close(s->lfd);
}

static httpr_options options(void)
{
    httpr_options o;
    memset(&o, 0, sizeof(o));
    o.http_version = HTTPR_HTTP_1_1;
    o.verify = 1;
    o.proxy = "";
    o.accept_encoding = "";
    o.connect_timeout_ms = 5000;
    o.read_timeout_ms = 5000;
    o.write_timeout_ms = 5000;
    o.pool_timeout_ms = 5000;
    o.total_timeout_ms = 10000;
    o.max_response_size = -1;
    o.maxage_conn_s = -1;
    return o;
}

/* Starts a GET and waits (bounded) for DONE; fills res. Returns the record (caller frees). */
static httpr_xfer *run_get(httpr_engine *e, const httpr_options *o, int port, httpr_result *res,
                           int flags)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
    const char hdrs[] = "Accept:\0X-Test: 1\0";
    httpr_xfer *x = NULL;
    int rc = httpr_xfer_start(e, o, "GET", url, hdrs, sizeof(hdrs) - 1, NULL, 0, flags, &x);
    CHECK_EQ_LL(rc, 0);
    if (rc != 0)
        return NULL;
    for (int i = 0; i < 200 && httpr_xfer_wait(x, HTTPR_EV_DONE, 50) != 0; i++)
        ;
    CHECK_EQ_LL(httpr_xfer_result(x, res), 0);
    return x;
}

static void test_lifecycle_without_thread(void)
{
    httpr_counters before, after;
    httpr_counters_get(&before);
    httpr_engine *e = NULL;
    CHECK_EQ_LL(httpr_engine_new(10, 0, &e), 0);
    httpr_xfer *x = NULL;
    CHECK_EQ_LL(httpr_xfer_new(e, &x), 0);
    httpr_result res;
    CHECK_EQ_LL(httpr_xfer_result(x, &res), HTTPR_EAGAIN); /* not submitted: no result */
    httpr_xfer_free(x);
    httpr_engine_free(e);
    httpr_counters_get(&after);
    CHECK_EQ_LL(after.engines, before.engines);
    CHECK_EQ_LL(after.records, before.records);
    CHECK_EQ_LL(after.threads, before.threads); /* no request: no thread was started */
    httpr_xfer_free(NULL);
    httpr_engine_free(NULL);
    CHECK_EQ_LL(httpr_engine_new(1, 0, NULL), HTTPR_EINVAL);
}

static void test_keepalive_and_recycling(void)
{
    server s;
    server_start(&s, OK);
    httpr_counters base;
    httpr_counters_get(&base);
    httpr_engine *e = NULL;
    CHECK_EQ_LL(httpr_engine_new(10, 0, &e), 0);
    httpr_options o = options();
    int good = 0;
    for (int i = 0; i < 50; i++) {
        httpr_result res;
        httpr_xfer *x = run_get(e, &o, s.port, &res, 0);
        if (x && res.curlcode == 0 && res.reason == 0 && res.status == 200 && res.body_len == 5 &&
            memcmp(res.body, "hello", 5) == 0 && res.head_len > 0)
            good++;
        httpr_xfer_free(x);
    }
    CHECK_EQ_LL(good, 50);
    CHECK_EQ_LL(s.accepted, 1); /* one connection, reused 49 times */
    httpr_counters mid;
    httpr_counters_get(&mid);
    CHECK_EQ_LL(mid.records - base.records, 1); /* one record, recycled */
    CHECK_EQ_LL(mid.in_flight, base.in_flight);
    CHECK_EQ_LL(mid.threads - base.threads, 1);
    httpr_engine_free(e);
    httpr_counters after;
    httpr_counters_get(&after);
    CHECK_EQ_LL(after.records, base.records);
    CHECK_EQ_LL(after.engines, base.engines);
    CHECK_EQ_LL(after.threads, base.threads);
    server_stop(&s);
}

static void test_head_checks(enum mode mode, int want_reason, const char *name)
{
    server s;
    server_start(&s, mode);
    httpr_engine *e = NULL;
    httpr_engine_new(10, 0, &e);
    httpr_options o = options();
    httpr_result res;
    httpr_xfer *x = run_get(e, &o, s.port, &res, 0);
    if (res.reason != want_reason)
        fprintf(stderr, "%s: reason %d, curlcode %d\n", name, res.reason, res.curlcode);
    CHECK_EQ_LL(res.reason, want_reason);
    CHECK_EQ_LL(res.body_len, 0); /* nothing of a refused body reaches the caller */
    httpr_xfer_free(x);
    httpr_engine_free(e);
    server_stop(&s);
}

static void test_informational_heads_dropped(void)
{
    server s;
    server_start(&s, INFORMATIONAL);
    httpr_engine *e = NULL;
    httpr_engine_new(10, 0, &e);
    httpr_options o = options();
    httpr_result res;
    httpr_xfer *x = run_get(e, &o, s.port, &res, 0);
    CHECK_EQ_LL(res.curlcode, 0);
    CHECK_EQ_LL(res.status, 200);
    CHECK(res.head_len > 0 && strncmp(res.head, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(res.head, "Link:") == NULL); /* the 103's headers never merge */
    CHECK(strstr(res.head, "X-Final: 1") != NULL);
    httpr_xfer_free(x);
    httpr_engine_free(e);
    server_stop(&s);
}

static void test_read_deadline(void)
{
    server s;
    server_start(&s, SILENT);
    httpr_engine *e = NULL;
    httpr_engine_new(10, 0, &e);
    httpr_options o = options();
    o.read_timeout_ms = 100;
    httpr_result res;
    httpr_xfer *x = run_get(e, &o, s.port, &res, 0);
    CHECK_EQ_LL(res.reason, HTTPR_REASON_READ);
    CHECK_EQ_LL(res.curlcode, CURLE_OPERATION_TIMEDOUT);
    /* On time: within max(1.3 x 100 ms, 100 ms + 100 ms) of the submit. */
    CHECK(res.elapsed_us >= 100000 && res.elapsed_us <= 200000);
    httpr_xfer_free(x);
    httpr_engine_free(e);
    server_stop(&s);
}

static void test_cancel_and_async_events(void)
{
    server s;
    server_start(&s, SILENT);
    httpr_engine *e = NULL;
    httpr_engine_new(10, 0, &e);
    int efd = -1;
    CHECK_EQ_LL(httpr_engine_events_fd(e, &efd), 0);
    CHECK(efd >= 0);
    httpr_options o = options();
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s.port);
    httpr_xfer *x = NULL;
    CHECK_EQ_LL(httpr_xfer_start(e, &o, "GET", url, NULL, 0, NULL, 0, HTTPR_F_NOTIFY, &x), 0);
    uint64_t id = 0;
    httpr_xfer_id(x, &id);
    CHECK_EQ_LL(httpr_xfer_wait(x, HTTPR_EV_DONE, 100), HTTPR_ETIMEDOUT); /* server is silent */
    CHECK_EQ_LL(httpr_engine_cancel(e, x), 0);
    CHECK_EQ_LL(httpr_engine_cancel(e, x), 0); /* idempotent */
    CHECK_EQ_LL(httpr_xfer_wait(x, HTTPR_EV_DONE, 2000), 0);
    httpr_result res;
    httpr_xfer_result(x, &res);
    CHECK_EQ_LL(res.reason, HTTPR_REASON_CANCELLED);
    CHECK_EQ_LL(res.curlcode, CURLE_ABORTED_BY_CALLBACK);
    /* The eventfd became readable and the queue holds exactly (id, DONE). */
    struct pollfd p = {efd, POLLIN, 0};
    CHECK_EQ_LL(poll(&p, 1, 1000), 1);
    httpr_event ev[4];
    size_t n = 0;
    CHECK_EQ_LL(httpr_engine_drain(e, ev, 4, &n), 0);
    CHECK_EQ_LL(n, 1);
    CHECK_EQ_LL(ev[0].id, id);
    CHECK_EQ_LL(ev[0].kind, HTTPR_EV_DONE);
    CHECK_EQ_LL(poll(&p, 1, 0), 0); /* drained: the eventfd is clear again */
    CHECK_EQ_LL(httpr_engine_cancel(e, x), 0); /* after DONE: nothing to do */
    httpr_xfer_free(x);
    httpr_engine_free(e);
    server_stop(&s);
}

/* design.md 4: an 8 MiB body through the bounded ring to a reader that stalls longer than
 * the read timeout while the transfer is paused: every byte arrives in order, the pause is
 * not read-idle time, the head comes first, and the end is reported once DONE. */
static void test_stream_back_pressure(void)
{
    server s;
    server_start(&s, BIG);
    httpr_engine *e = NULL;
    httpr_engine_new(10, 0, &e);
    httpr_options o = options();
    o.read_timeout_ms = 100;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", s.port);
    httpr_xfer *x = NULL;
    CHECK_EQ_LL(httpr_xfer_start(e, &o, "GET", url, NULL, 0, NULL, 0, HTTPR_F_STREAM, &x), 0);
    CHECK_EQ_LL(httpr_xfer_wait(x, HTTPR_EV_HEAD, 5000), 0);
    const char *head = NULL;
    size_t head_len = 0;
    long status = 0;
    CHECK_EQ_LL(httpr_xfer_head(x, &head, &head_len, &status), 0);
    CHECK_EQ_LL(status, 200);
    CHECK(head_len > 0 && strncmp(head, "HTTP/1.1 200", 12) == 0);
    static char buf[65536];
    long long total = 0;
    int in_order = 1, stalls = 0;
    for (int guard = 0; guard < 100000; guard++) {
        size_t n = 0;
        int rc = httpr_stream_read(x, buf, sizeof(buf), &n, 2000);
        if (rc != 0) {
            CHECK_EQ_LL(rc, 0);
            break;
        }
        if (n == 0)
            break; /* the end */
        for (size_t i = 0; i < n; i++) {
            if (buf[i] != (char)((total + (long long)i) % 251))
                in_order = 0;
        }
        total += (long long)n;
        if (total > 2 * 1024 * 1024 && stalls < 2) {
            usleep(250 * 1000); /* > read timeout: the ring fills and the transfer pauses */
            stalls++;
        }
    }
    CHECK_EQ_LL(total, BIG_BYTES);
    CHECK(in_order);
    httpr_result res;
    CHECK_EQ_LL(httpr_xfer_result(x, &res), 0);
    CHECK_EQ_LL(res.curlcode, 0);
    CHECK_EQ_LL(res.reason, HTTPR_REASON_NONE);
    CHECK_EQ_LL(res.body_len, 0); /* a stream's body went through the ring only */
    httpr_xfer_free(x);

    /* Cancel mid-stream: DONE with CANCELLED, the engine stays usable. */
    CHECK_EQ_LL(httpr_xfer_start(e, &o, "GET", url, NULL, 0, NULL, 0, HTTPR_F_STREAM, &x), 0);
    size_t n = 0;
    CHECK_EQ_LL(httpr_stream_read(x, buf, sizeof(buf), &n, 2000), 0);
    CHECK(n > 0);
    CHECK_EQ_LL(httpr_engine_cancel(e, x), 0);
    CHECK_EQ_LL(httpr_xfer_wait(x, HTTPR_EV_DONE, 2000), 0);
    CHECK_EQ_LL(httpr_xfer_result(x, &res), 0);
    CHECK_EQ_LL(res.reason, HTTPR_REASON_CANCELLED);
    httpr_xfer_free(x);
    httpr_engine_free(e);
    server_stop(&s);
}

/* httpr_stream_next, the no-copy read: the same 8 MiB in order through a paused transfer;
 * every run is <= cap and stays unchanged until the next call releases it, even while the
 * engine keeps writing; releasing more than was returned is refused. */
static void test_stream_next(void)
{
    server s;
    server_start(&s, BIG);
    httpr_engine *e = NULL;
    httpr_engine_new(10, 0, &e);
    httpr_options o = options();
    o.read_timeout_ms = 100;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", s.port);
    httpr_xfer *x = NULL;
    CHECK_EQ_LL(httpr_xfer_start(e, &o, "GET", url, NULL, 0, NULL, 0, HTTPR_F_STREAM, &x), 0);
    CHECK_EQ_LL(httpr_xfer_wait(x, HTTPR_EV_HEAD, 5000), 0);
    const size_t cap = 65536;
    long long total = 0;
    size_t consumed = 0, biggest = 0;
    int in_order = 1, stable = 1, stalls = 0;
    for (int guard = 0; guard < 100000; guard++) {
        const char *data = NULL;
        size_t n = 0;
        int rc = httpr_stream_next(x, consumed, &data, cap, &n, 2000);
        consumed = 0;
        if (rc != 0) {
            CHECK_EQ_LL(rc, 0);
            break;
        }
        if (n == 0)
            break; /* the end */
        if (n > biggest)
            biggest = n;
        if (total > 2 * 1024 * 1024 && stalls < 2) {
            usleep(250 * 1000); /* > read timeout: the ring fills and the transfer pauses */
            stalls++;
        } else if (guard % 7 == 0) {
            usleep(2000); /* the engine writes into the rest of the ring meanwhile */
        }
        for (size_t i = 0; i < n; i++) {
            if (data[i] != (char)((total + (long long)i) % 251))
                in_order = stable = 0;
        }
        total += (long long)n;
        consumed = n;
    }
    CHECK_EQ_LL(total, BIG_BYTES);
    CHECK(in_order && stable);
    CHECK(biggest > 0 && biggest <= cap);
    httpr_result res;
    CHECK_EQ_LL(httpr_xfer_result(x, &res), 0);
    CHECK_EQ_LL(res.curlcode, 0);
    CHECK_EQ_LL(res.reason, HTTPR_REASON_NONE);
    httpr_xfer_free(x);

    CHECK_EQ_LL(httpr_xfer_start(e, &o, "GET", url, NULL, 0, NULL, 0, HTTPR_F_STREAM, &x), 0);
    const char *data = NULL;
    size_t n = 0;
    CHECK_EQ_LL(httpr_stream_next(x, 0, &data, cap, &n, 2000), 0);
    CHECK(n > 0 && data != NULL);
    CHECK_EQ_LL(httpr_stream_next(x, (size_t)2 * HTTPR_STREAM_RING_BYTES, &data, cap, &n, 0),
                HTTPR_EINVAL);
    CHECK_EQ_LL(httpr_engine_cancel(e, x), 0);
    CHECK_EQ_LL(httpr_xfer_wait(x, HTTPR_EV_DONE, 2000), 0);
    httpr_xfer_free(x);
    httpr_engine_free(e);
    server_stop(&s);
}

/* design.md 4, the mirror: a 3 MiB body fed in 96 KiB pieces by a producer that pauses
 * longer than the write timeout; the ring never holds more than 1 MiB; the server gets
 * every byte and answers. */
static void test_fed_upload(void)
{
    server s;
    server_start(&s, OK);
    httpr_engine *e = NULL;
    httpr_engine_new(10, 0, &e);
    httpr_options o = options();
    o.write_timeout_ms = 100;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/up", s.port);
    const size_t total = 3 * 1024 * 1024;
    const char hdrs[] = "Expect:\0Content-Type:\0";
    httpr_xfer *x = NULL;
    CHECK_EQ_LL(httpr_xfer_start(e, &o, "POST", url, hdrs, sizeof(hdrs) - 1, NULL, total,
                                 HTTPR_F_BODY | HTTPR_F_UPLOAD, &x),
                0);
    static char piece[96 * 1024];
    memset(piece, 'u', sizeof(piece));
    size_t fed = 0;
    int pauses = 0;
    while (fed < total) {
        size_t want = total - fed < sizeof(piece) ? total - fed : sizeof(piece);
        size_t taken = 0;
        int rc = httpr_xfer_feed(x, piece, want, fed + want == total, &taken, 2000);
        CHECK_EQ_LL(rc, 0);
        if (rc != 0)
            break;
        fed += taken;
        if (fed > total / 3 && pauses < 2) {
            usleep(250 * 1000); /* the producer is slow: not write-idle time */
            pauses++;
        }
    }
    CHECK_EQ_LL(fed, total);
    CHECK_EQ_LL(httpr_xfer_wait(x, HTTPR_EV_DONE, 5000), 0);
    httpr_result res;
    CHECK_EQ_LL(httpr_xfer_result(x, &res), 0);
    CHECK_EQ_LL(res.curlcode, 0);
    CHECK_EQ_LL(res.reason, HTTPR_REASON_NONE);
    CHECK_EQ_LL(res.status, 200);
    CHECK(res.body_len == 5 && memcmp(res.body, "hello", 5) == 0);
    size_t taken = 0;
    CHECK_EQ_LL(httpr_xfer_feed(x, piece, 1, 1, &taken, 0), HTTPR_ECLOSED);
    httpr_xfer_free(x);
    httpr_engine_free(e);
    server_stop(&s);
}

/* SEC-19 (security.md 2): the record's copy of the options it applied, on a fresh record and
 * on the same record recycled after a weaker transfer (verify off, a body, HEAD, a proxy
 * password): the recycled GET reads back exactly what the fresh one did. */
static void check_get_baseline(const httpr_baseline *b)
{
    CHECK(strcmp(b->protocols, "http,https") == 0);
    CHECK(strcmp(b->redir_protocols, "http,https") == 0);
    CHECK_EQ_LL(b->followlocation, 0);
    CHECK_EQ_LL(b->autoreferer, 0);
    CHECK_EQ_LL(b->unrestricted_auth, 0);
    CHECK_EQ_LL(b->http09_allowed, 0);
    CHECK_EQ_LL(b->netrc, CURL_NETRC_IGNORED);
    CHECK_EQ_LL(b->httpauth, HTTPR_OPT_UNSET); /* never CURLAUTH_ANY: never set at all */
    CHECK_EQ_LL(b->ssl_verifypeer, 1);
    CHECK_EQ_LL(b->ssl_verifyhost, 2);
    CHECK_EQ_LL(b->proxy_ssl_verifypeer, 1);
    CHECK_EQ_LL(b->proxy_ssl_verifyhost, 2);
    CHECK_EQ_LL(b->sslversion, CURL_SSLVERSION_TLSv1_2);
    CHECK_EQ_LL(b->proxy_sslversion, CURL_SSLVERSION_TLSv1_2);
    httpr_curl_info info;
    httpr_curl_info_get(&info);
    CHECK_EQ_LL(b->ssl_ctx_function, info.refuses_cn_only ? 1 : HTTPR_OPT_UNSET); /* R8 */
    CHECK_EQ_LL(b->cainfo, (long)strlen("/dev/null/ca.pem"));
    CHECK_EQ_LL(b->capath, HTTPR_OPT_NULL);
    CHECK_EQ_LL(b->proxy_cainfo, (long)strlen("/dev/null/ca.pem"));
    CHECK_EQ_LL(b->proxy_capath, HTTPR_OPT_NULL);
    CHECK_EQ_LL(b->proxy, 0);
    CHECK_EQ_LL(b->noproxy, 0);
    CHECK_EQ_LL(b->headeropt, CURLHEADER_SEPARATE);
    CHECK_EQ_LL(b->proxyuserpwd, HTTPR_OPT_UNSET);
    CHECK_EQ_LL(b->connecttimeout_ms, 5000);
    CHECK_EQ_LL(b->accept_encoding, 0);
    CHECK_EQ_LL(b->nosignal, 1);
    CHECK_EQ_LL(b->nobody, HTTPR_OPT_UNSET);
    CHECK_EQ_LL(b->readfunction, HTTPR_OPT_UNSET);
    CHECK_EQ_LL(b->seekfunction, HTTPR_OPT_UNSET);
    CHECK_EQ_LL(b->httpheader, 1);
    CHECK_EQ_LL(b->expect_empty, 0);
    CHECK_EQ_LL(b->cookiefile, HTTPR_OPT_UNSET);
    CHECK_EQ_LL(b->cookiejar, HTTPR_OPT_UNSET);
    CHECK_EQ_LL(b->cookielist, HTTPR_OPT_UNSET);
    CHECK_EQ_LL(b->verbose, HTTPR_OPT_UNSET);
    CHECK_EQ_LL(b->debugfunction, HTTPR_OPT_UNSET);
    CHECK_EQ_LL(b->maxfilesize, HTTPR_OPT_UNSET);
    CHECK_EQ_LL(b->maxfilesize_large, HTTPR_OPT_UNSET);
}

static void test_baseline_readback(void)
{
    server s;
    server_start(&s, OK);
    httpr_engine *e = NULL;
    CHECK_EQ_LL(httpr_engine_new(10, 0, &e), 0);
    httpr_options o = options();
    o.ca_file = "/dev/null/ca.pem"; /* plain http: libcurl never opens it */
    httpr_result res;
    httpr_baseline fresh, weak, recycled;

    httpr_xfer *x = run_get(e, &o, s.port, &res, 0);
    CHECK_EQ_LL(res.status, 200);
    CHECK_EQ_LL(httpr_xfer_baseline(x, &fresh), 0);
    CHECK_EQ_LL(fresh.uses, 1);
    check_get_baseline(&fresh);
    httpr_xfer_free(x);

    httpr_options weak_o = o;
    weak_o.verify = 0;
    weak_o.proxy_userpwd = "u:p";
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/post", s.port);
    const char hdrs[] = "Expect:\0";
    x = NULL;
    CHECK_EQ_LL(httpr_xfer_start(e, &weak_o, "POST", url, hdrs, sizeof(hdrs) - 1, "abc", 3,
                                 HTTPR_F_BODY, &x),
                0);
    CHECK_EQ_LL(httpr_xfer_wait(x, HTTPR_EV_DONE, 5000), 0);
    CHECK_EQ_LL(httpr_xfer_baseline(x, &weak), 0);
    CHECK_EQ_LL(weak.uses, 2); /* the same record, recycled */
    CHECK_EQ_LL(weak.ssl_verifypeer, 0);
    CHECK_EQ_LL(weak.ssl_verifyhost, 0);
    CHECK_EQ_LL(weak.proxy_ssl_verifypeer, 0);
    CHECK_EQ_LL(weak.ssl_ctx_function, HTTPR_OPT_UNSET);
    CHECK_EQ_LL(weak.proxyuserpwd, 3);
    CHECK_EQ_LL(weak.readfunction, 1);
    CHECK_EQ_LL(weak.seekfunction, 1);
    CHECK_EQ_LL(weak.expect_empty, 1);
    httpr_xfer_free(x);

    x = run_get(e, &o, s.port, &res, 0);
    CHECK_EQ_LL(res.status, 200);
    CHECK_EQ_LL(httpr_xfer_baseline(x, &recycled), 0);
    CHECK_EQ_LL(recycled.uses, 3);
    check_get_baseline(&recycled);
    recycled.uses = fresh.uses;
    CHECK(memcmp(&recycled, &fresh, sizeof(fresh)) == 0); /* nothing of the POST survived */
    httpr_xfer_free(x);

    CHECK_EQ_LL(httpr_xfer_baseline(NULL, &fresh), HTTPR_EINVAL);
    httpr_engine_free(e);
    server_stop(&s);
}

static void test_closed_engine_refuses(void)
{
    httpr_engine *e = NULL;
    httpr_engine_new(10, 0, &e);
    httpr_engine_close(e);
    httpr_options o = options();
    httpr_xfer *x = NULL;
    CHECK_EQ_LL(httpr_xfer_start(e, &o, "GET", "http://127.0.0.1:9/", NULL, 0, NULL, 0, 0, &x),
                HTTPR_ECLOSED);
    CHECK(x == NULL);
    httpr_engine_free(e);
}

/* Inline driving (engine.c httpr_engine_drive): a sync stream on an engine without a thread
 * is run by its reader while it waits. Polled with timeout 0 it still progresses (one turn
 * per poll); freed by its engine while nobody drives it, it ends (no hang, no leak). */
static void test_inline_stream_poll_and_free(void)
{
    server s;
    server_start(&s, BIG);
    httpr_counters before, now;
    httpr_counters_get(&before);
    httpr_engine *e = NULL;
    httpr_engine_new(10, 0, &e);
    httpr_options o = options();
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", s.port);
    httpr_xfer *x = NULL;
    CHECK_EQ_LL(httpr_xfer_start(e, &o, "GET", url, NULL, 0, NULL, 0, HTTPR_F_STREAM, &x), 0);
    const char *head = NULL;
    size_t head_len = 0;
    long status = 0;
    int rc = HTTPR_EAGAIN;
    for (int i = 0; i < 500 && rc == HTTPR_EAGAIN; i++) { /* <= 5 s */
        rc = httpr_xfer_head(x, &head, &head_len, &status);
        if (rc == HTTPR_EAGAIN)
            usleep(10 * 1000);
    }
    CHECK_EQ_LL(rc, 0);
    CHECK_EQ_LL(status, 200);
    static char buf[65536];
    long long total = 0;
    for (int i = 0; i < 100000 && total < 1024 * 1024; i++) { /* poll 1 MiB, timeout 0 */
        size_t n = 0;
        rc = httpr_stream_read(x, buf, sizeof(buf), &n, 0);
        if (rc == HTTPR_EAGAIN) {
            usleep(1000);
            continue;
        }
        CHECK_EQ_LL(rc, 0);
        if (rc != 0 || n == 0)
            break;
        total += (long long)n;
    }
    CHECK(total >= 1024 * 1024);
    httpr_counters_get(&now);
    CHECK_EQ_LL(now.threads, before.threads); /* the reader drove it: no thread */
    /* The owner lets go of the engine while nobody drives the stream: free ends it. */
    httpr_engine_free(e);
    httpr_counters_get(&now);
    CHECK_EQ_LL(now.in_flight, before.in_flight);
    CHECK_EQ_LL(now.threads, before.threads);
    size_t n = 1;
    for (int i = 0; i < 1000 && n > 0; i++) { /* what is left in the ring, then the end */
        rc = httpr_stream_read(x, buf, sizeof(buf), &n, 2000);
        CHECK_EQ_LL(rc, 0);
        if (rc != 0)
            break;
    }
    CHECK_EQ_LL(n, 0);
    httpr_result res;
    CHECK_EQ_LL(httpr_xfer_result(x, &res), 0);
    CHECK_EQ_LL(res.reason, HTTPR_REASON_CANCELLED);
    httpr_xfer_free(x);
    httpr_counters_get(&now);
    CHECK_EQ_LL(now.engines, before.engines);
    CHECK_EQ_LL(now.records, before.records);
    server_stop(&s);
}

int main(void)
{
    CHECK_EQ_LL(httpr_global_init(), 0);
    test_lifecycle_without_thread();
    test_keepalive_and_recycling();
    test_head_checks(CUT_HEAD, HTTPR_REASON_FRAMING, "cut head");
    test_head_checks(CUT_HEAD_BARE, HTTPR_REASON_FRAMING, "cut head without Content-Length");
    test_head_checks(CL_CONFLICT, HTTPR_REASON_FRAMING, "conflicting Content-Length");
    test_head_checks(CHUNKED_CL, HTTPR_REASON_FRAMING, "chunked + Content-Length");
    test_head_checks(MANY_LINES, HTTPR_REASON_HEADER_CAP, "1,001 header lines");
    test_informational_heads_dropped();
    test_read_deadline();
    test_cancel_and_async_events();
    test_stream_back_pressure();
    test_stream_next();
    test_inline_stream_poll_and_free();
    test_fed_upload();
    test_closed_engine_refuses();
    test_baseline_readback();
    curl_global_cleanup(); /* tests only: lets valgrind see every byte returned */
    return check_report("test_engine");
}

/*
 * engine.c - one engine per client: a pthread that alone drives a CURLM (design.md section 1),
 * started when a transfer needs it: not for the first buffered sync request nor for sync
 * streams, whose waiting owners run the loop themselves (see below).
 *
 * Threads:
 *   - any thread: httpr_engine_submit, httpr_engine_cancel, httpr_engine_close,
 *     httpr_engine_drain, httpr_engine_events_fd, record take/return;
 *   - the owner, once, when no transfer of its own is in flight: httpr_engine_free (it
 *     cancels what is left, stops and joins the thread);
 *   - the engine thread: everything that touches the multi or an added easy handle; or,
 *     before that thread exists, the one caller driving it inline while it waits for its
 *     own transfer (the engine's first buffered sync request, or a sync stream):
 *     httpr_engine_drive, e->driving; one driver at a time, handed over under the engine
 *     lock.
 * Lock order: engine -> record; the engine lock is never held across a libcurl call that
 * can run callbacks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

static void engine_unref(httpr_engine *e);
static int engine_turn(httpr_engine *e, int64_t *wait_us);

/* ---- the SSL session share (design.md section 5: one per engine, never across) ---- */

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *userptr)
{
    httpr_engine *e = userptr;
    (void)handle;
    (void)data;
    (void)access;
    pthread_mutex_lock(&e->share_lock);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *userptr)
{
    httpr_engine *e = userptr;
    (void)handle;
    (void)data;
    pthread_mutex_unlock(&e->share_lock);
}

/* ---- construction and destruction ---- */

int httpr_engine_new(long max_connections, long max_host_connections, httpr_engine **out)
{
    if (!out)
        return HTTPR_EINVAL;
    *out = NULL;
    httpr_engine *e = calloc(1, sizeof(*e));
    if (!e)
        return HTTPR_ENOMEM;
    e->efd = -1;
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->share_lock, NULL);
    e->pid = httpr_self_pid();
    e->refs = 1;
    e->next_check = INT64_MAX;
    e->multi = curl_multi_init();
    e->share = curl_share_init();
    e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!e->multi || !e->share || e->efd < 0) {
        int rc = e->efd < 0 ? HTTPR_ESYS : HTTPR_ENOMEM;
        e->refs = 0;
        engine_unref(e); /* frees what was made */
        return rc;
    }
    curl_share_setopt(e->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(e->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(e->share, CURLSHOPT_USERDATA, (void *)e);
    curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);

    /* design.md section 5: MAXCONNECTS always set, at least the most transfers in flight,
     * else libcurl shrinks its cache as transfers finish and churns connections (597 vs 100
     * opened for 20,000 GETs, 100 in flight). It grows with the load in engine_add. */
    long keep = max_connections > 0 ? max_connections : 100;
    CURLMcode mc = curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, keep);
    if (mc == CURLM_OK && max_connections > 0)
        mc = curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_connections);
    if (mc == CURLM_OK && max_host_connections > 0)
        mc = curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_host_connections);
    if (mc != CURLM_OK) {
        engine_unref(e);
        return HTTPR_EINVAL;
    }
    e->maxconnects = keep;
    httpr_counter_add(HTTPR_COUNTER_ENGINES, 1);
    *out = e;
    return 0;
}

static void engine_destroy(httpr_engine *e)
{
    while (e->pool) {
        httpr_xfer *x = e->pool;
        e->pool = x->next;
        httpr_xfer_destroy(x);
    }
    /* Easy handles first (they use the share), then the multi (it closes the pooled
     * connections), then the share. */
    if (e->multi) {
        curl_multi_cleanup(e->multi);
        httpr_counter_add(HTTPR_COUNTER_ENGINES, -1);
    }
    if (e->share)
        curl_share_cleanup(e->share);
    if (e->efd >= 0)
        close(e->efd);
    free(e->events);
    free(e->socks);
    pthread_mutex_destroy(&e->share_lock);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static void engine_unref(httpr_engine *e)
{
    pthread_mutex_lock(&e->lock);
    int refs = --e->refs;
    pthread_mutex_unlock(&e->lock);
    if (refs <= 0)
        engine_destroy(e);
}

int httpr_engine_close(httpr_engine *e)
{
    if (!e)
        return HTTPR_EINVAL;
    pthread_mutex_lock(&e->lock);
    e->closed = 1;
    pthread_mutex_unlock(&e->lock);
    return 0;
}

void httpr_engine_free(httpr_engine *e)
{
    if (!e)
        return;
    /* design.md section 7: a forked child never cleans up what it inherited (that would
     * send TLS close_notify or GOAWAY on the parent's sockets, and the thread is gone). */
    if (e->pid != httpr_self_pid())
        return;
    pthread_mutex_lock(&e->lock);
    e->closed = 1;
    e->stop = 1;
    int started = e->thread_started;
    /* No thread: an inline transfer nobody drives right now is ended here, by one turn
     * (its stop path finishes everything); a caller driving now sees stop in its turn. */
    int drive_here = !started && !e->driving;
    if (drive_here)
        e->driving = 1;
    pthread_mutex_unlock(&e->lock);
    if (drive_here) {
        int64_t wait_us;
        (void)engine_turn(e, &wait_us);
        pthread_mutex_lock(&e->lock);
        e->driving = 0;
        pthread_mutex_unlock(&e->lock);
    } else {
        curl_multi_wakeup(e->multi);
    }
    if (started)
        pthread_join(e->thread, NULL);
    engine_unref(e);
}

/* ---- records: taken from and returned to the engine's pool ---- */

int httpr_engine_take_record(httpr_engine *e, httpr_xfer **out)
{
    *out = NULL;
    pthread_mutex_lock(&e->lock);
    if (e->pid != httpr_self_pid()) {
        pthread_mutex_unlock(&e->lock);
        return HTTPR_ECLOSED;
    }
    httpr_xfer *x = e->pool;
    if (x) {
        e->pool = x->next;
        e->pool_len--;
    }
    e->refs++;
    uint64_t id = ++e->next_id;
    pthread_mutex_unlock(&e->lock);

    if (x) {
#if LIBCURL_VERSION_NUM < 0x080100
        /* libcurl < 8.1.0 keeps header state across curl_easy_reset that a response whose
         * first header line starts with whitespace turns into a double free
         * (curl/curl#11101; found by FZ-03): any server could crash the process. A fresh
         * handle per transfer avoids it; connections, DNS and TLS sessions live in the multi
         * and the share, not in the handle. */
        curl_easy_cleanup(x->easy);
        x->easy = curl_easy_init();
        if (!x->easy) {
            httpr_xfer_destroy(x);
            engine_unref(e);
            return HTTPR_ENOMEM;
        }
#else
        curl_easy_reset(x->easy); /* R12: no option survives into the next request */
#endif
    } else {
        x = calloc(1, sizeof(*x));
        if (!x) {
            engine_unref(e);
            return HTTPR_ENOMEM;
        }
        pthread_mutex_init(&x->lock, NULL);
        pthread_cond_init(&x->cond, NULL);
        x->easy = curl_easy_init();
        httpr_counter_add(HTTPR_COUNTER_RECORDS, 1);
        if (!x->easy) {
            httpr_xfer_destroy(x);
            engine_unref(e);
            return HTTPR_ENOMEM;
        }
    }
    x->engine = e;
    x->refs = 1;
    x->id = id;
    x->prev = x->next = x->cmd_next = NULL;
    x->cancel_queued = 0;
    x->unpause_queued = 0;
    x->unpause_next = NULL;
    x->data_dirty = 0;
    x->dirty_next = NULL;
    x->paused = 0;
    x->ring_writing = 0;
    x->unpause_asked = 0;
    x->stream = 0;
    x->upload = 0;
    x->up_paused = 0;
    x->up_eof = 0;
    x->in_multi = x->submitted = 0;
    x->events = 0;
    x->curlcode = 0;
    x->reason = HTTPR_REASON_NONE;
    x->head_done = 0;
    x->conn_started = x->prereq = x->read_active = x->write_active = 0;
    x->t_submit = x->last_rx = x->last_tx = 0;
    memset(&x->result, 0, sizeof(x->result));
    *out = x;
    return 0;
}

/* A record nobody references any more goes back to the pool (or is freed). */
static void record_recycle(httpr_engine *e, httpr_xfer *x)
{
    httpr_xfer_reset_for_pool(x);
    pthread_mutex_lock(&e->lock);
    int keep = e->pool_len < HTTPR_RECORD_POOL_MAX;
    if (keep) {
        x->next = e->pool;
        e->pool = x;
        e->pool_len++;
    }
    pthread_mutex_unlock(&e->lock);
    if (!keep)
        httpr_xfer_destroy(x);
    engine_unref(e);
}

void httpr_engine_return_record(httpr_engine *e, httpr_xfer *x)
{
    /* A forked child leaks the record: its lock may have been held by a parent thread at
     * fork time, and its handle belongs to the parent's connections (design.md 7). */
    if (e->pid != httpr_self_pid())
        return;
    pthread_mutex_lock(&x->lock);
    int refs = --x->refs;
    pthread_mutex_unlock(&x->lock);
    if (refs == 0)
        record_recycle(e, x);
}

/* ---- the completion queue (async waiters) ---- */

static void push_event(httpr_engine *e, uint64_t id, int kind)
{
    pthread_mutex_lock(&e->lock);
    if (e->ev_len == e->ev_cap) {
        size_t cap = e->ev_cap ? e->ev_cap * 2 : 256;
        httpr_event *p = malloc(cap * sizeof(*p));
        if (!p) {
            /* Out of memory: the sync waiter still sees DONE on the record; the async
             * reader finds it when the next event arrives. Nothing better is possible. */
            pthread_mutex_unlock(&e->lock);
            return;
        }
        for (size_t i = 0; i < e->ev_len; i++)
            p[i] = e->events[(e->ev_head + i) % e->ev_cap];
        free(e->events);
        e->events = p;
        e->ev_head = 0;
        e->ev_cap = cap;
    }
    e->events[(e->ev_head + e->ev_len) % e->ev_cap] = (httpr_event){id, kind};
    e->ev_len++;
    if (e->ev_len == 1) {
        /* Written only on empty -> non-empty; the reader clears it when it empties. */
        uint64_t one = 1;
        ssize_t w = write(e->efd, &one, sizeof(one));
        (void)w; /* EAGAIN means the counter is already set: the reader will come */
    }
    pthread_mutex_unlock(&e->lock);
}

/* Engine thread (the write callback): x got ring data its reader has not been woken for. */
void httpr_engine_mark_dirty(httpr_engine *e, httpr_xfer *x)
{
    x->dirty_next = e->dirty;
    e->dirty = x;
}

/* Engine thread: wakes the readers of the streams that got data since the last flush. Run
 * after every call that may deliver data (curl_multi_perform, curl_easy_pause) and before a
 * transfer finishes, so the list never holds a record past its DONE. */
static void flush_dirty(httpr_engine *e)
{
    while (e->dirty) {
        httpr_xfer *x = e->dirty;
        e->dirty = x->dirty_next;
        x->dirty_next = NULL;
        httpr_xfer_signal_data(x);
    }
}

void httpr_engine_publish(httpr_engine *e, httpr_xfer *x, int kind)
{
    if (x->notify)
        push_event(e, x->id, kind);
}

int httpr_engine_events_fd(httpr_engine *e, int *fd)
{
    if (!e || !fd)
        return HTTPR_EINVAL;
    *fd = e->efd;
    return 0;
}

int httpr_engine_drain(httpr_engine *e, httpr_event *out, size_t cap, size_t *n)
{
    if (!e || !n || (cap && !out))
        return HTTPR_EINVAL;
    pthread_mutex_lock(&e->lock);
    size_t k = e->ev_len < cap ? e->ev_len : cap;
    for (size_t i = 0; i < k; i++)
        out[i] = e->events[(e->ev_head + i) % e->ev_cap];
    if (k) {
        e->ev_head = (e->ev_head + k) % e->ev_cap;
        e->ev_len -= k;
    }
    if (e->ev_len == 0) {
        uint64_t v;
        ssize_t r = read(e->efd, &v, sizeof(v));
        (void)r; /* EAGAIN: already clear */
    }
    pthread_mutex_unlock(&e->lock);
    *n = k;
    return 0;
}

/* ---- the engine thread ---- */

static void active_unlink(httpr_engine *e, httpr_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        e->active = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
}

/* Publishes the one terminal event of a transfer and drops the engine's reference. */
static void engine_finish(httpr_engine *e, httpr_xfer *x, int curlcode, int reason)
{
    if (x->in_multi) {
        curl_multi_remove_handle(e->multi, x->easy);
        x->in_multi = 0;
        e->n_active--;
        active_unlink(e, x);
    }
    flush_dirty(e); /* before DONE: the list must not outlive a record's reference */
    if (reason != HTTPR_REASON_NONE && x->reason == HTTPR_REASON_NONE)
        x->reason = reason;
    /* amendment 2.2: a head cut before its blank line. 7.88 reports CURLE_OK for it, or 18
     * when the partial head declared a Content-Length: either way the head never ended. */
    if (!x->head_done && x->reason == HTTPR_REASON_NONE &&
        (curlcode == CURLE_OK || (curlcode == CURLE_PARTIAL_FILE && x->head_lines > 0)))
        x->reason = HTTPR_REASON_FRAMING;
    httpr_xfer_collect(x);
    curlcode = httpr_xfer_decode_for_notify(x, curlcode);
    uint64_t id = x->id;
    int notify = x->notify;
    httpr_counter_add(HTTPR_COUNTER_IN_FLIGHT, -1);
    /* DONE and the engine's reference go in one critical section: a waiter that sees DONE
     * holds the last reference (its free recycles at once), and the counters are exact. */
    pthread_mutex_lock(&x->lock);
    x->curlcode = curlcode;
    __atomic_or_fetch(&x->events, HTTPR_EV_DONE, __ATOMIC_RELEASE); /* read unlocked by spinning waiters */
    int last = --x->refs == 0;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    if (notify)
        push_event(e, id, HTTPR_EV_DONE);
    if (last)
        record_recycle(e, x); /* its owner let go before DONE (abandoned after a cancel) */
}

/* The earliest moment an engine deadline of x can expire, and which one; INT64_MAX if none
 * runs now. Idle timers only move later when reset, so the value is a lower bound. */
static int64_t xfer_deadline(const httpr_xfer *x, int *reason)
{
    int64_t best = INT64_MAX;
    *reason = HTTPR_REASON_NONE;
#define CONSIDER(cond, at, why)                                                                    \
    do {                                                                                           \
        if ((cond) && (at) < best) {                                                               \
            best = (at);                                                                           \
            *reason = (why);                                                                       \
        }                                                                                          \
    } while (0)
    /* api.md 5: for a stream, total bounds the call until the final head. */
    CONSIDER(x->total_ms >= 0 && !(x->stream && x->head_done), x->t_submit + x->total_ms * 1000,
             HTTPR_REASON_TOTAL);
    CONSIDER(x->pool_ms >= 0 && !x->conn_started, x->t_submit + x->pool_ms * 1000,
             HTTPR_REASON_POOL);
    /* connect=0 "expires at once" (api.md section 5): libcurl would read 0 as 300 s. */
    CONSIDER(x->connect_ms == 0 && x->conn_started && !x->prereq, x->t_submit,
             HTTPR_REASON_CONNECT);
    /* design.md 6: time paused because the reader is not reading is not read-idle time. */
    /* Nor is time an inline stream spends undriven while its reader is in Python. */
    CONSIDER(x->read_ms >= 0 && x->read_active && !x->paused && !x->undriven_since,
             x->last_rx + x->read_ms * 1000, HTTPR_REASON_READ);
    /* An upload paused because the caller's body source is slow is not write-idle time. */
    CONSIDER(x->write_ms >= 0 && x->write_active && !x->up_paused && !x->undriven_since,
             x->last_tx + x->write_ms * 1000, HTTPR_REASON_WRITE);
#undef CONSIDER
    return best;
}

/* ---- FLT-16: the read timer is reset by every byte, partial head lines included ---- */

/* libcurl 7.88 calls the header callback per complete line, so a head dripping slower per
 * line than the read timeout looked idle to the callbacks. At a read expiry the engine asks
 * the kernel instead: TCP_INFO's tcpi_last_data_recv is the time since the socket last
 * received data. Finding the socket: 7.88's CURLINFO_ACTIVESOCKET is -1 while a transfer
 * runs, so the engine keeps the fds libcurl opened (SOCKOPTFUNCTION) and matches their
 * addresses against what PREREQFUNCTION said of the transfer's connection. */

void httpr_engine_note_socket(httpr_engine *e, int fd)
{
    for (size_t i = 0; i < e->n_socks; i++) {
        if (e->socks[i] == fd)
            return;
    }
    if (e->n_socks == e->cap_socks) {
        size_t cap = e->cap_socks ? e->cap_socks * 2 : 16;
        int *p = realloc(e->socks, cap * sizeof(*p));
        if (!p)
            return; /* then a dripping head can time out early: nothing worse */
        e->socks = p;
        e->cap_socks = cap;
    }
    e->socks[e->n_socks++] = fd;
}

#if defined(__linux__) && defined(TCP_INFO)
/* The text and port of a socket address (IPv4 or IPv6); 0 if it is neither. */
static int sockaddr_text(const struct sockaddr_storage *ss, char *ip, size_t cap, int *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        *port = ntohs(a->sin_port);
        return inet_ntop(AF_INET, &a->sin_addr, ip, (socklen_t)cap) != NULL;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        *port = ntohs(a->sin6_port);
        return inet_ntop(AF_INET6, &a->sin6_addr, ip, (socklen_t)cap) != NULL;
    }
    return 0;
}

/* 1: fd is the socket of x's connection; 0: another one; -1: no longer a socket. */
static int socket_is_xfers(int fd, const httpr_xfer *x)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];
    int port;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return (errno == EBADF || errno == ENOTSOCK) ? -1 : 0;
    if (!sockaddr_text(&ss, ip, sizeof(ip), &port) || port != x->conn_local_port ||
        strcmp(ip, x->conn_local_ip) != 0)
        return 0;
    len = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    return sockaddr_text(&ss, ip, sizeof(ip), &port) && port == x->conn_primary_port &&
           strcmp(ip, x->conn_primary_ip) == 0;
}

static int xfer_socket(httpr_engine *e, httpr_xfer *x)
{
    if (x->sock_fd >= 0 && socket_is_xfers(x->sock_fd, x) == 1)
        return x->sock_fd;
    x->sock_fd = -1;
    for (size_t i = 0; i < e->n_socks;) {
        int r = socket_is_xfers(e->socks[i], x);
        if (r == 1)
            return x->sock_fd = e->socks[i];
        if (r < 0) /* closed since: forget it (its number may come back via SOCKOPT) */
            e->socks[i] = e->socks[--e->n_socks];
        else
            i++;
    }
    return -1;
}

/* Another transfer in flight on the same connection (HTTP/2): its bytes would count as
 * ours, so the kernel's clock cannot be used. */
static int connection_shared(const httpr_engine *e, const httpr_xfer *x)
{
    for (const httpr_xfer *y = e->active; y; y = y->next) {
        if (y != x && y->prereq && y->conn_local_port == x->conn_local_port &&
            y->conn_primary_port == x->conn_primary_port &&
            strcmp(y->conn_local_ip, x->conn_local_ip) == 0 &&
            strcmp(y->conn_primary_ip, x->conn_primary_ip) == 0)
            return 1;
    }
    return 0;
}

/* At x's read expiry: moves last_rx to the socket's last received byte if that is later;
 * 1 when the read timer therefore runs on. */
static int read_timer_extended(httpr_engine *e, httpr_xfer *x, int64_t now)
{
    if (!x->prereq || x->conn_local_port <= 0 || connection_shared(e, x))
        return 0;
    int fd = xfer_socket(e, x);
    if (fd < 0)
        return 0;
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_last_data_recv) + sizeof(ti.tcpi_last_data_recv))
        return 0;
    int64_t last_data = now - (int64_t)ti.tcpi_last_data_recv * 1000;
    if (last_data <= x->last_rx)
        return 0;
    x->last_rx = last_data;
    return x->last_rx + x->read_ms * 1000 > now;
}

/* CLOSESOCKETFUNCTION (engine thread; every connection of the engine's handles, whichever
 * record made it): before closing, keeps the local port and the kernel's time of the last
 * received data, which PREREQ's resend check reads (api.md 13). */
int httpr_engine_close_socket(void *engine, curl_socket_t fd)
{
    httpr_engine *e = engine;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];
    int port;
    struct tcp_info ti;
    socklen_t tlen = sizeof(ti);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
        sockaddr_text(&ss, ip, sizeof(ip), &port) &&
        getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen) == 0 &&
        tlen >= offsetof(struct tcp_info, tcpi_last_data_recv) + sizeof(ti.tcpi_last_data_recv)) {
        unsigned i = e->dead_next++ % (sizeof(e->dead_socks) / sizeof(e->dead_socks[0]));
        e->dead_socks[i].local_port = port;
        e->dead_socks[i].last_data_us = httpr_now_us() - (int64_t)ti.tcpi_last_data_recv * 1000;
    }
    for (size_t i = 0; i < e->n_socks; i++) {
        if (e->socks[i] == (int)fd) {
            e->socks[i] = e->socks[--e->n_socks];
            break;
        }
    }
    return close(fd);
}

/* 1 when the socket closed last with that local port received data after since_us, beyond
 * the kernel clock's grain (tcpi_last_data_recv counts jiffies: 4 ms at HZ=250, 10 ms at
 * HZ=100). Data within the grain reads as none: the one allowed resend may then happen. */
int httpr_engine_data_after(const httpr_engine *e, int local_port, int64_t since_us)
{
    size_t n = sizeof(e->dead_socks) / sizeof(e->dead_socks[0]);
    for (size_t k = 1; k <= n; k++) {
        size_t i = (e->dead_next - k) % n;
        if (e->dead_socks[i].local_port == local_port && local_port > 0)
            return e->dead_socks[i].last_data_us > since_us + HTTPR_KERNEL_CLOCK_GRAIN_US;
    }
    return 0;
}
#else
static int read_timer_extended(httpr_engine *e, httpr_xfer *x, int64_t now)
{
    (void)e;
    (void)x;
    (void)now;
    return 0; /* no TCP_INFO: the read timer is reset by complete head lines only */
}
int httpr_engine_close_socket(void *engine, curl_socket_t fd)
{
    (void)engine;
    return close(fd);
}

int httpr_engine_data_after(const httpr_engine *e, int local_port, int64_t since_us)
{
    (void)e;
    (void)local_port;
    (void)since_us;
    return 0; /* no TCP_INFO: libcurl's one resend is allowed, the cap still holds */
}
#endif

static void check_deadlines(httpr_engine *e, int64_t now)
{
    int64_t next = INT64_MAX;
    httpr_xfer *x = e->active;
    while (x) {
        httpr_xfer *following = x->next;
        int reason;
        int64_t at = xfer_deadline(x, &reason);
        if (at <= now && reason == HTTPR_REASON_READ && read_timer_extended(e, x, now))
            at = xfer_deadline(x, &reason); /* bytes arrived the callbacks did not see */
        if (at <= now)
            engine_finish(e, x, CURLE_OPERATION_TIMEDOUT, reason);
        else if (at < next)
            next = at;
        x = following;
    }
    e->next_check = next;
}

void httpr_engine_note_deadline(httpr_engine *e, int64_t at)
{
    if (at < e->next_check)
        e->next_check = at;
}

static void engine_add(httpr_engine *e, httpr_xfer *x)
{
    CURLMcode mc = curl_multi_add_handle(e->multi, x->easy);
    if (mc != CURLM_OK) {
        engine_finish(e, x, CURLE_FAILED_INIT, HTTPR_REASON_NONE);
        return;
    }
    x->in_multi = 1;
    x->prev = NULL;
    x->next = e->active;
    if (e->active)
        e->active->prev = x;
    e->active = x;
    e->n_active++;
    if (e->n_active > e->maxconnects) {
        /* Keep the idle cache at least as large as the load (design.md section 5). */
        e->maxconnects = e->n_active;
        curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, e->maxconnects);
    }
    int reason;
    httpr_engine_note_deadline(e, xfer_deadline(x, &reason));
}

/* Whether the one transfer in flight is a stream receiving its body. Its socket wakes the
 * engine for every batch, so spinning after one only takes a core from the reader and the
 * server. Measured (50 MiB from nginx through iter_bytes, median of 8 interleaved rounds,
 * together with the reader's spin and the drain spin removed): 23.2 -> 20.3 ms wall,
 * 22.8 -> 15.2 ms CPU; pycurl 17.5 ms. */
static int streaming_body(const httpr_engine *e)
{
    return e->n_active == 1 && e->active->stream && e->active->delivered > 0;
}

/* x's read and write idle timers moved on (a resumed pause, an adopted inline stream). */
static void note_idle_deadlines(httpr_engine *e, const httpr_xfer *x)
{
    if (x->read_ms >= 0)
        httpr_engine_note_deadline(e, x->last_rx + x->read_ms * 1000);
    if (x->write_ms >= 0)
        httpr_engine_note_deadline(e, x->last_tx + x->write_ms * 1000);
}

/* One turn of the loop: queued submissions and commands, libcurl, completions, expired
 * deadlines. Returns 1 once the engine stops (everything in it then finished), else 0 with
 * *wait_us set to how long it may now sleep. Run by the engine thread, or by the one caller
 * driving the engine inline (e->driving). */
static int engine_turn(httpr_engine *e, int64_t *wait_us)
{
    pthread_mutex_lock(&e->lock);
    httpr_xfer *subs = e->submit_head;
    e->submit_head = e->submit_tail = NULL;
    httpr_xfer *cancels = e->cancels;
    e->cancels = NULL;
    for (httpr_xfer *c = cancels; c; c = c->cmd_next)
        c->cancel_queued = 0;
    httpr_xfer *unpauses = e->unpauses;
    e->unpauses = NULL;
    for (httpr_xfer *u = unpauses; u; u = u->unpause_next)
        u->unpause_queued = 0;
    int stop = e->stop;
    pthread_mutex_unlock(&e->lock);

    if (subs || cancels || unpauses)
        e->last_activity = httpr_now_us();
    while (subs) {
        httpr_xfer *x = subs;
        subs = x->next;
        x->next = NULL;
        if (stop)
            engine_finish(e, x, CURLE_ABORTED_BY_CALLBACK, HTTPR_REASON_CANCELLED);
        else
            engine_add(e, x);
    }
    while (cancels) {
        httpr_xfer *x = cancels;
        cancels = x->cmd_next;
        x->cmd_next = NULL;
        if (x->in_multi)
            engine_finish(e, x, CURLE_ABORTED_BY_CALLBACK, HTTPR_REASON_CANCELLED);
        httpr_engine_return_record(e, x); /* the command's reference */
    }
    while (unpauses) {
        httpr_xfer *x = unpauses;
        unpauses = x->unpause_next;
        x->unpause_next = NULL;
        if (x->in_multi) {
            pthread_mutex_lock(&x->lock);
            int was_paused = x->paused || x->up_paused;
            x->paused = 0;
            x->up_paused = 0;
            pthread_mutex_unlock(&x->lock);
            if (was_paused) {
                /* design.md 4: only the engine resumes; the write callback may run
                 * again inside this call, and the ring has room for it now. */
                x->last_rx = x->last_tx = httpr_now_us();
                note_idle_deadlines(e, x);
                curl_easy_pause(x->easy, CURLPAUSE_CONT);
            }
        }
        httpr_engine_return_record(e, x); /* the command's reference */
    }
    flush_dirty(e); /* curl_easy_pause may have delivered data */
    if (stop) {
        while (e->active)
            engine_finish(e, e->active, CURLE_ABORTED_BY_CALLBACK, HTTPR_REASON_CANCELLED);
        return 1;
    }

    int running = 0;
    curl_multi_perform(e->multi, &running);
    flush_dirty(e);
    int queued;
    CURLMsg *m;
    while ((m = curl_multi_info_read(e->multi, &queued)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        httpr_xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x && x->in_multi) {
            engine_finish(e, x, (int)m->data.result, HTTPR_REASON_NONE);
            e->last_activity = httpr_now_us();
        }
    }

    int64_t now = httpr_now_us();
    if (now >= e->next_check)
        check_deadlines(e, now);

    long curl_ms = -1;
    curl_multi_timeout(e->multi, &curl_ms);
    *wait_us = curl_ms >= 0 ? (int64_t)curl_ms * 1000 : INT64_MAX;
    if (e->next_check != INT64_MAX) {
        int64_t until = e->next_check - now;
        if (until < *wait_us)
            *wait_us = until < 0 ? 0 : until;
    }
    return 0;
}

/* Sleeps in curl_multi_poll for up to wait_us (> 0), until a socket, a deadline or a
 * submitter wakes it (no idle ticks). "sleeping" is set under the lock after checking the
 * queues, so a submitter either sees it and wakes us, or left work we see next turn. */
static void engine_sleep(httpr_engine *e, int64_t wait_us)
{
    pthread_mutex_lock(&e->lock);
    int idle = e->submit_head == NULL && e->cancels == NULL && e->unpauses == NULL && !e->stop;
    e->sleeping = idle;
    pthread_mutex_unlock(&e->lock);
    if (!idle)
        return;
    int wait_ms = wait_us == INT64_MAX ? INT_MAX
                  : wait_us >= (int64_t)INT_MAX * 1000 ? INT_MAX
                                                       : (int)((wait_us + 999) / 1000);
    curl_multi_poll(e->multi, NULL, 0, wait_ms, NULL);
    pthread_mutex_lock(&e->lock);
    e->sleeping = 0;
    pthread_mutex_unlock(&e->lock);
    e->last_activity = httpr_now_us(); /* woken: something (socket, submit) happened */
}

/* Before a sleep, soon after activity: busy-polls the sockets once without blocking and
 * yields the CPU (so a woken caller or a local server is not kept off a core), since an
 * answer from a local server is usually microseconds away and a wake-up costs more. Not
 * with several transfers in flight (their sockets wake the engine often enough), nor while
 * a stream receives its body. 1 if it polled: the caller takes another turn. */
static int engine_spin(httpr_engine *e)
{
    if (e->n_active > HTTPR_ENGINE_SPIN_MAX_ACTIVE ||
        httpr_now_us() - e->last_activity >= HTTPR_ENGINE_SPIN_US || streaming_body(e))
        return 0;
    curl_multi_poll(e->multi, NULL, 0, 0, NULL);
    sched_yield();
    return 1;
}

/* The driver (the engine thread, or an inline owner) takes over x after a time nobody drove
 * it: that time moves its idle timers on, as a pause does (design.md 6). */
static void engine_adopt(httpr_engine *e, httpr_xfer *x)
{
    if (!x->undriven_since)
        return;
    int64_t away = httpr_now_us() - x->undriven_since;
    x->inline_away_us += away;
    x->last_rx += away;
    x->last_tx += away;
    x->undriven_since = 0;
    note_idle_deadlines(e, x);
}

static void *engine_main(void *arg)
{
    httpr_engine *e = arg;
    httpr_counter_add(HTTPR_COUNTER_THREADS, 1);
    /* Inline streams left undriven are the thread's now (started under the engine lock by
     * the last driver or a submitter, so their fields are visible here). */
    for (httpr_xfer *x = e->active; x; x = x->next)
        engine_adopt(e, x);
    for (;;) {
        int64_t wait_us;
        if (engine_turn(e, &wait_us))
            break;
        if (wait_us == 0)
            continue;
        if (!engine_spin(e))
            engine_sleep(e, wait_us);
    }
    httpr_counter_add(HTTPR_COUNTER_THREADS, -1);
    return NULL;
}

/* Engine lock held: starts the engine thread. */
static int start_thread(httpr_engine *e)
{
    /* Never once httpr_engine_free has run (it would not join it), nor in a forked child. */
    if (e->stop || e->pid != httpr_self_pid())
        return HTTPR_ECLOSED;
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0)
        return HTTPR_ESYS;
    e->thread_started = 1;
    return 0;
}

/* Engine lock held (for the queue): work in the engine besides x, other transfers in the
 * multi or queued for it. */
static int others_locked(const httpr_engine *e, const httpr_xfer *x)
{
    return e->n_active > (x->in_multi ? 1 : 0) || e->submit_head != NULL;
}

static int others_waiting(httpr_engine *e, const httpr_xfer *x)
{
    pthread_mutex_lock(&e->lock);
    int others = others_locked(e, x);
    pthread_mutex_unlock(&e->lock);
    return others;
}

/* Stops driving inline. Work besides x (or everything, with to_thread) goes to the engine
 * thread, started now; otherwise x itself (a stream whose reader goes back to Python) may
 * stay in the multi undriven until its owner waits again. 0 when the engine is let go;
 * non-zero when the thread could not start (the caller then drives on). */
static int hand_over(httpr_engine *e, httpr_xfer *x, int to_thread)
{
    pthread_mutex_lock(&e->lock);
    int more = to_thread || others_locked(e, x) || e->cancels;
    int rc = more && !e->thread_started ? start_thread(e) : 0;
    if (rc == 0)
        e->driving = 0;
    pthread_mutex_unlock(&e->lock);
    return rc;
}

int httpr_engine_drive(httpr_engine *e, httpr_xfer *x, int64_t until_us, int events)
{
    if (e->pid != httpr_self_pid()) /* a forked child never drives what it inherited (design.md 7) */
        return 0;
    pthread_mutex_lock(&e->lock);
    int mine = x->inline_drive && !e->thread_started && !e->driving;
    if (mine)
        e->driving = 1;
    pthread_mutex_unlock(&e->lock);
    if (!mine)
        return 0;
    engine_adopt(e, x); /* its owner was away (a stream's reader in Python) */
    if (x->stream && x->delivered >= HTTPR_INLINE_STREAM_SAMPLE_BYTES &&
        x->inline_away_us > x->inline_busy_us) {
        /* The reader spends longer on its chunks than the engine on fetching them: the
         * engine thread fetches while the reader works (measured: a reader hashing 50 MiB
         * took 41.9 ms inline, 32.8 ms beside the thread). One way: the thread stays. */
        if (hand_over(e, x, 1) == 0)
            return 0;
    }
    int64_t drive_start = httpr_now_us();
    int stuck = 0; /* the thread could not start: drive until the others are done */
    for (;;) {
        int64_t wait_us;
        if (engine_turn(e, &wait_us)) {
            /* httpr_engine_free ran: everything has just been finished; no thread now. */
            pthread_mutex_lock(&e->lock);
            e->driving = 0;
            pthread_mutex_unlock(&e->lock);
            break;
        }
        int64_t now = httpr_now_us();
        int ready = (__atomic_load_n(&x->events, __ATOMIC_ACQUIRE) & events) != 0;
        int others = others_waiting(e, x);
        if (stuck ? !others && (ready || now >= until_us) : ready || now >= until_us || others) {
            x->inline_busy_us += now - drive_start;
            if (!(x->events & HTTPR_EV_DONE))
                x->undriven_since = now;
            if (hand_over(e, x, 0) == 0)
                break;
            /* No thread: drive the others here until they are done, as their driver now. */
            x->undriven_since = 0;
            for (httpr_xfer *y = e->active; y; y = y->next)
                engine_adopt(e, y);
            stuck = 1;
        }
        if (wait_us == 0)
            continue;
        if (engine_spin(e))
            continue;
        if (!stuck && wait_us > until_us - now)
            wait_us = until_us - now;
        if (wait_us > 0)
            engine_sleep(e, wait_us);
    }
    return 1;
}

/* ---- submit and cancel (any thread) ---- */

int httpr_engine_submit(httpr_engine *e, httpr_xfer *x)
{
    return httpr_engine_submit_inline(e, x, HTTPR_INLINE_NEVER);
}

int httpr_engine_submit_inline(httpr_engine *e, httpr_xfer *x, int mode)
{
    if (!e || !x || x->engine != e || x->submitted)
        return HTTPR_EINVAL;
    pthread_mutex_lock(&e->lock);
    if (e->closed || e->pid != httpr_self_pid()) {
        pthread_mutex_unlock(&e->lock);
        return HTTPR_ECLOSED;
    }
    /* A buffered request inline only as the engine's first (warm sequential requests are
     * faster through the spinning thread, which overlaps its clean-up with the caller); a
     * sync stream whenever the engine has no thread. */
    x->inline_drive = !e->thread_started &&
                      (mode == HTTPR_INLINE_STREAM || (mode == HTTPR_INLINE_FIRST && !e->driven));
    x->undriven_since = 0;
    x->inline_away_us = x->inline_busy_us = 0;
    if (x->inline_drive) {
        e->driven = 1; /* its owner runs the loop while it waits (httpr_engine_drive) */
    } else if (!e->thread_started && !e->driving) {
        /* Started at the first request not run inline, so constructing a client costs no
         * thread. While a caller drives, it starts the thread when it sees this transfer. */
        if (start_thread(e) != 0) {
            pthread_mutex_unlock(&e->lock);
            return HTTPR_ESYS;
        }
    }
    x->submitted = 1;
    x->t_submit = httpr_now_us();
    x->refs++; /* the engine's, until DONE; nobody else can see x yet */
    x->next = NULL;
    if (e->submit_tail)
        e->submit_tail->next = x;
    else
        e->submit_head = x;
    e->submit_tail = x;
    int wake = e->sleeping;
    e->sleeping = 0; /* one wake-up is enough for everything queued before it */
    pthread_mutex_unlock(&e->lock);
    httpr_counter_add(HTTPR_COUNTER_IN_FLIGHT, 1);
    if (wake)
        curl_multi_wakeup(e->multi);
    return 0;
}

/* Queues a command for the engine thread (any thread). The command holds a reference on x,
 * since its owner may free it before the engine runs the command; a transfer that already
 * ended has nothing to command, and one already on the list is not queued twice. */
static void engine_command(httpr_engine *e, httpr_xfer *x, httpr_xfer **list, int *queued,
                           httpr_xfer **next, int needs_driver)
{
    if (e->pid != httpr_self_pid()) /* the parent's engine: a child's locks and thread are not ours */
        return;
    pthread_mutex_lock(&x->lock);
    int live = x->submitted && !(x->events & HTTPR_EV_DONE);
    if (live)
        x->refs++;
    pthread_mutex_unlock(&x->lock);
    if (!live)
        return;
    pthread_mutex_lock(&e->lock);
    int already = *queued;
    if (!already) {
        *queued = 1;
        *next = *list;
        *list = x;
        /* An inline transfer whose owner is not driving (a stream's reader in Python, an
         * interrupted request): nobody would run the command, so the thread starts. An
         * unpause comes from the reader itself, which drives when it next waits. If the
         * thread cannot start, the owner's next wait runs the command. */
        if (needs_driver && !e->thread_started && !e->driving)
            (void)start_thread(e);
    }
    int wake = e->sleeping; /* the thread's or an inline driver's sleep */
    if (wake)
        e->sleeping = 0;
    pthread_mutex_unlock(&e->lock);
    if (already)
        httpr_engine_return_record(e, x);
    else if (wake)
        curl_multi_wakeup(e->multi);
}

void httpr_engine_request_unpause(httpr_engine *e, httpr_xfer *x)
{
    engine_command(e, x, &e->unpauses, &x->unpause_queued, &x->unpause_next, 0);
}

int httpr_engine_cancel(httpr_engine *e, httpr_xfer *x)
{
    if (!e || !x || x->engine != e)
        return HTTPR_EINVAL;
    /* Idempotent: a finished transfer has nothing to cancel. */
    engine_command(e, x, &e->cancels, &x->cancel_queued, &x->cmd_next, 1);
    return 0;
}

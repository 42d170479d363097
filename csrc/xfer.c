/*
 * xfer.c - the transfer record: options from httpr_options, the header/body/read callbacks,
 * the head caps and framing checks, the body buffer, the result (design.md sections 2-3, 9).
 *
 * Threads: httpr_xfer_new/setup/start/wait/result/free are called by Python threads (cffi
 * releases the GIL around them). The curl callbacks below run on the engine thread only,
 * between submit and DONE, and touch only fields no other thread reads before DONE.
 */
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* ---- small helpers ---- */

int httpr_buf_resize(httpr_buf *b, size_t cap)
{
    char *p = realloc(b->data, cap);
    if (!p)
        return HTTPR_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

static int buf_reserve(httpr_buf *b, size_t extra)
{
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 16 * 1024;
    while (cap < need)
        cap *= 2;
    return httpr_buf_resize(b, cap);
}

static int buf_append(httpr_buf *b, const char *src, size_t n)
{
    if (buf_reserve(b, n + 1) != 0)
        return HTTPR_ENOMEM;
    memcpy(b->data + b->len, src, n);
    b->len += n;
    b->data[b->len] = '\0'; /* the head is read as text by nobody, but keep it terminated */
    return 0;
}

/* Trims a buffer kept for reuse: warm up to `keep` bytes, freed above. */
static void buf_recycle(httpr_buf *b, size_t keep)
{
    b->len = 0;
    if (b->cap > keep) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

int httpr_header_name_is(const char *line, size_t len, const char *name, size_t name_len)
{
    if (len <= name_len || line[name_len] != ':')
        return 0;
    for (size_t i = 0; i < name_len; i++) {
        if (tolower((unsigned char)line[i]) != name[i])
            return 0;
    }
    return 1;
}

void httpr_header_value(const char *line, size_t len, size_t name_len, const char **v,
                        size_t *vlen)
{
    size_t i = name_len + 1;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    size_t end = len;
    while (end > i && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' ' ||
                       line[end - 1] == '\t'))
        end--;
    *v = line + i;
    *vlen = end - i;
}

static void fail(httpr_xfer *x, int reason)
{
    if (x->reason == HTTPR_REASON_NONE)
        x->reason = reason;
}

/* Appends NUL-terminated lines (len bytes in all) to an slist the record owns. */
static int slist_add_lines(struct curl_slist **list, const char *lines, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        const char *line = lines + pos;
        size_t n = strnlen(line, len - pos);
        if (pos + n >= len)
            return HTTPR_EINVAL; /* the last line lacks its NUL */
        struct curl_slist *next = curl_slist_append(*list, line);
        if (!next)
            return HTTPR_ENOMEM;
        *list = next;
        pos += n + 1;
    }
    return 0;
}

/* The CLOCK_REALTIME instant timeout_ms from now, for pthread_cond_timedwait. */
static void deadline_after(int timeout_ms, struct timespec *until)
{
    clock_gettime(CLOCK_REALTIME, until);
    until->tv_sec += timeout_ms / 1000;
    until->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until->tv_nsec >= 1000000000L) {
        until->tv_sec += 1;
        until->tv_nsec -= 1000000000L;
    }
}

/* ---- framing checks (R10, amendment 2.2) ---- */

/* Content-Length: 1*DIGIT (RFC 9110 section 8.6). A list of equal values ("5, 5") is
 * allowed by the RFC but is what request smuggling hides behind: refused, as h11 does. */
static int check_content_length(httpr_xfer *x, const char *v, size_t n)
{
    if (n == 0 || n > 18)
        return -1;
    int64_t value = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        value = value * 10 + (v[i] - '0');
    }
    if (x->content_length >= 0 && x->content_length != value)
        return -1;
    x->content_length = value;
    return 0;
}

int httpr_list_next(const char *v, size_t n, size_t *pos, const char **elem, size_t *len)
{
    size_t i = *pos;
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
        i++;
    if (i == n) {
        *pos = n;
        return 0;
    }
    size_t start = i;
    while (i < n && v[i] != ',')
        i++;
    size_t end = i;
    while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
        end--;
    *elem = v + start;
    *len = end - start;
    *pos = i;
    return 1;
}

/* Counts "chunked" codings in a Transfer-Encoding value (comma-separated, any case). */
static int count_chunked(const char *v, size_t n)
{
    int count = 0;
    size_t pos = 0, len;
    const char *t;
    while (httpr_list_next(v, n, &pos, &t, &len)) {
        const char *semi = memchr(t, ';', len); /* transfer-coding parameters follow */
        if (semi) {
            len = (size_t)(semi - t);
            while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\t'))
                len--;
        }
        if (len == 7 && strncasecmp(t, "chunked", 7) == 0)
            count++;
    }
    return count;
}

static void head_reset(httpr_xfer *x)
{
    x->head.len = 0;
    x->trailer_bytes = 0;
    x->head_lines = 0;
    x->head_status = 0;
    x->content_length = -1;
    x->chunked = 0;
    x->encoded = 0;
}

/* The final head's blank line: framing and early size checks, then HEAD. */
static int head_complete(httpr_xfer *x)
{
    if (x->chunked > 1 || (x->chunked && x->content_length >= 0)) {
        fail(x, HTTPR_REASON_FRAMING);
        return -1;
    }
    /* amendment 2.7: a declared length above the cap fails before the body, only without
     * content-coding (the decoded size is unknown) and never for HEAD (no body follows). */
    if (x->max_response_size >= 0 && !x->encoded && !x->head_request &&
        x->content_length > x->max_response_size) {
        fail(x, HTTPR_REASON_SIZE_CAP);
        return -1;
    }
    /* Coded bytes httpr decodes itself (decode.c) fill the buffer first: pre-sized too. */
    if (!x->stream && (!x->encoded || x->own_decode) && !x->head_request &&
        x->content_length > 0) {
        size_t want = (size_t)x->content_length;
        if (want > HTTPR_PRESIZE_MAX_BYTES)
            want = HTTPR_PRESIZE_MAX_BYTES;
        if (buf_reserve(&x->resp, want + 1) != 0) {
            fail(x, HTTPR_REASON_USER);
            return -1;
        }
    }
    x->head_done = 1;
    pthread_mutex_lock(&x->lock);
    __atomic_or_fetch(&x->events, HTTPR_EV_HEAD, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    if (x->stream)
        httpr_engine_publish(x->engine, x, HTTPR_EV_HEAD);
    return 0;
}

/* ---- libcurl callbacks (engine thread) ---- */

/* CURLOPT_HEADERFUNCTION: one call per head line, 1xx heads and trailers included. */
static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
    httpr_xfer *x = userdata;
    size_t len = size * nitems;
    x->last_rx = httpr_now_us();
    if (!x->read_active) {
        /* The first response byte starts the read phase (amendment 1.2). */
        x->read_active = 1;
        if (x->read_ms >= 0)
            httpr_engine_note_deadline(x->engine, x->last_rx + x->read_ms * 1000);
    }
    x->write_active = 0;

    if (x->head_done) {
        /* Trailers count toward the final head's caps (amendment 3.12). */
        x->head_lines++;
        x->trailer_bytes += len;
        if (x->head_lines > HTTPR_MAX_HEADER_LINES ||
            x->head.len + x->trailer_bytes > HTTPR_MAX_HEADER_BYTES) {
            fail(x, HTTPR_REASON_HEADER_CAP);
            return 0;
        }
        return len;
    }
    if (len == 0 || (len <= 2 && (line[0] == '\r' || line[0] == '\n'))) {
        if (x->head_lines == 0)
            return len; /* stray blank line before a status line: nothing to end */
        if (x->head_status >= 100 && x->head_status < 200) {
            head_reset(x); /* 1xx: consumed, never merged (api.md section 6) */
            return len;
        }
        return head_complete(x) == 0 ? len : 0;
    }
    if (x->head.len + len > HTTPR_MAX_HEADER_BYTES || x->head_lines + 1 > HTTPR_MAX_HEADER_LINES) {
        fail(x, HTTPR_REASON_HEADER_CAP);
        return 0;
    }
    if (x->head_lines == 0) {
        /* The status line: "HTTP/1.1 200 OK" or "HTTP/2 200". libcurl 7.88 accepts http/1.1
         * from ALPN even with prior knowledge asked for on https://. */
        if (x->require_h2 && len >= 7 && memcmp(line, "HTTP/1.", 7) == 0) {
            fail(x, HTTPR_REASON_VERSION);
            return 0;
        }
        const char *sp = memchr(line, ' ', len);
        long status = 0;
        if (sp && (size_t)(sp - line) + 4 <= len) {
            for (int i = 1; i <= 3; i++) {
                char c = sp[i];
                status = (c >= '0' && c <= '9') ? status * 10 + (c - '0') : -1;
                if (status < 0)
                    break;
            }
        }
        x->head_status = status;
    } else if (httpr_header_name_is(line, len, "content-length", 14)) {
        const char *v;
        size_t n;
        httpr_header_value(line, len, 14, &v, &n);
        if (check_content_length(x, v, n) != 0) {
            fail(x, HTTPR_REASON_FRAMING);
            return 0;
        }
    } else if (httpr_header_name_is(line, len, "transfer-encoding", 17)) {
        const char *v;
        size_t n;
        httpr_header_value(line, len, 17, &v, &n);
        x->chunked += count_chunked(v, n);
    } else if (httpr_header_name_is(line, len, "content-encoding", 16)) {
        const char *v;
        size_t n;
        httpr_header_value(line, len, 16, &v, &n);
        if (!(n == 8 && strncasecmp(v, "identity", 8) == 0) && n > 0)
            x->encoded = 1;
    }
    if (buf_append(&x->head, line, len) != 0) {
        fail(x, HTTPR_REASON_USER);
        return 0;
    }
    x->head_lines++;
    return len;
}

/* CURLOPT_WRITEFUNCTION: decoded body bytes, <= CURL_MAX_WRITE_SIZE per call. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    httpr_xfer *x = userdata;
    size_t n = size * nmemb;
    x->last_rx = httpr_now_us();
    /* R6 / amendment 1.13: the cap counts decoded bytes; the user never gets more than N. */
    if (x->max_response_size >= 0 && x->delivered + (int64_t)n > x->max_response_size) {
        fail(x, HTTPR_REASON_SIZE_CAP);
        return 0;
    }
    if (x->stream) {
        /* design.md 4: a full ring pauses the transfer; libcurl delivers this chunk again
         * after the engine unpauses it. Only what fits whole is taken, so nothing is split. */
        pthread_mutex_lock(&x->lock);
        if (httpr_ring_space(&x->ring) < n) {
            x->paused = 1;
            x->unpause_asked = 0;
            pthread_mutex_unlock(&x->lock);
            return CURL_WRITEFUNC_PAUSE;
        }
        /* The copy runs outside the lock, so a reader taking its chunk never sleeps on the
         * lock behind it: the free space is ours while ring_writing stops it rewinding. */
        size_t at = httpr_ring_tail(&x->ring);
        x->ring_writing = 1;
        pthread_mutex_unlock(&x->lock);
        httpr_ring_fill(&x->ring, at, data, n);
        pthread_mutex_lock(&x->lock);
        x->ring_writing = 0;
        httpr_ring_commit(&x->ring, n);
        x->delivered += (int64_t)n;
        /* One wake-up per batch, not per 16 KiB callback: a reader that has seen the ring
         * empty (DATA clear) is woken once a full chunk is in, or by the engine after this
         * pass over the sockets (httpr_xfer_signal_data), whichever comes first. */
        int now = 0;
        if (!(x->events & HTTPR_EV_DATA)) {
            if (x->ring.len >= HTTPR_STREAM_CHUNK_BYTES) {
                __atomic_or_fetch(&x->events, HTTPR_EV_DATA, __ATOMIC_RELEASE);
                pthread_cond_broadcast(&x->cond);
                now = 1;
            } else if (!x->data_dirty) {
                x->data_dirty = 1;
                httpr_engine_mark_dirty(x->engine, x);
            }
        }
        pthread_mutex_unlock(&x->lock);
        if (now)
            httpr_engine_publish(x->engine, x, HTTPR_EV_DATA);
        return n;
    }
    if (buf_reserve(&x->resp, n + 1) != 0) {
        fail(x, HTTPR_REASON_USER);
        return 0;
    }
    memcpy(x->resp.data + x->resp.len, data, n);
    x->resp.len += n;
    x->delivered += (int64_t)n;
    return n;
}

/* Engine thread, after a pass over the sockets: wakes the reader of a stream that got data
 * in the pass (unless a full chunk already did). */
void httpr_xfer_signal_data(httpr_xfer *x)
{
    pthread_mutex_lock(&x->lock);
    x->data_dirty = 0;
    int now = !(x->events & HTTPR_EV_DATA) && x->ring.len > 0;
    if (now) {
        __atomic_or_fetch(&x->events, HTTPR_EV_DATA, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&x->cond);
    }
    pthread_mutex_unlock(&x->lock);
    if (now)
        httpr_engine_publish(x->engine, x, HTTPR_EV_DATA);
}

/* CURLOPT_READFUNCTION: the request body, from the record's own copy or, for an upload
 * fed by Python, from the upload ring (design.md 4: pause when empty before the end). */
static size_t on_read(char *dst, size_t size, size_t nitems, void *userdata)
{
    httpr_xfer *x = userdata;
    size_t want = size * nitems;
    if (x->upload) {
        pthread_mutex_lock(&x->lock);
        if (x->upring.len == 0) {
            if (x->up_eof) {
                pthread_mutex_unlock(&x->lock);
                return 0;
            }
            x->up_paused = 1;
            pthread_mutex_unlock(&x->lock);
            return CURL_READFUNC_PAUSE;
        }
        int was_full = httpr_ring_space(&x->upring) == 0;
        size_t n = httpr_ring_read(&x->upring, dst, want);
        x->body_pos += n;
        if (was_full) {
            __atomic_or_fetch(&x->events, HTTPR_EV_SPACE, __ATOMIC_RELEASE);
            pthread_cond_broadcast(&x->cond);
        }
        pthread_mutex_unlock(&x->lock);
        if (was_full)
            httpr_engine_publish(x->engine, x, HTTPR_EV_SPACE);
        return n;
    }
    size_t left = x->body_len - x->body_pos;
    size_t n = want < left ? want : left;
    if (n)
        memcpy(dst, x->body + x->body_pos, n);
    /* atomic: a waiting caller reads it (sending_much) */
    __atomic_store_n(&x->body_pos, x->body_pos + n, __ATOMIC_RELAXED);
    return n; /* bytes handed to libcurl's buffer, not sent: on_progress times the writes */
}

/* CURLOPT_SEEKFUNCTION: libcurl rewinds a body to resend it on a dead reused connection
 * (design.md section 4). Only buffered bodies of idempotent requests may be resent;
 * everything else answers CANTSEEK, which fails the transfer (65 -> WriteError) instead
 * of a silent resend (amendment 2.1). */
static int on_seek(void *userdata, curl_off_t offset, int origin)
{
    httpr_xfer *x = userdata;
    /* libcurl rewinds before its own resend, ahead of PREREQ: a response byte on the dead
     * connection forbids it (api.md 13, resend_allowed), and makes the error a ReadError. */
    if (x->prereq && httpr_engine_data_after(x->engine, x->conn_local_port, x->t_prereq)) {
        fail(x, HTTPR_REASON_RESEND);
        return CURL_SEEKFUNC_CANTSEEK;
    }
    if (!x->body_replayable || origin != SEEK_SET || offset < 0 || (size_t)offset > x->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    __atomic_store_n(&x->body_pos, (size_t)offset, __ATOMIC_RELAXED); /* see on_read */
    return CURL_SEEKFUNC_OK;
}

/* CURLOPT_XFERINFOFUNCTION (bodies only): upload progress resets the write-idle timer, and
 * the whole body handed to the socket starts the read timer (design.md section 6). */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    httpr_xfer *x = userdata;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    if (!x->write_active)
        return 0;
    /* libcurl calls this periodically whether or not bytes moved: only progress (more bytes
     * handed to the socket) resets the write-idle timer. */
    if (ulnow > x->ul_seen) {
        x->ul_seen = ulnow;
        x->last_tx = httpr_now_us();
    }
    int all_given = x->upload ? x->up_eof && x->upring.len == 0 && x->body_pos == (size_t)ulnow
                              : (size_t)ulnow >= x->body_len && x->body_pos >= x->body_len;
    if (all_given) {
        x->write_active = 0;
        if (!x->read_active) {
            x->read_active = 1;
            x->last_rx = httpr_now_us();
            if (x->read_ms >= 0)
                httpr_engine_note_deadline(x->engine, x->last_rx + x->read_ms * 1000);
        }
    }
    return 0;
}

/* PREREQ called again for one transfer: libcurl 7.88 is resending by itself, because the
 * reused connection died before a complete head line (Curl_retry_request counts complete
 * lines and body bytes only, so "HTTP/1.1 " then a reset looks stale), and would go on once
 * per further pooled connection, up to 5 times. api.md 13 allows one resend, and only when
 * no response byte arrived: the kernel's time of the dead socket's last data (kept as
 * libcurl closed it, x's fields still name it) must be before the request went. */
static int resend_allowed(httpr_xfer *x)
{
    if (x->resends++ > 0)
        return 0;
    return !httpr_engine_data_after(x->engine, x->conn_local_port, x->t_prereq);
}

/* CURLOPT_PREREQFUNCTION: a connection (new or pooled) is ready and the request is about to
 * go: the pool phase ends; the write phase (body) or the read phase (no body) begins. */
static int on_prereq(void *userdata, char *conn_primary_ip, char *conn_local_ip,
                     int conn_primary_port, int conn_local_port)
{
    httpr_xfer *x = userdata;
    int64_t now = httpr_now_us();
    if (x->prereq && !resend_allowed(x)) {
        fail(x, HTTPR_REASON_RESEND);
        return CURL_PREREQFUNC_ABORT;
    }
    x->t_prereq = now;
    /* FLT-16: which connection this is, new or pooled (the read expiry looks its socket up) */
    snprintf(x->conn_local_ip, sizeof(x->conn_local_ip), "%s",
             conn_local_ip ? conn_local_ip : "");
    snprintf(x->conn_primary_ip, sizeof(x->conn_primary_ip), "%s",
             conn_primary_ip ? conn_primary_ip : "");
    x->conn_local_port = conn_local_port;
    x->conn_primary_port = conn_primary_port;
    x->sock_fd = -1;
    x->conn_started = 1;
    x->prereq = 1;
    if (x->send_body && (x->body_len > 0 || x->upload)) {
        x->write_active = 1;
        x->last_tx = now;
        if (x->write_ms >= 0)
            httpr_engine_note_deadline(x->engine, now + x->write_ms * 1000);
    } else if (!x->read_active) {
        x->read_active = 1;
        x->last_rx = now;
        if (x->read_ms >= 0)
            httpr_engine_note_deadline(x->engine, now + x->read_ms * 1000);
    }
    /* connect=0 is checked between the new connection's start and this point. */
    return CURL_PREREQFUNC_OK;
}

/* CURLOPT_SOCKOPTFUNCTION / RESOLVER_START_FUNCTION: a new connection is being made, so the
 * wait for a connection slot (pool phase) is over; connect time is libcurl's to bound. */
static int on_sockopt(void *userdata, curl_socket_t fd, curlsocktype purpose)
{
    httpr_xfer *x = userdata;
    if (purpose == CURLSOCKTYPE_IPCXN)
        httpr_engine_note_socket(x->engine, (int)fd); /* FLT-16 */
    if (!x->conn_started && x->connect_ms == 0)
        httpr_engine_note_deadline(x->engine, x->t_submit);
    x->conn_started = 1;
    return CURL_SOCKOPT_OK;
}

static int on_resolver_start(void *resolver_state, void *reserved, void *userdata)
{
    httpr_xfer *x = userdata;
    (void)resolver_state;
    (void)reserved;
    x->conn_started = 1;
    return 0;
}

/* ---- lifecycle ---- */

int httpr_xfer_new(httpr_engine *e, httpr_xfer **out)
{
    if (!e || !out)
        return HTTPR_EINVAL;
    return httpr_engine_take_record(e, out);
}

/* Frees everything the record owns; the engine calls it when a record leaves the pool. */
void httpr_xfer_destroy(httpr_xfer *x)
{
    if (!x)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    curl_slist_free_all(x->proxy_headers);
    free(x->body);
    free(x->head.data);
    free(x->resp.data);
    free(x->scratch.data);
    httpr_decode_free(x->inflater);
    httpr_ring_free(&x->ring);
    httpr_ring_free(&x->upring);
    pthread_cond_destroy(&x->cond);
    pthread_mutex_destroy(&x->lock);
    free(x);
    httpr_counter_add(HTTPR_COUNTER_RECORDS, -1);
}

/* Drops the per-request state so the record can serve another request; buffers up to
 * HTTPR_KEEP_BODY_BYTES stay allocated. */
void httpr_xfer_reset_for_pool(httpr_xfer *x)
{
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    curl_slist_free_all(x->proxy_headers);
    x->proxy_headers = NULL;
    if (x->body_cap > HTTPR_KEEP_BODY_BYTES) {
        free(x->body);
        x->body = NULL;
        x->body_cap = 0;
    }
    x->body_len = x->body_pos = 0;
    buf_recycle(&x->head, HTTPR_MAX_HEADER_BYTES);
    buf_recycle(&x->resp, HTTPR_KEEP_BODY_BYTES);
    buf_recycle(&x->scratch, HTTPR_KEEP_SCRATCH_BYTES);
    httpr_ring_free(&x->ring); /* 1 MiB each: a full record pool must not pin 64 of them */
    httpr_ring_free(&x->upring);
}

/* ---- SEC-19: the copy of the security-relevant options applied (security.md 2) ---- */

/* (option, field) for each value kept: L a long (curl_off_t is long on LP64), S a string
 * (kept as its length), P a callback or list (kept as set / NULL). */
#define BASELINE_OPTIONS(L, S, P)                                                                  \
    L(CURLOPT_FOLLOWLOCATION, followlocation)                                                      \
    L(CURLOPT_AUTOREFERER, autoreferer)                                                            \
    L(CURLOPT_UNRESTRICTED_AUTH, unrestricted_auth)                                                \
    L(CURLOPT_HTTP09_ALLOWED, http09_allowed)                                                      \
    L(CURLOPT_NETRC, netrc)                                                                        \
    L(CURLOPT_HTTPAUTH, httpauth)                                                                  \
    L(CURLOPT_SSL_VERIFYPEER, ssl_verifypeer)                                                      \
    L(CURLOPT_SSL_VERIFYHOST, ssl_verifyhost)                                                      \
    L(CURLOPT_PROXY_SSL_VERIFYPEER, proxy_ssl_verifypeer)                                          \
    L(CURLOPT_PROXY_SSL_VERIFYHOST, proxy_ssl_verifyhost)                                          \
    L(CURLOPT_SSLVERSION, sslversion)                                                              \
    L(CURLOPT_PROXY_SSLVERSION, proxy_sslversion)                                                  \
    S(CURLOPT_CAINFO, cainfo)                                                                      \
    S(CURLOPT_CAPATH, capath)                                                                      \
    S(CURLOPT_PROXY_CAINFO, proxy_cainfo)                                                          \
    S(CURLOPT_PROXY_CAPATH, proxy_capath)                                                          \
    P(CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_function)                                                  \
    S(CURLOPT_PROXY, proxy)                                                                        \
    S(CURLOPT_NOPROXY, noproxy)                                                                    \
    L(CURLOPT_HEADEROPT, headeropt)                                                                \
    S(CURLOPT_PROXYUSERPWD, proxyuserpwd)                                                          \
    L(CURLOPT_CONNECTTIMEOUT_MS, connecttimeout_ms)                                                \
    S(CURLOPT_ACCEPT_ENCODING, accept_encoding)                                                    \
    L(CURLOPT_HTTP_CONTENT_DECODING, http_content_decoding)                                        \
    L(CURLOPT_NOSIGNAL, nosignal)                                                                  \
    L(CURLOPT_NOBODY, nobody)                                                                      \
    P(CURLOPT_READFUNCTION, readfunction)                                                          \
    P(CURLOPT_SEEKFUNCTION, seekfunction)                                                          \
    P(CURLOPT_HTTPHEADER, httpheader)                                                              \
    S(CURLOPT_COOKIEFILE, cookiefile)                                                              \
    S(CURLOPT_COOKIEJAR, cookiejar)                                                                \
    S(CURLOPT_COOKIELIST, cookielist)                                                              \
    L(CURLOPT_VERBOSE, verbose)                                                                    \
    P(CURLOPT_DEBUGFUNCTION, debugfunction)                                                        \
    L(CURLOPT_MAXFILESIZE, maxfilesize)                                                            \
    L(CURLOPT_MAXFILESIZE_LARGE, maxfilesize_large)

/* The value passed to curl_easy_setopt, seen as each kind (the others read as 0/NULL). */
#define BASELINE_AS_LONG(v) _Generic((v), long: (v), default: 0L)
#define BASELINE_AS_STR(v) _Generic((v), char *: (v), const char *: (v), default: (const char *)0)
#define BASELINE_AS_SET(v) _Generic((v), long: 0L, default: (long)((v) != 0))

/* Setup starts a new copy: nothing applied yet. */
static void baseline_begin(httpr_xfer *x)
{
    httpr_baseline *b = &x->baseline;
    uint64_t uses = b->uses + 1;
    memset(b, 0, sizeof(*b));
    b->uses = uses;
#define BASELINE_UNSET(opt, field) b->field = HTTPR_OPT_UNSET;
    BASELINE_OPTIONS(BASELINE_UNSET, BASELINE_UNSET, BASELINE_UNSET)
#undef BASELINE_UNSET
    b->expect_empty = 0;
}

static void baseline_copy_str(char *dst, size_t cap, const char *s)
{
    size_t n = s ? strnlen(s, cap - 1) : 0;
    memcpy(dst, s ? s : "", n);
    dst[n] = '\0';
}

/* An empty "Expect:" among the request's header lines (the list HTTPHEADER was given). */
static long headers_have_empty_expect(const struct curl_slist *l)
{
    for (; l; l = l->next) {
        const char *v;
        size_t n, len = strlen(l->data);
        if (!httpr_header_name_is(l->data, len, "expect", 6))
            continue;
        httpr_header_value(l->data, len, 6, &v, &n);
        if (n == 0)
            return 1;
    }
    return 0;
}

/* Called by SET after libcurl accepted the option: keeps the value applied. */
static void baseline_note(httpr_xfer *x, CURLoption opt, long lv, const char *sv, long set)
{
    httpr_baseline *b = &x->baseline;
    (void)lv;
    (void)sv;
    (void)set;
    switch (opt) {
#define BASELINE_L(o, field)                                                                       \
    case o:                                                                                        \
        b->field = lv;                                                                             \
        break;
#define BASELINE_S(o, field)                                                                       \
    case o:                                                                                        \
        b->field = sv ? (long)strlen(sv) : HTTPR_OPT_NULL;                                         \
        break;
#define BASELINE_P(o, field)                                                                       \
    case o:                                                                                        \
        b->field = set;                                                                            \
        break;
        BASELINE_OPTIONS(BASELINE_L, BASELINE_S, BASELINE_P)
#undef BASELINE_L
#undef BASELINE_S
#undef BASELINE_P
    case CURLOPT_PROTOCOLS_STR:
        baseline_copy_str(b->protocols, sizeof(b->protocols), sv);
        break;
    case CURLOPT_REDIR_PROTOCOLS_STR:
        baseline_copy_str(b->redir_protocols, sizeof(b->redir_protocols), sv);
        break;
    default:
        break;
    }
    if (opt == CURLOPT_HTTPHEADER) /* the only list ever given is the record's own */
        b->expect_empty = set ? headers_have_empty_expect(x->headers) : 0;
}

static CURLcode setopt_all(httpr_xfer *x, const httpr_options *opts, const char *method,
                           const char *url)
{
    CURL *h = x->easy;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        __auto_type v_ = (val);                                                                    \
        if ((rc = curl_easy_setopt(h, opt, v_)) != CURLE_OK)                                       \
            return rc;                                                                             \
        baseline_note(x, opt, BASELINE_AS_LONG(v_), BASELINE_AS_STR(v_), BASELINE_AS_SET(v_));     \
    } while (0)

    baseline_begin(x);

    /* design.md section 9 / security.md section 2: the full baseline on every transfer, so a
     * recycled handle is never weaker than a fresh one (R12). */
    SET(CURLOPT_PRIVATE, (void *)x);
    SET(CURLOPT_SHARE, x->engine->share);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_AUTOREFERER, 0L);
    SET(CURLOPT_UNRESTRICTED_AUTH, 0L);
    SET(CURLOPT_HTTP09_ALLOWED, 0L);
    SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    SET(CURLOPT_HEADEROPT, (long)CURLHEADER_SEPARATE);
    SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    /* design.md 5: wait for a multiplexed connection rather than open more; only where
     * HTTP/2 is possible (https by ALPN, or http2_only). On http:// it made concurrent first
     * requests queue behind one connection's outcome (found by the stress suite). */
    if (strncmp(url, "https:", 6) == 0 || opts->http_version == HTTPR_HTTP_2_ONLY)
        SET(CURLOPT_PIPEWAIT, 1L);
    SET(CURLOPT_URL, url);

    long verify = opts->verify ? 1L : 0L;
    SET(CURLOPT_SSL_VERIFYPEER, verify);
    SET(CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    SET(CURLOPT_PROXY_SSL_VERIFYPEER, verify);
    SET(CURLOPT_PROXY_SSL_VERIFYHOST, verify ? 2L : 0L);
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (verify && httpr_ssl_ctx_hook_ready())
        SET(CURLOPT_SSL_CTX_FUNCTION, httpr_ssl_ctx_refuse_cn_only); /* R8 */
    SET(CURLOPT_PROXY_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (opts->ca_file) {
        /* amendment 2.4: the file replaces the trust store; Debian's libcurl would also
         * consult its CA directory unless CAPATH is cleared. */
        SET(CURLOPT_CAINFO, opts->ca_file);
        SET(CURLOPT_CAPATH, (char *)NULL);
        SET(CURLOPT_PROXY_CAINFO, opts->ca_file);
        SET(CURLOPT_PROXY_CAPATH, (char *)NULL);
    }
    /* design.md section 8: always set, else libcurl reads proxy variables by its own rules. */
    SET(CURLOPT_PROXY, opts->proxy ? opts->proxy : "");
    SET(CURLOPT_NOPROXY, opts->noproxy ? opts->noproxy : "");
    if (opts->accept_encoding)
        SET(CURLOPT_ACCEPT_ENCODING, opts->accept_encoding);
    /* Always set: a record that decoded on its own last time may stream now. */
    SET(CURLOPT_HTTP_CONTENT_DECODING, x->own_decode ? 0L : 1L);
    if (opts->proxy_userpwd)
        SET(CURLOPT_PROXYUSERPWD, opts->proxy_userpwd);
    if (x->proxy_headers)
        SET(CURLOPT_PROXYHEADER, x->proxy_headers);
    if (opts->client_pem) {
        SET(CURLOPT_SSLCERT, opts->client_pem);
        SET(CURLOPT_SSLKEY, opts->client_pem);
    } else if (opts->client_pem_data) {
        struct curl_blob blob = {(void *)opts->client_pem_data, opts->client_pem_len,
                                 CURL_BLOB_COPY};
        SET(CURLOPT_SSLCERT_BLOB, &blob);
        SET(CURLOPT_SSLKEY_BLOB, &blob);
    }

    long version = CURL_HTTP_VERSION_2TLS;
    if (opts->http_version == HTTPR_HTTP_1_1)
        version = CURL_HTTP_VERSION_1_1;
    else if (opts->http_version == HTTPR_HTTP_2_ONLY)
        version = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    SET(CURLOPT_HTTP_VERSION, version);
    if (opts->maxage_conn_s >= 0)
        SET(CURLOPT_MAXAGE_CONN, (long)opts->maxage_conn_s);

    /* Connect phase: libcurl's own timer. 0 and None are the engine's (amendment 2.8):
     * libcurl reads 0 as its 300 s default. */
    long connect_ms = HTTPR_CONNECT_TIMEOUT_NONE_MS;
    if (opts->connect_timeout_ms > 0 && opts->connect_timeout_ms < HTTPR_CONNECT_TIMEOUT_NONE_MS)
        connect_ms = (long)opts->connect_timeout_ms;
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);

    if (x->stream)
        SET(CURLOPT_BUFFERSIZE, (long)HTTPR_STREAM_RECV_BYTES);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, (void *)x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, (void *)x);
    SET(CURLOPT_PREREQFUNCTION, on_prereq);
    SET(CURLOPT_PREREQDATA, (void *)x);
    SET(CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    SET(CURLOPT_SOCKOPTDATA, (void *)x);
    SET(CURLOPT_CLOSESOCKETFUNCTION, httpr_engine_close_socket); /* a connection keeps its */
    SET(CURLOPT_CLOSESOCKETDATA, (void *)x->engine); /* maker's: the engine, not the record */
    SET(CURLOPT_RESOLVER_START_FUNCTION, on_resolver_start);
    SET(CURLOPT_RESOLVER_START_DATA, (void *)x);

    if (x->headers)
        SET(CURLOPT_HTTPHEADER, x->headers);

    /* Method and body. HEAD uses NOBODY (amendment 2.6); every body, even an empty one,
     * goes through READFUNCTION so that SEEKFUNCTION decides about resends (2.1). */
    int is_get = strcmp(method, "GET") == 0;
    int is_post = strcmp(method, "POST") == 0;
    if (x->head_request) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (x->send_body) {
        SET(CURLOPT_POST, 1L);
        /* -1: unknown length, sent chunked on HTTP/1.1 (design.md 4). */
        SET(CURLOPT_POSTFIELDSIZE_LARGE,
            x->chunked_upload ? (curl_off_t)-1 : (curl_off_t)x->body_len);
        SET(CURLOPT_READFUNCTION, on_read);
        SET(CURLOPT_READDATA, (void *)x);
        SET(CURLOPT_SEEKFUNCTION, on_seek);
        SET(CURLOPT_SEEKDATA, (void *)x);
        SET(CURLOPT_XFERINFOFUNCTION, on_progress);
        SET(CURLOPT_XFERINFODATA, (void *)x);
        SET(CURLOPT_NOPROGRESS, 0L);
        if (!is_post)
            SET(CURLOPT_CUSTOMREQUEST, method);
    } else {
        SET(CURLOPT_HTTPGET, 1L);
        if (!is_get)
            SET(CURLOPT_CUSTOMREQUEST, method);
    }
#undef SET
    return CURLE_OK;
}

int httpr_xfer_setup(httpr_xfer *x, const httpr_options *opts, const char *method,
                     const char *url, const char *headers, size_t headers_len, const char *body,
                     size_t body_len, int flags)
{
    if (!x || !opts || !url || !method || (headers_len && !headers) ||
        (body_len && !body && !(flags & HTTPR_F_UPLOAD)))
        return HTTPR_EINVAL;
    if (x->submitted)
        return HTTPR_EINVAL;

    /* Lines are NUL-terminated, so one bytes object carries them all (one cffi argument,
     * no per-line allocation in Python). */
    int lrc = slist_add_lines(&x->headers, headers, headers_len);
    if (lrc == 0 && opts->proxy_headers)
        lrc = slist_add_lines(&x->proxy_headers, opts->proxy_headers, opts->proxy_headers_len);
    if (lrc != 0)
        return lrc;
    x->resends = 0;
    x->send_body = (flags & HTTPR_F_BODY) ? 1 : 0;
    size_t copy_len = (flags & HTTPR_F_UPLOAD) ? 0 : body_len; /* fed bodies are not copied */
    if (copy_len > x->body_cap) {
        char *p = realloc(x->body, copy_len);
        if (!p)
            return HTTPR_ENOMEM;
        x->body = p;
        x->body_cap = copy_len;
    }
    if (copy_len)
        memcpy(x->body, body, copy_len);
    x->body_len = body_len;
    x->body_pos = 0;
    x->ul_seen = 0;
    x->body_replayable = (flags & HTTPR_F_REPLAYABLE) ? 1 : 0;
    x->head_request = (flags & HTTPR_F_HEAD) ? 1 : 0;
    x->stream = (flags & HTTPR_F_STREAM) ? 1 : 0;
    /* Own decoding needs libcurl to pass coded bytes on, and an Accept-Encoding it sends.
     * Under a size cap libcurl's incremental decoder stays: it aborts a decompression bomb
     * as it arrives (SEC-08), where a one-pass decoder would first take in its coded bytes.
     * So the cap checks of the callbacks only ever count decoded bytes. */
    x->own_decode = (flags & HTTPR_F_OWN_DECODE) && !x->stream && opts->accept_encoding &&
                    opts->max_response_size < 0 && httpr_decode_built();
    x->decoded = 0;
    x->upload = (flags & HTTPR_F_UPLOAD) ? 1 : 0;
    x->up_eof = 0;
    x->up_paused = 0;
    x->chunked_upload = (flags & HTTPR_F_CHUNKED) ? 1 : 0;
    if (x->upload) {
        if (!x->upring.data && httpr_ring_init(&x->upring, HTTPR_STREAM_HWM_BYTES) != 0)
            return HTTPR_ENOMEM;
        x->body_replayable = 0; /* a fed body is never resent (design.md 4) */
    }
    x->paused = 0;
    x->delivered = 0;
    if (x->stream) {
        if (!x->ring.data && httpr_ring_init(&x->ring, HTTPR_STREAM_RING_BYTES) != 0)
            return HTTPR_ENOMEM;
    }
    x->require_h2 = opts->http_version == HTTPR_HTTP_2_ONLY;
    x->notify = (flags & HTTPR_F_NOTIFY) ? 1 : 0;
    x->max_response_size = opts->max_response_size;
    x->connect_ms = opts->connect_timeout_ms;
    x->read_ms = opts->read_timeout_ms;
    x->write_ms = opts->write_timeout_ms;
    x->pool_ms = opts->pool_timeout_ms;
    x->total_ms = opts->total_timeout_ms;
    head_reset(x);
    x->errbuf[0] = '\0';

    CURLcode rc = setopt_all(x, opts, method, url);
    return rc == CURLE_OK ? 0 : (int)rc;
}

/* Which transfers their owner may run inline (engine.c, httpr_engine_drive): sync ones
 * only (async transfers and fed uploads always use the engine thread); a stream whenever the
 * engine has no thread, a buffered request (httpr_xfer_run) as the engine's first. */
static int inline_mode(int flags)
{
    if (!HTTPR_INLINE_DRIVE || (flags & (HTTPR_F_NOTIFY | HTTPR_F_UPLOAD)))
        return HTTPR_INLINE_NEVER;
    return (flags & HTTPR_F_STREAM) ? HTTPR_INLINE_STREAM : HTTPR_INLINE_FIRST;
}

/* httpr_xfer_start with the inline mode of the submit (engine.c: HTTPR_INLINE_*). */
static int start_transfer(httpr_engine *e, const httpr_options *opts, const char *method,
                          const char *url, const char *headers, size_t headers_len,
                          const char *body, size_t body_len, int flags, int inline_mode,
                          httpr_xfer **out)
{
    httpr_xfer *x = NULL;
    if (!out)
        return HTTPR_EINVAL;
    int rc = httpr_xfer_new(e, &x);
    if (rc != 0)
        return rc;
    rc = httpr_xfer_setup(x, opts, method, url, headers, headers_len, body, body_len, flags);
    if (rc == 0)
        rc = httpr_engine_submit_inline(e, x, inline_mode);
    if (rc != 0) {
        httpr_xfer_free(x);
        return rc;
    }
    *out = x;
    return 0;
}

int httpr_xfer_start(httpr_engine *e, const httpr_options *opts, const char *method,
                     const char *url, const char *headers, size_t headers_len, const char *body,
                     size_t body_len, int flags, httpr_xfer **out)
{
    /* Of the transfers started here only sync streams run inline (buffered requests do
     * through httpr_xfer_run). */
    int mode = inline_mode(flags);
    return start_transfer(e, opts, method, url, headers, headers_len, body, body_len, flags,
                          mode == HTTPR_INLINE_STREAM ? mode : HTTPR_INLINE_NEVER, out);
}

int httpr_xfer_id(httpr_xfer *x, uint64_t *id)
{
    if (!x || !id)
        return HTTPR_EINVAL;
    *id = x->id;
    return 0;
}

/* Whether more of a buffered request body than HTTPR_WAIT_SPIN_BODY_BYTES is still to go
 * to libcurl: the answer is then further away than a spin is worth, and a spinning caller
 * takes a core from the engine sending it and the server reading it. */
static int sending_much(httpr_xfer *x)
{
    if (x->upload) /* a fed upload: its feeder is the caller, which is not waiting here */
        return 0;
    size_t pos = __atomic_load_n(&x->body_pos, __ATOMIC_RELAXED);
    return x->body_len > pos && x->body_len - pos > HTTPR_WAIT_SPIN_BODY_BYTES;
}

/* Runs the engine for an inline x while its owner waits (httpr_engine_drive), until one of
 * events, or until_us. 1 if it did; 0 if x is not inline or another driver runs it. */
static int drive_while_waiting(httpr_xfer *x, int64_t until_us, int events)
{
    return x->inline_drive && httpr_engine_drive(x->engine, x, until_us, events);
}

static int64_t until_after(int timeout_ms)
{
    return httpr_now_us() + (timeout_ms > 0 ? (int64_t)timeout_ms * 1000 : 0);
}

/* A forked child waiting on a record of its parent's engine: nothing will ever drive it
 * there, and driving it would read the parent's sockets (design.md 7). */
static int inherited(const httpr_xfer *x)
{
    return x->engine->pid != httpr_self_pid();
}

int httpr_xfer_wait(httpr_xfer *x, int events, int timeout_ms)
{
    if (!x || !x->submitted)
        return HTTPR_EINVAL;
    if (inherited(x))
        return HTTPR_ECLOSED;
    int want = events | HTTPR_EV_DONE;
    if (x->inline_drive) {
        int64_t until_us = until_after(timeout_ms);
        while ((__atomic_load_n(&x->events, __ATOMIC_ACQUIRE) & want) == 0 &&
               drive_while_waiting(x, until_us, want)) {
            if (httpr_now_us() >= until_us)
                return (__atomic_load_n(&x->events, __ATOMIC_ACQUIRE) & want) ? 0
                                                                             : HTTPR_ETIMEDOUT;
        }
        /* Ready, or the thread (or another caller) drives it now: wait as usual. */
    }
    /* Yield-spin first: on the 2-core VM a futex wake-up from the engine thread costs
     * ~17 us, more than a small local request's remaining wait. Yielding keeps the engine
     * and a local server on the CPU. events only grows, so a relaxed read that sees a bit
     * is confirmed under the lock below. */
    int *spinners = &x->engine->spinners;
    if (__atomic_add_fetch(spinners, 1, __ATOMIC_RELAXED) <= HTTPR_WAIT_MAX_SPINNERS) {
        int64_t spin_until = httpr_now_us() + HTTPR_WAIT_SPIN_US;
        while ((__atomic_load_n(&x->events, __ATOMIC_ACQUIRE) & want) == 0 &&
               httpr_now_us() < spin_until && !sending_much(x))
            sched_yield();
    }
    __atomic_sub_fetch(spinners, 1, __ATOMIC_RELAXED);
    struct timespec until;
    deadline_after(timeout_ms, &until);
    int rc = 0;
    pthread_mutex_lock(&x->lock);
    while (!(x->events & want)) {
        int w = pthread_cond_timedwait(&x->cond, &x->lock, &until);
        if (w == ETIMEDOUT) {
            rc = (x->events & want) ? 0 : HTTPR_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&x->lock);
    return rc;
}

/* Engine thread, at DONE: reads every CURLINFO the result needs, so Python never touches the
 * easy handle. */
void httpr_xfer_collect(httpr_xfer *x)
{
    httpr_result *r = &x->result;
    CURL *h = x->easy;
    curl_off_t t;
    r->id = x->id;
    r->status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &r->http_version);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r->num_connects);
    curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &r->connect_code);
#define TIME(info, field)                                                                          \
    do {                                                                                           \
        t = 0;                                                                                     \
        curl_easy_getinfo(h, info, &t);                                                            \
        r->field = (int64_t)t;                                                                     \
    } while (0)
    TIME(CURLINFO_NAMELOOKUP_TIME_T, t_namelookup_us);
    TIME(CURLINFO_CONNECT_TIME_T, t_connect_us);
    TIME(CURLINFO_APPCONNECT_TIME_T, t_appconnect_us);
    TIME(CURLINFO_PRETRANSFER_TIME_T, t_pretransfer_us);
    TIME(CURLINFO_STARTTRANSFER_TIME_T, t_starttransfer_us);
    TIME(CURLINFO_TOTAL_TIME_T, t_total_us);
#undef TIME
    r->request_sent = x->prereq;
    r->head_done = x->head_done;
    r->elapsed_us = httpr_now_us() - x->t_submit;
}

/* The body still waits for decode.c. */
static int needs_decode(const httpr_xfer *x)
{
    return x->own_decode && x->encoded && !x->decoded;
}

/* The coded body becomes the decoded one, or the transfer fails as libcurl's decoder would;
 * returns the transfer's CURLcode from then on. Runs once, by whoever owns the buffers: the
 * engine thread just before DONE (async: the event loop's thread has Python to run), or the
 * caller after DONE, outside the record lock with `decoding` set (sync: the caller waits
 * anyway, and threads sharing a client decode in parallel). */
static int decode_once(httpr_xfer *x, int curlcode)
{
    if (!needs_decode(x))
        return curlcode;
    x->decoded = 1;
    if (curlcode != CURLE_OK || x->reason != HTTPR_REASON_NONE)
        return curlcode;
    int rc = httpr_decode_body(&x->inflater, x->head.data, x->head.len, &x->resp, &x->scratch,
                               x->max_response_size, x->errbuf);
    if (rc == 0)
        return CURLE_OK;
    x->resp.len = 0; /* a failed body is never handed out, not even in part */
    if (rc == HTTPR_ENOMEM) {
        snprintf(x->errbuf, sizeof(x->errbuf), "out of memory while decoding");
        rc = HTTPR_REASON_DECODING;
    }
    x->reason = rc; /* HTTPR_REASON_DECODING or HTTPR_REASON_SIZE_CAP */
    return rc == HTTPR_REASON_DECODING ? CURLE_BAD_CONTENT_ENCODING : CURLE_WRITE_ERROR;
}

int httpr_xfer_decode_for_notify(httpr_xfer *x, int curlcode)
{
    /* Larger coded bodies are left to the caller: decoding one (a bomb, with no cap on this
     * path) on the engine thread would hold up every other transfer and deadline. */
    if (!x->notify || x->resp.len > HTTPR_ENGINE_DECODE_MAX_BYTES)
        return curlcode;
    return decode_once(x, curlcode);
}

int httpr_xfer_result(httpr_xfer *x, httpr_result *out)
{
    if (!x || !out)
        return HTTPR_EINVAL;
    pthread_mutex_lock(&x->lock);
    while (x->decoding) /* another caller is decoding this body (below): its outcome counts */
        pthread_cond_wait(&x->cond, &x->lock);
    int events = x->events;
    if ((events & HTTPR_EV_DONE) && needs_decode(x)) {
        /* After DONE the buffers are the caller's: decode without the lock, which the engine
         * may need (it drops a command's reference under it). */
        x->decoding = 1;
        int curlcode = x->curlcode;
        pthread_mutex_unlock(&x->lock);
        curlcode = decode_once(x, curlcode);
        pthread_mutex_lock(&x->lock);
        x->curlcode = curlcode;
        x->decoding = 0;
        pthread_cond_broadcast(&x->cond);
    }
    if (events & HTTPR_EV_DONE) {
        *out = x->result;
        out->curlcode = x->curlcode;
        out->reason = x->reason;
    } else {
        memset(out, 0, sizeof(*out));
        out->id = x->id;
    }
    out->events = events;
    pthread_mutex_unlock(&x->lock);
    if (!(events & HTTPR_EV_DONE))
        return HTTPR_EAGAIN;
    out->head = x->head.data ? x->head.data : "";
    out->head_len = x->head.len;
    out->body = x->resp.data ? x->resp.data : "";
    out->body_len = x->resp.len;
    out->error = x->errbuf;
    return 0;
}

int httpr_xfer_finish(httpr_xfer *x, int timeout_ms, httpr_result *out)
{
    if (!out)
        return HTTPR_EINVAL;
    int rc = httpr_xfer_wait(x, HTTPR_EV_DONE, timeout_ms);
    return rc != 0 ? rc : httpr_xfer_result(x, out);
}

int httpr_xfer_run(httpr_engine *e, const httpr_options *opts, const char *method,
                   const char *url, const char *headers, size_t headers_len, const char *body,
                   size_t body_len, int flags, int timeout_ms, char *copy, size_t copy_cap,
                   httpr_result *res, httpr_xfer **out)
{
    if (!res || !out || (copy_cap && !copy))
        return HTTPR_EINVAL;
    /* A buffered sync request may be the engine's first, run on this thread while it waits
     * (httpr_engine_drive). */
    int mode = inline_mode(flags);
    httpr_xfer *x = NULL;
    int rc = start_transfer(e, opts, method, url, headers, headers_len, body, body_len, flags,
                            mode == HTTPR_INLINE_FIRST ? mode : HTTPR_INLINE_NEVER, &x);
    *out = x;
    if (rc != 0)
        return rc;
    rc = httpr_xfer_finish(x, timeout_ms, res);
    if (rc != 0)
        return rc;
    size_t err_len = strlen(res->error) + 1;
    if (res->head_len > copy_cap || res->body_len > copy_cap - res->head_len ||
        err_len > copy_cap - res->head_len - res->body_len)
        return 0; /* too big to copy: the caller reads the record's buffers, then frees it */
    memcpy(copy, res->head, res->head_len);
    memcpy(copy + res->head_len, res->body, res->body_len);
    memcpy(copy + res->head_len + res->body_len, res->error, err_len);
    res->head = copy;
    res->body = copy + res->head_len;
    res->error = copy + res->head_len + res->body_len;
    httpr_xfer_free(x);
    *out = NULL;
    return 0;
}

int httpr_xfer_head(httpr_xfer *x, const char **head, size_t *len, long *status)
{
    if (!x || !head || !len || !status)
        return HTTPR_EINVAL;
    pthread_mutex_lock(&x->lock);
    int events = x->events;
    pthread_mutex_unlock(&x->lock);
    if (!(events & HTTPR_EV_HEAD) && x->inline_drive && !inherited(x)) {
        /* An inline transfer polled for its head: one turn of the engine (nobody else
         * drives it). */
        drive_while_waiting(x, httpr_now_us(), HTTPR_EV_HEAD | HTTPR_EV_DONE);
        pthread_mutex_lock(&x->lock);
        events = x->events;
        pthread_mutex_unlock(&x->lock);
    }
    if (!(events & HTTPR_EV_HEAD))
        return HTTPR_EAGAIN;
    /* After the final head only trailers arrive, and they are not stored: stable. */
    *head = x->head.data ? x->head.data : "";
    *len = x->head.len;
    *status = x->head_status;
    return 0;
}

/* A stream reader with the record lock held and an empty ring: runs the engine itself while
 * x is inline and nobody else drives (httpr_engine_drive), until data, the end, or
 * timeout_ms. 0 when that time passed with the ring still empty; 1 otherwise (data, the end,
 * or someone else drives now: the caller then waits on the record as usual). */
static int wait_inline(httpr_xfer *x, int timeout_ms)
{
    if (!x->inline_drive)
        return 1;
    int64_t until_us = until_after(timeout_ms);
    while (x->ring.len == 0 && !(x->events & HTTPR_EV_DONE)) {
        pthread_mutex_unlock(&x->lock); /* lock order: engine -> record */
        int drove = drive_while_waiting(x, until_us, HTTPR_EV_DATA | HTTPR_EV_DONE);
        pthread_mutex_lock(&x->lock);
        if (!drove)
            return 1;
        if (httpr_now_us() >= until_us)
            return x->ring.len > 0 || (x->events & HTTPR_EV_DONE);
    }
    return 1;
}

int httpr_stream_read(httpr_xfer *x, char *buf, size_t cap, size_t *n, int timeout_ms)
{
    if (!x || !n || (cap && !buf) || !x->stream || !x->submitted)
        return HTTPR_EINVAL;
    if (inherited(x))
        return HTTPR_ECLOSED;
    *n = 0;
    struct timespec until;
    deadline_after(timeout_ms, &until);
    pthread_mutex_lock(&x->lock);
    if (!wait_inline(x, timeout_ms) && timeout_ms > 0) { /* timeout 0: one turn, a poll */
        pthread_mutex_unlock(&x->lock);
        return HTTPR_ETIMEDOUT;
    }
    while (x->ring.len == 0 && !(x->events & HTTPR_EV_DONE)) {
        if (timeout_ms <= 0 ||
            pthread_cond_timedwait(&x->cond, &x->lock, &until) == ETIMEDOUT) {
            int empty = x->ring.len == 0 && !(x->events & HTTPR_EV_DONE);
            if (empty) {
                pthread_mutex_unlock(&x->lock);
                return timeout_ms <= 0 ? HTTPR_EAGAIN : HTTPR_ETIMEDOUT;
            }
            break;
        }
    }
    size_t got = 0;
    while (got < cap && x->ring.len > 0) { /* at most twice: before and after the wrap */
        const unsigned char *at;
        size_t k = httpr_ring_peek(&x->ring, &at, cap - got);
        memcpy(buf + got, at, k);
        httpr_ring_consume(&x->ring, k, !x->ring_writing);
        got += k;
    }
    if (x->ring.len == 0)
        __atomic_and_fetch(&x->events, ~HTTPR_EV_DATA, __ATOMIC_RELEASE);
    int unpause = x->paused && !x->unpause_asked && x->ring.len <= HTTPR_STREAM_LWM_BYTES;
    if (unpause)
        x->unpause_asked = 1; /* once per pause: the engine's command list holds it */
    pthread_mutex_unlock(&x->lock);
    if (unpause) /* outside the record lock: lock order is engine -> record */
        httpr_engine_request_unpause(x->engine, x);
    *n = got;
    return 0;
}

int httpr_stream_next(httpr_xfer *x, size_t consumed, const char **data, size_t cap, size_t *n,
                      int timeout_ms)
{
    if (!x || !n || !data || !x->stream || !x->submitted)
        return HTTPR_EINVAL;
    if (inherited(x))
        return HTTPR_ECLOSED;
    *n = 0;
    *data = NULL;
    pthread_mutex_lock(&x->lock);
    if (consumed > x->ring.len) {
        pthread_mutex_unlock(&x->lock);
        return HTTPR_EINVAL;
    }
    if (consumed) {
        httpr_ring_consume(&x->ring, consumed, !x->ring_writing);
        if (x->ring.len == 0)
            __atomic_and_fetch(&x->events, ~HTTPR_EV_DATA, __ATOMIC_RELEASE);
        if (x->paused && !x->unpause_asked && x->ring.len <= HTTPR_STREAM_LWM_BYTES) {
            x->unpause_asked = 1; /* once per pause: the engine's command list holds it */
            /* Before any wait: the engine must resume the transfer for more to come. Outside
             * the record lock: lock order is engine -> record. */
            pthread_mutex_unlock(&x->lock);
            httpr_engine_request_unpause(x->engine, x);
            pthread_mutex_lock(&x->lock);
        }
    }
    if (x->ring.len == 0 && !(x->events & HTTPR_EV_DONE) && timeout_ms <= 0) {
        (void)wait_inline(x, 0); /* an inline stream polled: one turn of the engine */
        if (x->ring.len == 0 && !(x->events & HTTPR_EV_DONE)) {
            pthread_mutex_unlock(&x->lock);
            return HTTPR_EAGAIN;
        }
    }
    if (x->ring.len == 0 && !(x->events & HTTPR_EV_DONE)) {
        /* Sleep at once, no yield-spin as in httpr_xfer_wait: a stream's next batch comes
         * with the engine's next pass, and a spinning reader keeps the engine and the
         * server off the cores (50 MiB through iter_bytes: 25 us of spin cost ~3 ms CPU
         * and ~2 ms wall per download). Or run the engine here (inline stream). */
        if (!wait_inline(x, timeout_ms)) {
            pthread_mutex_unlock(&x->lock);
            return HTTPR_ETIMEDOUT;
        }
        struct timespec until;
        deadline_after(timeout_ms, &until);
        while (x->ring.len == 0 && !(x->events & HTTPR_EV_DONE)) {
            if (pthread_cond_timedwait(&x->cond, &x->lock, &until) == ETIMEDOUT) {
                if (x->ring.len == 0 && !(x->events & HTTPR_EV_DONE)) {
                    pthread_mutex_unlock(&x->lock);
                    return HTTPR_ETIMEDOUT;
                }
                break;
            }
        }
    }
    /* The region [head, head + *n) stays put until the next call: the write callback only
     * writes into free space, and only this function consumes. */
    *n = httpr_ring_peek(&x->ring, (const unsigned char **)data, cap);
    pthread_mutex_unlock(&x->lock);
    return 0;
}

int httpr_xfer_feed(httpr_xfer *x, const char *data, size_t len, int eof, size_t *accepted,
                    int timeout_ms)
{
    if (!x || !accepted || (len && !data) || !x->upload || !x->submitted)
        return HTTPR_EINVAL;
    *accepted = 0;
    struct timespec until;
    deadline_after(timeout_ms, &until);
    pthread_mutex_lock(&x->lock);
    while (len && httpr_ring_space(&x->upring) == 0 && !(x->events & HTTPR_EV_DONE)) {
        if (timeout_ms <= 0 ||
            pthread_cond_timedwait(&x->cond, &x->lock, &until) == ETIMEDOUT) {
            if (httpr_ring_space(&x->upring) == 0 && !(x->events & HTTPR_EV_DONE)) {
                pthread_mutex_unlock(&x->lock);
                return timeout_ms <= 0 ? HTTPR_EAGAIN : HTTPR_ETIMEDOUT;
            }
            break;
        }
    }
    if (x->events & HTTPR_EV_DONE) {
        pthread_mutex_unlock(&x->lock);
        return HTTPR_ECLOSED; /* the transfer ended (an early response, an error) */
    }
    size_t n = httpr_ring_write(&x->upring, data, len);
    if (httpr_ring_space(&x->upring) == 0)
        __atomic_and_fetch(&x->events, ~HTTPR_EV_SPACE, __ATOMIC_RELEASE);
    if (eof && n == len)
        x->up_eof = 1;
    int unpause = x->up_paused && (n > 0 || x->up_eof);
    pthread_mutex_unlock(&x->lock);
    if (unpause) /* outside the record lock: lock order is engine -> record */
        httpr_engine_request_unpause(x->engine, x);
    *accepted = n;
    return 0;
}

int httpr_xfer_baseline(httpr_xfer *x, httpr_baseline *out)
{
    if (!x || !out)
        return HTTPR_EINVAL;
    *out = x->baseline; /* written before submit, never changed while in flight */
    return 0;
}

void httpr_xfer_free(httpr_xfer *x)
{
    if (!x)
        return;
    /* An inline transfer let go unfinished (an owner that stopped waiting without a cancel)
     * has nobody to drive it: cancel it, which starts the engine thread to run that. */
    if (x->inline_drive && x->submitted &&
        !(__atomic_load_n(&x->events, __ATOMIC_ACQUIRE) & HTTPR_EV_DONE))
        httpr_engine_cancel(x->engine, x);
    httpr_engine_return_record(x->engine, x);
}

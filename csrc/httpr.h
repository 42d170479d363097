/*
 * httpr.h - the real header of the C layer: libcurl, the 7.88 floor, shared types.
 *
 * The C layer drives libcurl for the Python package through cffi (API mode). It holds
 * no Python C-API. csrc/httpr_cdef.h is the subset cffi parses; every type and
 * prototype there must match this file (cffi checks it when it compiles).
 *
 * Conventions (style.md): names are httpr_<noun>_<verb>; every public function returns an
 * int status (0, a CURLcode, or a negative HTTPR_E*) and writes outputs through pointers;
 * every allocation has one owner and one NULL-safe _free. Lock order: engine -> record;
 * nothing blocks under a lock except a condition-variable wait.
 */
#ifndef HTTPR_H
#define HTTPR_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

/* design.md section 11: 7.88 is the oldest libcurl whose behaviour the design was measured
 * on (PROTOCOLS_STR needs 7.85, PREREQFUNCTION 7.80, the 5-coding cap arrived in 7.88). */
#if LIBCURL_VERSION_NUM < 0x075800
#error "httpr needs libcurl >= 7.88.0 (curl/curl.h is older); upgrade the libcurl headers"
#endif

/* ---- statuses (negative; 0 is success, positive values are CURLcodes) ---- */
#define HTTPR_ENOMEM (-1)    /* an allocation failed */
#define HTTPR_EINVAL (-2)    /* a bad argument (NULL, wrong state for the call) */
#define HTTPR_ECLOSED (-3)   /* the engine refuses new transfers (closed or forked) */
#define HTTPR_ETIMEDOUT (-4) /* a wait slice ended before the event */
#define HTTPR_ESYS (-5)      /* a system call failed (thread, eventfd) */
#define HTTPR_EAGAIN (-6)    /* nothing to read yet */

/* ---- engine reasons: why the engine ended a transfer (design.md section 10) ---- */
#define HTTPR_REASON_NONE 0
#define HTTPR_REASON_CANCELLED 1  /* cancel command, client shutdown */
#define HTTPR_REASON_USER 2       /* a user callback failed (body source, stream reader) */
#define HTTPR_REASON_POOL 3       /* pool deadline: no connection started in time */
#define HTTPR_REASON_CONNECT 4    /* connect deadline (connect=0 expires at once) */
#define HTTPR_REASON_READ 5       /* read-idle deadline */
#define HTTPR_REASON_WRITE 6      /* write-idle deadline */
#define HTTPR_REASON_TOTAL 7      /* total deadline */
#define HTTPR_REASON_HEADER_CAP 8 /* response head over HTTPR_MAX_HEADER_* */
#define HTTPR_REASON_FRAMING 9    /* bad/conflicting Content-Length, chunked twice, cut head */
#define HTTPR_REASON_SIZE_CAP 10  /* decoded body over max_response_size */
#define HTTPR_REASON_DECODING 11  /* reserved for httpr's own decoder */
#define HTTPR_REASON_VERSION 12   /* http2_only, but the server answered over HTTP/1.x */
#define HTTPR_REASON_RESEND 13    /* libcurl resent beyond api.md 13 (after a response byte, twice) */

/* ---- event bits: what a waiter can wait for ---- */
#define HTTPR_EV_HEAD 1 /* the final response head is complete */
#define HTTPR_EV_DONE 2 /* the terminal event: exactly one per transfer */
#define HTTPR_EV_DATA 4 /* a stream's ring went from empty to non-empty */
#define HTTPR_EV_SPACE 8 /* an upload ring that was full has room again */

/* ---- HTTP versions asked for (httpr_options.http_version) ---- */
#define HTTPR_HTTP_DEFAULT 0 /* HTTP/2 over TLS by ALPN, HTTP/1.1 in clear text */
#define HTTPR_HTTP_1_1 1
#define HTTPR_HTTP_2_ONLY 2 /* prior knowledge on http://, h2 required on https:// */

/* ---- named limits ---- */
/* R7: response head caps, below libcurl's later own caps (300 KiB in 8.3, 5,000 lines in
 * 8.14; 7.88 has none), so every libcurl version behaves the same. */
#define HTTPR_MAX_HEADER_BYTES (256 * 1024)
#define HTTPR_MAX_HEADER_LINES 1000
/* A recycled record keeps a body buffer up to this size warm (design.md section 3:
 * copying out of a reused warm buffer was 4x faster than out of a fresh one). */
#define HTTPR_KEEP_BODY_BYTES (1024 * 1024)
/* decode.c's second buffer, kept warm up to this (the bench's 200 KiB bodies stay warm) */
#define HTTPR_KEEP_SCRATCH_BYTES (512 * 1024)
/* Async coded bodies up to this size are decoded on the engine thread before DONE; larger
 * ones by the caller, so one big body never holds up the engine's other transfers. */
#define HTTPR_ENGINE_DECODE_MAX_BYTES (1024 * 1024)
/* Pre-size the body buffer from Content-Length up to this much: a lying server must not
 * make us allocate more than it sends. */
#define HTTPR_PRESIZE_MAX_BYTES (8 * 1024 * 1024)
/* design.md 4: a stream's ring. One write callback may overshoot by CURL_MAX_WRITE_SIZE, so
 * the ring holds the mark plus that slack; a reader draining it to a quarter unpauses. */
#define HTTPR_STREAM_HWM_BYTES (1024 * 1024)
#define HTTPR_STREAM_RING_BYTES (HTTPR_STREAM_HWM_BYTES + CURL_MAX_WRITE_SIZE)
#define HTTPR_STREAM_LWM_BYTES (HTTPR_STREAM_HWM_BYTES / 4)
/* A reader takes at most this much per call (api.md 7: iter_bytes chunks <= 64 KiB). */
#define HTTPR_STREAM_CHUNK_BYTES (64 * 1024)
/* libcurl's receive buffer for streams (CURLOPT_BUFFERSIZE, default 16 KiB): fewer, larger
 * recv calls per pass. At most half the ring, so a pause leaves little in libcurl's own
 * pause buffer. */
#ifndef HTTPR_STREAM_RECV_BYTES
#define HTTPR_STREAM_RECV_BYTES (512 * 1024)
#endif
/* Records (with their easy handle and buffers) an engine keeps for reuse. */
#define HTTPR_RECORD_POOL_MAX 64
/* After activity the engine busy-polls (yielding between polls) this long before it sleeps
 * in curl_multi_poll. A cross-CPU wake-up costs ~17 us on the 2-core VM, and a sequential
 * request through a sleeping engine pays two more of them than an in-thread
 * curl_easy_perform. Measured through the Python client (5 KB gzip from nginx, 5,000
 * sequential GETs): no window 239 us/req (caller thread 120 us CPU/req), 200 us yielding
 * window 174 us/req (caller 84 us CPU/req). */
#ifndef HTTPR_ENGINE_SPIN_US
#define HTTPR_ENGINE_SPIN_US 200
#endif
/* An engine's first buffered sync request, and its sync streams while it has no thread,
 * run the engine loop on the waiting caller's thread (httpr_engine_drive); 0 always uses the
 * engine thread. */
#ifndef HTTPR_INLINE_DRIVE
#define HTTPR_INLINE_DRIVE 1
#endif
/* An inline stream hands over to the engine thread once this much has come and its reader
 * has spent longer away from the engine than driving it. */
#define HTTPR_INLINE_STREAM_SAMPLE_BYTES (1024 * 1024)
/* How long a waiter yield-spins before it sleeps on the record's condition variable. */
#ifndef HTTPR_WAIT_SPIN_US
#define HTTPR_WAIT_SPIN_US 200
#endif
/* A waiter does not spin while more than this much of its request body is still to go to
 * libcurl (1 MiB POST to nginx, median of 6 interleaved rounds x 200: spinning 400 us
 * wall, 507 us CPU per request; not spinning 373 / 419). */
#ifndef HTTPR_WAIT_SPIN_BODY_BYTES
#define HTTPR_WAIT_SPIN_BODY_BYTES (256 * 1024)
#endif
/* At most this many callers of one engine yield-spin at a time; the others sleep at once,
 * and the engine busy-polls only while at most HTTPR_ENGINE_SPIN_MAX_ACTIVE transfers are
 * in flight (with more, socket events wake it often enough). Threads sharing a client,
 * each spinning, kept the engine and the server off the 2 cores. Measured (5 KB gzip from
 * nginx, median of 7 rounds, us/req, 1 / 4 / 8 threads; async 1,000 in flight):
 * unlimited 140 / 139 / 120, 127; these limits 136 / 108 / 123, 120; no spin at all
 * 272 / 98 / 143. */
#ifndef HTTPR_WAIT_MAX_SPINNERS
#define HTTPR_WAIT_MAX_SPINNERS 1
#endif
#ifndef HTTPR_ENGINE_SPIN_MAX_ACTIVE
#define HTTPR_ENGINE_SPIN_MAX_ACTIVE 1
#endif
/* The grain of TCP_INFO's tcpi_last_data_recv (jiffies; HZ=100 at worst): data this close
 * to a request's start is not told apart from the previous response's last bytes. */
#define HTTPR_KERNEL_CLOCK_GRAIN_US 10000
/* connect=None: the largest connect timeout we hand libcurl; it reads 0 as "300 s" and
 * adds the value to timestamps, so LONG_MAX could overflow (design.md section 6). */
#define HTTPR_CONNECT_TIMEOUT_NONE_MS 2147483647L

typedef struct httpr_engine httpr_engine;
typedef struct httpr_xfer httpr_xfer;

/* Request flags (httpr_xfer_setup). */
#define HTTPR_F_BODY 1       /* a body, even an empty one, goes through READFUNCTION */
#define HTTPR_F_REPLAYABLE 2 /* idempotent method + buffered body: libcurl may rewind it */
#define HTTPR_F_HEAD 4       /* HEAD: NOBODY, never CUSTOMREQUEST "HEAD" (amendment 2.6) */
#define HTTPR_F_NOTIFY 8     /* also publish events to the completion queue (async) */
#define HTTPR_F_STREAM 16    /* the body goes to a bounded ring read by httpr_stream_read */
#define HTTPR_F_UPLOAD 32    /* the request body comes from httpr_xfer_feed (body_len: its
                              * declared length, or chunked with HTTPR_F_CHUNKED) */
#define HTTPR_F_CHUNKED 64   /* an upload of unknown length: chunked on HTTP/1.1 */
#define HTTPR_F_OWN_DECODE 128 /* a buffered body decoded by httpr (decode.c), not libcurl;
                               * ignored for streams and by builds without the decoders */

/* The options of a transfer that come from the client's settings. Python builds one per
 * settings snapshot and reuses it read-only from any thread; httpr_xfer_setup copies what
 * it needs (libcurl copies string options). Timeouts in milliseconds, < 0 = none. */
typedef struct {
    int http_version;            /* HTTPR_HTTP_* */
    int verify;                  /* 0: verify=False */
    const char *ca_file;         /* CAINFO (CAPATH cleared); NULL: libcurl's built-in default */
    const char *proxy;           /* always set on the handle; "" = no proxy (design.md 8) */
    const char *noproxy;         /* NOPROXY; NULL = "" */
    const char *accept_encoding; /* ACCEPT_ENCODING; NULL: no decoding, "" every decoder */
    const char *proxy_userpwd;   /* PROXYUSERPWD "user:password" (design.md 8); NULL: none */
    const char *proxy_headers;   /* PROXYHEADER lines, each NUL-terminated (R3); NULL: none */
    size_t proxy_headers_len;
    const char *client_pem;      /* SSLCERT + SSLKEY from one PEM file; NULL: none */
    const char *client_pem_data; /* the same in memory (SSLCERT_BLOB/SSLKEY_BLOB, copied) */
    size_t client_pem_len;
    int64_t connect_timeout_ms;
    int64_t read_timeout_ms;
    int64_t write_timeout_ms;
    int64_t pool_timeout_ms;
    int64_t total_timeout_ms;
    int64_t max_response_size; /* decoded body bytes, < 0 = no cap */
    int64_t maxage_conn_s;     /* MAXAGE_CONN, < 0 = libcurl's default */
} httpr_options;

/* What a finished transfer produced; pointers stay valid until httpr_xfer_free. */
typedef struct {
    uint64_t id;
    int events;     /* HTTPR_EV_* seen so far */
    int curlcode;   /* CURLcode at DONE (28 for engine deadlines, 42 for cancellation) */
    int reason;     /* HTTPR_REASON_* */
    long status;    /* final response status, 0 if none */
    long http_version;  /* CURLINFO_HTTP_VERSION: CURL_HTTP_VERSION_* */
    long num_connects;  /* 0: the connection was reused */
    long connect_code;  /* CURLINFO_HTTP_CONNECTCODE (proxy CONNECT reply) */
    int request_sent;   /* any request byte may have left (a prereq callback ran) */
    int head_done;      /* the final head's blank line was seen */
    int64_t t_namelookup_us;
    int64_t t_connect_us;
    int64_t t_appconnect_us;
    int64_t t_pretransfer_us;
    int64_t t_starttransfer_us;
    int64_t t_total_us;
    int64_t elapsed_us; /* submit -> DONE on the engine's monotonic clock */
    const char *head;   /* the final response head, raw lines in wire order */
    size_t head_len;
    const char *body; /* the (decoded) body */
    size_t body_len;
    const char *error; /* libcurl's error buffer, "" if empty */
} httpr_result;

/* One (transfer id, event) pair of the completion queue, for the async reader. */
typedef struct {
    uint64_t id;
    int kind;
} httpr_event;

/* Version and features of the libcurl loaded at run time. */
typedef struct {
    unsigned int version_num;
    const char *version;
    const char *ssl_version;
    const char *cainfo; /* the built-in CA bundle path, "" if none */
    int http2;
    int http3;
    int brotli;
    int zstd;
    int libz;
    int asynchdns;
    int threadsafe;
    int https_proxy;
    int refuses_cn_only; /* the OpenSSL hook of R8 is active */
    int own_decoding;    /* built with decode.c's decoders (gzip, deflate, br, zstd) */
} httpr_curl_info;

/* Live-object counters for the leak tests (style.md: the only globals beside the init
 * guard). */
typedef struct {
    int64_t engines;
    int64_t records;
    int64_t in_flight;
    int64_t threads;
} httpr_counters;

/* SEC-19 (security.md section 2): a copy of each security-relevant value the record applied
 * to its easy handle for the current transfer, noted as it was passed to curl_easy_setopt
 * (libcurl cannot be asked for an option's value). Reset at every setup, so a recycled record
 * shows only what this transfer applied. Options never set read HTTPR_OPT_UNSET; string
 * options read their length (HTTPR_OPT_NULL: set to NULL); callbacks and lists read 1
 * (set) or 0 (set to NULL). */
#define HTTPR_OPT_UNSET (-2)
#define HTTPR_OPT_NULL (-1)
typedef struct {
    uint64_t uses;             /* transfers this record was set up for, this one included */
    char protocols[32];        /* PROTOCOLS_STR ("" unless set; truncated past 31) */
    char redir_protocols[32];  /* REDIR_PROTOCOLS_STR */
    long followlocation;
    long autoreferer;
    long unrestricted_auth;
    long http09_allowed;
    long netrc;
    long httpauth;
    long ssl_verifypeer;
    long ssl_verifyhost;
    long proxy_ssl_verifypeer;
    long proxy_ssl_verifyhost;
    long sslversion;
    long proxy_sslversion;
    long cainfo;               /* lengths of the string options */
    long capath;
    long proxy_cainfo;
    long proxy_capath;
    long ssl_ctx_function;     /* the CN-only hook (R8) */
    long proxy;
    long noproxy;
    long headeropt;
    long proxyuserpwd;
    long connecttimeout_ms;
    long accept_encoding;
    long http_content_decoding;
    long nosignal;
    long nobody;
    long readfunction;
    long seekfunction;
    long httpheader;
    long expect_empty;         /* 1: the HTTPHEADER list applied holds an empty "Expect:" */
    long cookiefile;           /* the "never set" group */
    long cookiejar;
    long cookielist;
    long verbose;
    long debugfunction;
    long maxfilesize;
    long maxfilesize_large;
} httpr_baseline;

/* init.c */
int httpr_global_init(void);
int httpr_curl_info_get(httpr_curl_info *out);
int httpr_counters_get(httpr_counters *out);

/* engine.c */
int httpr_engine_new(long max_connections, long max_host_connections, httpr_engine **out);
int httpr_engine_close(httpr_engine *e);
void httpr_engine_free(httpr_engine *e);
int httpr_engine_submit(httpr_engine *e, httpr_xfer *x);
int httpr_engine_cancel(httpr_engine *e, httpr_xfer *x);
int httpr_engine_events_fd(httpr_engine *e, int *fd);
int httpr_engine_drain(httpr_engine *e, httpr_event *out, size_t cap, size_t *n);

/* xfer.c */
int httpr_xfer_new(httpr_engine *e, httpr_xfer **out);
/* method: an upper-case token; url: validated ASCII; headers: "Name: value" lines, each
 * followed by a NUL, headers_len bytes in all; body copied. Nothing passed here needs to
 * outlive the call. */
int httpr_xfer_setup(httpr_xfer *x, const httpr_options *opts, const char *method,
                     const char *url, const char *headers, size_t headers_len, const char *body,
                     size_t body_len, int flags);
int httpr_xfer_start(httpr_engine *e, const httpr_options *opts, const char *method,
                     const char *url, const char *headers, size_t headers_len, const char *body,
                     size_t body_len, int flags, httpr_xfer **out);
int httpr_xfer_id(httpr_xfer *x, uint64_t *id);
int httpr_xfer_wait(httpr_xfer *x, int events, int timeout_ms);
int httpr_xfer_result(httpr_xfer *x, httpr_result *out);
/* httpr_xfer_wait for DONE, then httpr_xfer_result, in one call: a sync request's only
 * blocking call. Each cffi call releases and retakes the GIL, and threads sharing a client
 * pay a hand-over for every one of them. 0 with *out filled, or HTTPR_ETIMEDOUT. */
int httpr_xfer_finish(httpr_xfer *x, int timeout_ms, httpr_result *out);
/* A sync request in one cffi call when it can be: httpr_xfer_start, then httpr_xfer_finish for
 * one wait slice. Done in the slice (0) and the head, body and error text fit in `copy`
 * (copy_cap bytes, the caller's): they are copied there, *res points into it, the record is
 * freed and *out is NULL. Done but too big (0) or not done yet (HTTPR_ETIMEDOUT): *out is the
 * record, as httpr_xfer_start gives it (*res filled when done). Start failures as
 * httpr_xfer_start, with *out NULL. */
int httpr_xfer_run(httpr_engine *e, const httpr_options *opts, const char *method,
                   const char *url, const char *headers, size_t headers_len, const char *body,
                   size_t body_len, int flags, int timeout_ms, char *copy, size_t copy_cap,
                   httpr_result *res, httpr_xfer **out);
/* Streams: the final head once HTTPR_EV_HEAD is set (HTTPR_EAGAIN before); then the body.
 * httpr_stream_read copies up to cap bytes; *n == 0 with 0 returned means the end (see
 * httpr_xfer_result for how it ended). It waits up to timeout_ms for data (0: not at all,
 * HTTPR_EAGAIN when empty). Draining a paused stream to the low-water mark asks the engine
 * to unpause it (design.md 4: only the engine calls curl_easy_pause). */
int httpr_xfer_head(httpr_xfer *x, const char **head, size_t *len, long *status);
int httpr_stream_read(httpr_xfer *x, char *buf, size_t cap, size_t *n, int timeout_ms);
/* The same without a copy: first releases `consumed` bytes (what the previous call returned),
 * then waits as httpr_stream_read does and points *data at up to cap contiguous bytes of the
 * ring, unchanged until the next call on x (which must release them). */
int httpr_stream_next(httpr_xfer *x, size_t consumed, const char **data, size_t cap, size_t *n,
                      int timeout_ms);
/* Uploads: copies what fits of data into the upload ring (waiting up to timeout_ms for room;
 * 0: not at all), *accepted bytes taken; eof marks the end once everything is taken.
 * HTTPR_ECLOSED when the transfer already ended (e.g. the server answered early). */
int httpr_xfer_feed(httpr_xfer *x, const char *data, size_t len, int eof, size_t *accepted,
                    int timeout_ms);
/* SEC-19: the baseline copy of the transfer set up last (valid from setup to free). */
int httpr_xfer_baseline(httpr_xfer *x, httpr_baseline *out);
void httpr_xfer_free(httpr_xfer *x);

/* ring.c: a bounded byte ring (streaming buffers, design.md section 4) */
typedef struct {
    unsigned char *data;
    size_t cap;  /* bytes allocated */
    size_t head; /* read position */
    size_t len;  /* bytes stored */
} httpr_ring;

int httpr_ring_init(httpr_ring *r, size_t cap);
void httpr_ring_free(httpr_ring *r);
size_t httpr_ring_write(httpr_ring *r, const void *src, size_t n);
size_t httpr_ring_read(httpr_ring *r, void *dst, size_t n);
size_t httpr_ring_space(const httpr_ring *r);
/* The readable bytes at the head, up to n and up to the end of the storage (no copy). */
size_t httpr_ring_peek(const httpr_ring *r, const unsigned char **at, size_t n);
/* Drops n bytes at the head; rewind: an emptied ring starts again at the storage's start. */
void httpr_ring_consume(httpr_ring *r, size_t n, int rewind);
/* A write in three steps, so the copy can run outside the caller's lock: where the free
 * space starts, the copy there (n <= space), then the bytes become readable. */
size_t httpr_ring_tail(const httpr_ring *r);
void httpr_ring_fill(httpr_ring *r, size_t at, const void *src, size_t n);
void httpr_ring_commit(httpr_ring *r, size_t n);

#endif /* HTTPR_H */

/*
 * internal.h - structures shared by engine.c, xfer.c and init.c, not seen by cffi.
 *
 * Kept apart from httpr.h (which cffi's generated module includes) so the record and engine
 * layouts can change without touching the Python-facing declarations.
 *
 * Threads: a record's request fields are written by the caller before submit; from submit
 * to DONE only the engine thread touches the easy handle and the callback-owned fields;
 * "events", "curlcode", "reason" and the result fields are published under the record's
 * lock, so a waiter that saw HTTPR_EV_DONE under that lock may read everything else.
 */
#ifndef HTTPR_INTERNAL_H
#define HTTPR_INTERNAL_H

#include <pthread.h>
#include <sys/types.h>

#include "httpr.h"

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} httpr_buf;

struct httpr_xfer {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs; /* Python's + the engine's (submit to DONE) + one per queued command */
    httpr_engine *engine;
    CURL *easy;
    uint64_t id;
    httpr_xfer *prev; /* links: the engine's submit queue, active list or record pool */
    httpr_xfer *next;
    httpr_xfer *cmd_next; /* link in the engine's cancel list */
    int cancel_queued;    /* on that list (engine lock) */

    /* request, owned copies */
    struct curl_slist *headers;
    struct curl_slist *proxy_headers;
    char *body;
    size_t body_len;
    size_t body_cap;
    size_t body_pos;
    curl_off_t ul_seen; /* upload progress last seen by on_progress */
    int send_body;
    int body_replayable;
    int head_request;
    int stream;           /* HTTPR_F_STREAM: body into ring (record lock) */
    httpr_ring ring;      /* kept allocated across reuse once a record streamed */
    int paused;           /* the write callback returned CURL_WRITEFUNC_PAUSE (record lock) */
    int ring_writing;     /* the write callback is copying into the ring (record lock) */
    int unpause_asked;    /* the reader queued the unpause of this pause (record lock) */
    int unpause_queued;   /* on the engine's unpause list (engine lock) */
    httpr_xfer *unpause_next;
    int data_dirty;       /* ring data not yet signalled, on the engine's dirty list (engine) */
    httpr_xfer *dirty_next;
    int inline_drive;       /* its owner may run the engine while waiting (httpr_engine_drive) */
    int64_t undriven_since; /* an inline stream left undriven since (its driver only) */
    int64_t inline_away_us; /* inline stream: time its reader was away, and time spent */
    int64_t inline_busy_us; /* driving for it (its driver only) */
    int upload;           /* HTTPR_F_UPLOAD: body from the upload ring (record lock) */
    httpr_ring upring;    /* freed when the record is recycled */
    int up_eof;           /* the producer has given everything */
    int up_paused;        /* the read callback returned CURL_READFUNC_PAUSE (record lock) */
    int chunked_upload;   /* HTTPR_F_CHUNKED */
    int require_h2; /* http2_only: a reply over HTTP/1.x is refused (api.md 11) */
    int notify;
    char errbuf[CURL_ERROR_SIZE];

    /* response capture (engine thread while in flight) */
    httpr_buf head;
    httpr_buf resp;
    size_t head_lines;
    size_t trailer_bytes; /* trailers count toward the final head's caps (3.12) */
    long head_status;      /* status of the head being read (1xx heads are dropped) */
    int64_t content_length; /* -1 when absent */
    int chunked;           /* "chunked" tokens seen in Transfer-Encoding */
    int encoded;           /* a Content-Encoding other than identity */
    int own_decode;        /* buffered, decoded by decode.c: libcurl hands over coded bytes */
    int decoded;           /* decode.c ran on this body (record lock) */
    int decoding;          /* a caller is decoding it now, without the lock (record lock) */
    httpr_buf scratch;     /* decode.c's other buffer, kept warm like resp */
    void *inflater;        /* decode.c's libdeflate state, made on first use */
    int head_done;
    int64_t max_response_size;
    int64_t delivered; /* decoded body bytes accepted (buffer or ring): the size cap counts these */

    /* deadlines (engine clock, microseconds; timeouts < 0 = none) */
    int64_t t_submit;
    int64_t connect_ms;
    int64_t read_ms;
    int64_t write_ms;
    int64_t pool_ms;
    int64_t total_ms;
    int64_t last_rx;
    int64_t last_tx;
    int conn_started; /* a new connection started, or a pooled one was handed over */
    int prereq;       /* the request is about to be sent: the pool phase is over */
    int read_active;  /* the read-idle timer runs */
    int write_active; /* the write-idle timer runs */
    /* FLT-16: the connection as PREREQFUNCTION named it, so a read expiry can find its socket
     * (libcurl 7.88 gives no socket for a transfer in progress: CURLINFO_ACTIVESOCKET is -1) */
    char conn_local_ip[48];
    char conn_primary_ip[48];
    int conn_local_port;
    int conn_primary_port;
    int sock_fd; /* that socket once found at a read expiry, -1 before */
    int64_t t_prereq; /* when PREREQFUNCTION last let the request go (engine clock) */
    int resends;      /* attempts libcurl started on its own after the first (its retry) */

    /* state */
    int in_multi;
    int submitted;
    int events;
    int curlcode;
    int reason;
    httpr_result result; /* filled at DONE */
    httpr_baseline baseline; /* SEC-19: what setopt_all applied (caller thread, before submit) */
};

struct httpr_engine {
    pthread_mutex_t lock;
    pid_t pid; /* the process that made the engine: a forked child never touches it */
    int refs;  /* the owner's + one per live record */
    int closed;
    int stop;
    int thread_started;
    int driving; /* a caller runs the loop inline (httpr_engine_drive); engine lock */
    int driven;  /* an inline transfer was submitted: later buffered ones use the thread */
    int sleeping; /* the engine is (about to be) blocked in curl_multi_poll (engine lock) */
    int64_t last_activity; /* engine thread only: last submit/command/completion seen */
    int spinners; /* callers in httpr_xfer_wait's yield-spin (atomic) */
    pthread_t thread;
    CURLM *multi;
    CURLSH *share;
    pthread_mutex_t share_lock;
    int efd; /* eventfd: completion queue went from empty to non-empty */
    uint64_t next_id;

    httpr_xfer *submit_head; /* queued by callers, not yet added to the multi */
    httpr_xfer *submit_tail;
    httpr_xfer *cancels; /* cancel commands (each holds a record ref) */
    httpr_xfer *unpauses; /* unpause commands (each holds a record ref) */

    httpr_xfer *active; /* in the multi (engine thread only) */
    httpr_xfer *dirty;  /* streams with unsignalled ring data (engine thread only) */
    long n_active;
    long maxconnects; /* CURLMOPT_MAXCONNECTS now in force */
    int64_t next_check; /* earliest deadline that may expire (engine thread only) */

    httpr_event *events; /* completion queue for async waiters */
    size_t ev_head;
    size_t ev_len;
    size_t ev_cap;

    httpr_xfer *pool; /* recycled records with their easy handles */
    size_t pool_len;

    /* FLT-16 (engine thread): fds libcurl opened for this engine (SOCKOPTFUNCTION), the
     * candidates a read expiry searches for its connection's socket. */
    int *socks;
    size_t n_socks;
    size_t cap_socks;

    /* The sockets libcurl closed last (CLOSESOCKETFUNCTION, engine thread): local port and
     * when the kernel says each last received data, for the resend check in PREREQ. */
    struct {
        int local_port;
        int64_t last_data_us;
    } dead_socks[8];
    unsigned dead_next;
};

/* init.c */
int64_t httpr_now_us(void);
CURLcode httpr_ssl_ctx_refuse_cn_only(CURL *curl, void *ssl_ctx, void *userdata);
int httpr_ssl_ctx_hook_ready(void);
void httpr_counter_add(int which, int64_t delta);
enum { HTTPR_COUNTER_ENGINES, HTTPR_COUNTER_RECORDS, HTTPR_COUNTER_IN_FLIGHT, HTTPR_COUNTER_THREADS };

/* xfer.c, for the engine */
void httpr_xfer_collect(httpr_xfer *x);
void httpr_xfer_destroy(httpr_xfer *x);
void httpr_xfer_reset_for_pool(httpr_xfer *x);
void httpr_xfer_signal_data(httpr_xfer *x);
int httpr_xfer_decode_for_notify(httpr_xfer *x, int curlcode); /* before DONE: decode.c */

/* xfer.c, also for decode.c */
/* a buffer's allocation becomes `cap` bytes (realloc); 0 or HTTPR_ENOMEM */
int httpr_buf_resize(httpr_buf *b, size_t cap);
/* a head line of the (lowercase) field `name`, and its value without surrounding whitespace */
int httpr_header_name_is(const char *line, size_t len, const char *name, size_t name_len);
void httpr_header_value(const char *line, size_t len, size_t name_len, const char **v,
                        size_t *vlen);
/* The next element of a comma-separated field value from *pos, trimmed (empty ones skipped):
 * 1 with the element in *elem and *len, 0 at the end. */
int httpr_list_next(const char *v, size_t n, size_t *pos, const char **elem, size_t *len);

/* decode.c, for xfer.c and init.c */
#define HTTPR_MAX_CODINGS 5 /* stacked content-codings decoded; more is a DecodingError (R6) */
int httpr_decode_built(void);
int64_t httpr_decode_limit(int64_t cap);
int httpr_decode_body(void **inflater, const char *head, size_t head_len, httpr_buf *body,
                      httpr_buf *scratch, int64_t cap, char *errbuf);
void httpr_decode_free(void *inflater);

/* engine.c, for xfer.c */
void httpr_engine_note_deadline(httpr_engine *e, int64_t at);
void httpr_engine_request_unpause(httpr_engine *e, httpr_xfer *x);
void httpr_engine_publish(httpr_engine *e, httpr_xfer *x, int kind);
/* design.md 1, inline driving: a sync transfer submitted to an engine without a thread
 * may be run by its owner, on the owner's thread, while the owner waits for it. */
#define HTTPR_INLINE_NEVER 0
#define HTTPR_INLINE_FIRST 1  /* a buffered request: only as the engine's first */
#define HTTPR_INLINE_STREAM 2 /* a sync stream: while the engine has no thread */
/* getpid() without the system call (init.c; refreshed after fork). */
pid_t httpr_self_pid(void);
int httpr_engine_submit_inline(httpr_engine *e, httpr_xfer *x, int mode);
/* The owner of an inline x, about to wait for one of events: runs the engine loop itself
 * until x has one of them, until_us (httpr_now_us clock) passes, or another transfer arrives
 * (which then goes to the engine thread, started at that moment). Returns 0 at once when x
 * is not inline, the thread exists or another caller drives: the caller then waits on the
 * record as usual. A client used from one thread at a time never starts a thread. */
int httpr_engine_drive(httpr_engine *e, httpr_xfer *x, int64_t until_us, int events);
void httpr_engine_mark_dirty(httpr_engine *e, httpr_xfer *x);
int httpr_engine_take_record(httpr_engine *e, httpr_xfer **out);
void httpr_engine_return_record(httpr_engine *e, httpr_xfer *x);
void httpr_engine_note_socket(httpr_engine *e, int fd);
int httpr_engine_close_socket(void *engine, curl_socket_t fd);
int httpr_engine_data_after(const httpr_engine *e, int local_port, int64_t since_us);

#endif /* HTTPR_INTERNAL_H */

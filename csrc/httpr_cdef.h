/* httpr_cdef.h - exactly what cffi parses (build_ffi.py). Constants are declared with "..."
 * so the compiler fills in their values: Python never hard-codes a libcurl or httpr number.
 * Structs end with "..." where cffi may let the compiler lay them out. */

#define HTTPR_ENOMEM ...
#define HTTPR_EINVAL ...
#define HTTPR_ECLOSED ...
#define HTTPR_ETIMEDOUT ...
#define HTTPR_ESYS ...
#define HTTPR_EAGAIN ...

#define HTTPR_REASON_NONE ...
#define HTTPR_REASON_CANCELLED ...
#define HTTPR_REASON_USER ...
#define HTTPR_REASON_POOL ...
#define HTTPR_REASON_CONNECT ...
#define HTTPR_REASON_READ ...
#define HTTPR_REASON_WRITE ...
#define HTTPR_REASON_TOTAL ...
#define HTTPR_REASON_HEADER_CAP ...
#define HTTPR_REASON_FRAMING ...
#define HTTPR_REASON_SIZE_CAP ...
#define HTTPR_REASON_DECODING ...
#define HTTPR_REASON_VERSION ...
#define HTTPR_REASON_RESEND ...

#define HTTPR_EV_HEAD ...
#define HTTPR_EV_DONE ...
#define HTTPR_EV_DATA ...
#define HTTPR_EV_SPACE ...

#define HTTPR_F_BODY ...
#define HTTPR_F_REPLAYABLE ...
#define HTTPR_F_HEAD ...
#define HTTPR_F_NOTIFY ...
#define HTTPR_F_STREAM ...
#define HTTPR_F_UPLOAD ...
#define HTTPR_F_CHUNKED ...
#define HTTPR_F_OWN_DECODE ...
#define HTTPR_STREAM_HWM_BYTES ...

#define HTTPR_HTTP_DEFAULT ...
#define HTTPR_HTTP_1_1 ...
#define HTTPR_HTTP_2_ONLY ...

#define HTTPR_MAX_HEADER_BYTES ...
#define HTTPR_MAX_HEADER_LINES ...

/* libcurl values the error table and the result need */
#define CURL_HTTP_VERSION_1_0 ...
#define CURL_HTTP_VERSION_1_1 ...
#define CURL_HTTP_VERSION_2_0 ...
#define CURL_HTTP_VERSION_3 ...
/* what SEC-19 compares the option baseline with (security.md 2) */
#define CURL_NETRC_IGNORED ...
#define CURLHEADER_SEPARATE ...
#define CURL_SSLVERSION_TLSv1_2 ...
#define CURLAUTH_ANY ...

typedef enum {
    CURLE_OK,
    CURLE_UNSUPPORTED_PROTOCOL,
    CURLE_FAILED_INIT,
    CURLE_URL_MALFORMAT,
    CURLE_COULDNT_RESOLVE_PROXY,
    CURLE_COULDNT_RESOLVE_HOST,
    CURLE_COULDNT_CONNECT,
    CURLE_WEIRD_SERVER_REPLY,
    CURLE_HTTP2,
    CURLE_PARTIAL_FILE,
    CURLE_WRITE_ERROR,
    CURLE_OUT_OF_MEMORY,
    CURLE_OPERATION_TIMEDOUT,
    CURLE_BAD_FUNCTION_ARGUMENT,
    CURLE_RANGE_ERROR,
    CURLE_ABORTED_BY_CALLBACK,
    CURLE_GOT_NOTHING,
    CURLE_SSL_ENGINE_NOTFOUND,
    CURLE_SEND_ERROR,
    CURLE_RECV_ERROR,
    CURLE_SSL_CERTPROBLEM,
    CURLE_SSL_CIPHER,
    CURLE_PEER_FAILED_VERIFICATION,
    CURLE_BAD_CONTENT_ENCODING,
    CURLE_FILESIZE_EXCEEDED,
    CURLE_SEND_FAIL_REWIND,
    CURLE_SSL_CONNECT_ERROR,
    CURLE_SSL_CACERT_BADFILE,
    CURLE_SSL_ISSUER_ERROR,
    CURLE_SSL_PINNEDPUBKEYNOTMATCH,
    CURLE_SSL_INVALIDCERTSTATUS,
    CURLE_HTTP2_STREAM,
    CURLE_PROXY,
    CURLE_SSL_CLIENTCERT,
    ...
} CURLcode;

typedef struct httpr_engine httpr_engine;
typedef struct httpr_xfer httpr_xfer;

typedef struct {
    int http_version;
    int verify;
    const char *ca_file;
    const char *proxy;
    const char *noproxy;
    const char *accept_encoding;
    const char *proxy_userpwd;
    const char *proxy_headers;
    size_t proxy_headers_len;
    const char *client_pem;
    const char *client_pem_data;
    size_t client_pem_len;
    int64_t connect_timeout_ms;
    int64_t read_timeout_ms;
    int64_t write_timeout_ms;
    int64_t pool_timeout_ms;
    int64_t total_timeout_ms;
    int64_t max_response_size;
    int64_t maxage_conn_s;
} httpr_options;

typedef struct {
    uint64_t id;
    int events;
    int curlcode;
    int reason;
    long status;
    long http_version;
    long num_connects;
    long connect_code;
    int request_sent;
    int head_done;
    int64_t t_namelookup_us;
    int64_t t_connect_us;
    int64_t t_appconnect_us;
    int64_t t_pretransfer_us;
    int64_t t_starttransfer_us;
    int64_t t_total_us;
    int64_t elapsed_us;
    const char *head;
    size_t head_len;
    const char *body;
    size_t body_len;
    const char *error;
} httpr_result;

typedef struct {
    uint64_t id;
    int kind;
} httpr_event;

typedef struct {
    unsigned int version_num;
    const char *version;
    const char *ssl_version;
    const char *cainfo;
    int http2;
    int http3;
    int brotli;
    int zstd;
    int libz;
    int asynchdns;
    int threadsafe;
    int https_proxy;
    int refuses_cn_only;
    int own_decoding;
} httpr_curl_info;

typedef struct {
    int64_t engines;
    int64_t records;
    int64_t in_flight;
    int64_t threads;
} httpr_counters;

#define HTTPR_OPT_UNSET ...
#define HTTPR_OPT_NULL ...

typedef struct {
    uint64_t uses;
    char protocols[32];
    char redir_protocols[32];
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
    long cainfo;
    long capath;
    long proxy_cainfo;
    long proxy_capath;
    long ssl_ctx_function;
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
    long expect_empty;
    long cookiefile;
    long cookiejar;
    long cookielist;
    long verbose;
    long debugfunction;
    long maxfilesize;
    long maxfilesize_large;
} httpr_baseline;

int httpr_global_init(void);
int httpr_curl_info_get(httpr_curl_info *out);
int httpr_counters_get(httpr_counters *out);

int httpr_engine_new(long max_connections, long max_host_connections, httpr_engine **out);
int httpr_engine_close(httpr_engine *e);
void httpr_engine_free(httpr_engine *e);
int httpr_engine_submit(httpr_engine *e, httpr_xfer *x);
int httpr_engine_cancel(httpr_engine *e, httpr_xfer *x);
int httpr_engine_events_fd(httpr_engine *e, int *fd);
int httpr_engine_drain(httpr_engine *e, httpr_event *out, size_t cap, size_t *n);

int httpr_xfer_new(httpr_engine *e, httpr_xfer **out);
int httpr_xfer_setup(httpr_xfer *x, const httpr_options *opts, const char *method,
                     const char *url, const char *headers, size_t headers_len, const char *body,
                     size_t body_len, int flags);
int httpr_xfer_start(httpr_engine *e, const httpr_options *opts, const char *method,
                     const char *url, const char *headers, size_t headers_len, const char *body,
                     size_t body_len, int flags, httpr_xfer **out);
int httpr_xfer_id(httpr_xfer *x, uint64_t *id);
int httpr_xfer_wait(httpr_xfer *x, int events, int timeout_ms);
int httpr_xfer_result(httpr_xfer *x, httpr_result *out);
int httpr_xfer_finish(httpr_xfer *x, int timeout_ms, httpr_result *out);
int httpr_xfer_run(httpr_engine *e, const httpr_options *opts, const char *method,
                   const char *url, const char *headers, size_t headers_len, const char *body,
                   size_t body_len, int flags, int timeout_ms, char *copy, size_t copy_cap,
                   httpr_result *res, httpr_xfer **out);
int httpr_xfer_head(httpr_xfer *x, const char **head, size_t *len, long *status);
int httpr_stream_read(httpr_xfer *x, char *buf, size_t cap, size_t *n, int timeout_ms);
int httpr_stream_next(httpr_xfer *x, size_t consumed, const char **data, size_t cap, size_t *n,
                      int timeout_ms);
int httpr_xfer_feed(httpr_xfer *x, const char *data, size_t len, int eof, size_t *accepted,
                    int timeout_ms);
int httpr_xfer_baseline(httpr_xfer *x, httpr_baseline *out);
void httpr_xfer_free(httpr_xfer *x);

const char *curl_easy_strerror(CURLcode code);

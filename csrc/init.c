/*
 * init.c - the global-init guard, the libcurl version/feature query, the monotonic clock and
 * the debug live-object counters the leak tests read (the only globals of the C layer).
 *
 * Threads: everything here may be called from any thread.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_result = CURLE_OK;
static int64_t counters[4];

/* ---- CN-only certificates (R8, amendment 2.3) ----
 * libcurl 7.88 checks host names itself and falls back to the subject CN when a certificate
 * has no subjectAltName; httpr refuses such certificates. The OpenSSL functions come from
 * the libssl libcurl already loaded (dlsym), so the build needs no OpenSSL headers; the two
 * numbers below are OpenSSL's stable ABI values (objects.h, x509_vfy.h). */
#define OSSL_NID_SUBJECT_ALT_NAME 85
#define OSSL_X509_V_ERR_HOSTNAME_MISMATCH 62

typedef int (*verify_cb_t)(int, void *);
static struct {
    int (*ctx_get_verify_mode)(const void *);
    void (*ctx_set_verify)(void *, int, verify_cb_t);
    verify_cb_t (*ctx_get_verify_callback)(const void *);
    int (*store_get_error_depth)(const void *);
    void *(*store_get_current_cert)(const void *);
    void (*store_set_error)(void *, int);
    int (*get_ext_by_nid)(const void *, int, int);
} ossl;
static int ossl_ready;

static void load_openssl(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    if (!v->ssl_version || strncmp(v->ssl_version, "OpenSSL", 7) != 0)
        return; /* another TLS backend: a documented limitation */
#define LOAD(field, name)                                                                          \
    do {                                                                                           \
        *(void **)&ossl.field = dlsym(RTLD_DEFAULT, name);                                         \
        if (!ossl.field)                                                                           \
            return;                                                                                \
    } while (0)
    LOAD(ctx_get_verify_mode, "SSL_CTX_get_verify_mode");
    LOAD(ctx_set_verify, "SSL_CTX_set_verify");
    LOAD(ctx_get_verify_callback, "SSL_CTX_get_verify_callback");
    LOAD(store_get_error_depth, "X509_STORE_CTX_get_error_depth");
    LOAD(store_get_current_cert, "X509_STORE_CTX_get_current_cert");
    LOAD(store_set_error, "X509_STORE_CTX_set_error");
    LOAD(get_ext_by_nid, "X509_get_ext_by_NID");
#undef LOAD
    ossl_ready = 1;
}

/* OpenSSL's verify callback: the leaf must carry a subjectAltName. */
static int verify_san(int ok, void *store)
{
    if (!ok)
        return 0;
    if (ossl.store_get_error_depth(store) == 0) {
        void *cert = ossl.store_get_current_cert(store);
        if (cert && ossl.get_ext_by_nid(cert, OSSL_NID_SUBJECT_ALT_NAME, -1) < 0) {
            ossl.store_set_error(store, OSSL_X509_V_ERR_HOSTNAME_MISMATCH);
            return 0;
        }
    }
    return 1;
}

/* CURLOPT_SSL_CTX_FUNCTION (engine thread, only with verification on). */
CURLcode httpr_ssl_ctx_refuse_cn_only(CURL *curl, void *ssl_ctx, void *userdata)
{
    (void)curl;
    (void)userdata;
    if (ossl_ready && !ossl.ctx_get_verify_callback(ssl_ctx))
        ossl.ctx_set_verify(ssl_ctx, ossl.ctx_get_verify_mode(ssl_ctx), verify_san);
    return CURLE_OK;
}

int httpr_ssl_ctx_hook_ready(void)
{
    return ossl_ready;
}

/* This process's id, kept for the engine's fork checks (several per request): glibc's
 * getpid() is a system call. Refreshed in a forked child by the atfork handler. */
static pid_t self_pid;

static void after_fork_in_child(void)
{
    __atomic_store_n(&self_pid, getpid(), __ATOMIC_RELAXED);
}

pid_t httpr_self_pid(void)
{
    pid_t p = __atomic_load_n(&self_pid, __ATOMIC_RELAXED);
    return p ? p : getpid(); /* before httpr_global_init */
}

static void global_init(void)
{
    __atomic_store_n(&self_pid, getpid(), __ATOMIC_RELAXED);
    pthread_atfork(NULL, NULL, after_fork_in_child);
    /* Never curl_global_cleanup: other libraries in the process may share libcurl. */
    init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (init_result == CURLE_OK)
        load_openssl();
}

int httpr_global_init(void)
{
    pthread_once(&init_once, global_init);
    return (int)init_result;
}

int httpr_curl_info_get(httpr_curl_info *out)
{
    if (!out)
        return HTTPR_EINVAL;
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    memset(out, 0, sizeof(*out));
    out->version_num = v->version_num;
    out->version = v->version;
    out->ssl_version = v->ssl_version ? v->ssl_version : "";
    out->cainfo = v->cainfo ? v->cainfo : "";
    out->http2 = (v->features & CURL_VERSION_HTTP2) != 0;
    out->http3 = (v->features & CURL_VERSION_HTTP3) != 0;
    out->brotli = (v->features & CURL_VERSION_BROTLI) != 0;
    out->zstd = (v->features & CURL_VERSION_ZSTD) != 0;
    out->libz = (v->features & CURL_VERSION_LIBZ) != 0;
    out->asynchdns = (v->features & CURL_VERSION_ASYNCHDNS) != 0;
    out->threadsafe = (v->features & CURL_VERSION_THREADSAFE) != 0;
    out->https_proxy = (v->features & CURL_VERSION_HTTPS_PROXY) != 0;
    out->refuses_cn_only = ossl_ready;
    out->own_decoding = httpr_decode_built();
    return 0;
}

int64_t httpr_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void httpr_counter_add(int which, int64_t delta)
{
    __atomic_add_fetch(&counters[which], delta, __ATOMIC_RELAXED);
}

int httpr_counters_get(httpr_counters *out)
{
    if (!out)
        return HTTPR_EINVAL;
    out->engines = __atomic_load_n(&counters[HTTPR_COUNTER_ENGINES], __ATOMIC_RELAXED);
    out->records = __atomic_load_n(&counters[HTTPR_COUNTER_RECORDS], __ATOMIC_RELAXED);
    out->in_flight = __atomic_load_n(&counters[HTTPR_COUNTER_IN_FLIGHT], __ATOMIC_RELAXED);
    out->threads = __atomic_load_n(&counters[HTTPR_COUNTER_THREADS], __ATOMIC_RELAXED);
    return 0;
}

/*
 * init.c - the global-init guard, the libcurl version/feature query, the monotonic clock and
 * the debug live-object counters the leak tests read (the only globals of the C layer).
 *
 * Threads: everything here may be called from any thread.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_result = CURLE_OK;
static int64_t counters[4];

static void global_init(void)
{
    /* Never curl_global_cleanup: other libraries in the process may share libcurl. */
    init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
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

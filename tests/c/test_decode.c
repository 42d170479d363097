/* test_decode.c - csrc/decode.c on its own: every coding, the cap at its exact boundary on
 * each layer, corrupt, cut and trailing data, the coding list's rules. Needs the decoders'
 * libraries (the Makefile links libbrotlienc too, for the br bodies made here); without them
 * it checks that decode.c refuses instead of passing coded bytes through. */
#include <string.h>

#include "check.h"
#include "internal.h"

#define HEAD_GZIP "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"

static size_t scratch_len; /* what the failed layer of the last run() had written */

static int run(const char *head, const void *coded, size_t n, int64_t cap, httpr_buf *out)
{
    static void *inflater;
    static char errbuf[CURL_ERROR_SIZE];
    httpr_buf scratch = {0};
    out->len = 0;
    if (out->cap < n + 1) {
        free(out->data);
        out->data = malloc(n + 1);
        out->cap = n + 1;
    }
    memcpy(out->data, coded, n);
    out->len = n;
    errbuf[0] = '\0';
    int rc = httpr_decode_body(&inflater, head, strlen(head), out, &scratch, cap, errbuf);
    scratch_len = scratch.len;
    free(scratch.data);
    if (cap == -2) { /* the last call: free the cached state */
        httpr_decode_free(inflater);
        inflater = NULL;
    }
    return rc;
}

#ifdef HTTPR_OWN_DECODING
#include <brotli/encode.h>
#include <libdeflate.h>
#include <zstd.h>

enum { GZ, ZL, RAW, BR, ZS };
static const char *const names[] = {"gzip", "deflate", "deflate", "br", "zstd"};

/* `data` coded as `coding`, in a malloc'd buffer (*n its size). */
static char *encode(int coding, const char *data, size_t len, size_t *n)
{
    size_t cap = len + len / 2 + 1024;
    char *out = malloc(cap);
    if (coding == BR) {
        *n = cap;
        BrotliEncoderCompress(5, 22, BROTLI_MODE_GENERIC, len, (const uint8_t *)data, n,
                              (uint8_t *)out);
    } else if (coding == ZS) {
        *n = ZSTD_compress(out, cap, data, len, 3);
    } else {
        struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
        *n = coding == GZ   ? libdeflate_gzip_compress(c, data, len, out, cap)
             : coding == ZL ? libdeflate_zlib_compress(c, data, len, out, cap)
                            : libdeflate_deflate_compress(c, data, len, out, cap);
        libdeflate_free_compressor(c);
    }
    return out;
}

static char *sample(size_t len)
{
    char *p = malloc(len);
    uint32_t s = 12345;
    for (size_t i = 0; i < len; i++) {
        s = s * 1103515245u + 12345u;
        p[i] = (i % 3) ? (char)('a' + (s >> 24) % 8) : '\0'; /* compressible, not trivially */
    }
    return p;
}

static void head_for(char *head, size_t cap, const char *value)
{
    snprintf(head, cap, "HTTP/1.1 200 OK\r\nContent-Type: x\r\ncontent-encoding: %s\r\n\r\n",
             value);
}

static void test_each_coding_and_the_cap_boundary(void)
{
    const size_t len = 300000;
    char *data = sample(len);
    httpr_buf out = {0};
    char head[128];
    for (int c = GZ; c <= ZS; c++) {
        size_t n;
        char *coded = encode(c, data, len, &n);
        head_for(head, sizeof(head), names[c]);
        CHECK_EQ_LL(run(head, coded, n, -1, &out), 0);
        CHECK_EQ_LL(out.len, len);
        CHECK(out.len == len && memcmp(out.data, data, len) == 0);
        /* The cap is the decoded size: exactly len passes, one byte less fails. */
        CHECK_EQ_LL(run(head, coded, n, (int64_t)len, &out), 0);
        CHECK_EQ_LL(run(head, coded, n, (int64_t)len - 1, &out), HTTPR_REASON_SIZE_CAP);
        CHECK_EQ_LL(run(head, coded, n, 1000, &out), HTTPR_REASON_SIZE_CAP);
        CHECK(scratch_len <= 1001); /* never more than cap + 1 bytes decoded (R6) */
        /* Cut in half: an error, never a short body. */
        CHECK_EQ_LL(run(head, coded, n / 2, -1, &out), HTTPR_REASON_DECODING);
        free(coded);
    }
    free(out.data);
    free(data);
}

static void test_bomb_stays_within_the_cap(void)
{
    const size_t len = 64 * 1024 * 1024; /* 64 MiB of zeros: ~64 KiB of gzip */
    char *zeros = calloc(1, len);
    httpr_buf out = {0};
    for (int c = GZ; c <= ZS; c++) {
        char head[128];
        size_t n;
        char *coded = encode(c, zeros, len, &n);
        head_for(head, sizeof(head), names[c]);
        CHECK_EQ_LL(run(head, coded, n, 1 << 20, &out), HTTPR_REASON_SIZE_CAP);
        CHECK(scratch_len <= (1 << 20) + 1);
        /* Without a cap the whole body comes out, however far the first guess was off. */
        CHECK_EQ_LL(run(head, coded, n, -1, &out), 0);
        CHECK_EQ_LL(out.len, len);
        free(coded);
    }
    free(out.data);
    free(zeros);
}

static void test_stacks_and_lists(void)
{
    const char *data = "hello, stacked world";
    size_t len = strlen(data), n1, n2;
    char *inner = encode(GZ, data, len, &n1);
    char *outer = encode(BR, inner, n1, &n2);
    httpr_buf out = {0};
    CHECK_EQ_LL(run("HTTP/1.1 200 OK\r\nContent-Encoding: identity, gzip ,br\r\n", outer, n2, -1,
                    &out),
                0);
    CHECK(out.len == len && memcmp(out.data, data, len) == 0);
    CHECK_EQ_LL(run("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nX: 1\r\nContent-Encoding: br\r\n",
                    outer, n2, -1, &out),
                0);
    CHECK(out.len == len && memcmp(out.data, data, len) == 0);
    /* Order matters: br was applied last, so undoing gzip first fails. */
    CHECK_EQ_LL(run("HTTP/1.1 200 OK\r\nContent-Encoding: br, gzip\r\n", outer, n2, -1, &out),
                HTTPR_REASON_DECODING);
    /* Each layer is capped: 20 bytes decoded is one over a cap of 19. */
    CHECK_EQ_LL(run("HTTP/1.1 200 OK\r\nContent-Encoding: gzip, br\r\n", outer, n2, 19, &out),
                HTTPR_REASON_SIZE_CAP);
    free(inner);
    free(outer);
    /* Trailing bytes after a gzip stream */
    char *g = encode(GZ, data, len, &n1);
    char *gt = malloc(n1 + 4);
    memcpy(gt, g, n1);
    memcpy(gt + n1, "junk", 4);
    CHECK_EQ_LL(run(HEAD_GZIP, gt, n1 + 4, -1, &out), HTTPR_REASON_DECODING);
    free(g);
    free(gt);
    free(out.data);
}

#endif /* HTTPR_OWN_DECODING */

static void test_coding_list_rules(void)
{
    httpr_buf out = {0};
    /* No coding, or identity only: the body is left alone. */
    CHECK_EQ_LL(run("HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\n", "abc", 3, -1, &out), 0);
    CHECK(out.len == 3 && memcmp(out.data, "abc", 3) == 0);
    /* An empty body decodes to nothing whatever the coding claims. */
    CHECK_EQ_LL(run(HEAD_GZIP, "", 0, -1, &out), 0);
    /* Unknown codings and more than five are refused before any decoding. */
    CHECK_EQ_LL(run("HTTP/1.1 200 OK\r\nContent-Encoding: compress\r\n", "abc", 3, -1, &out),
                HTTPR_REASON_DECODING);
    CHECK_EQ_LL(run("HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip, gzip, gzip, gzip, gzip\r\n",
                    "abc", 3, -1, &out),
                HTTPR_REASON_DECODING);
    /* The limit for inner layers: the cap plus framing headroom, saturating. */
    CHECK_EQ_LL(httpr_decode_limit(-1), -1);
    CHECK_EQ_LL(httpr_decode_limit(6400), 6400 + 100 + 64 * 1024);
    CHECK_EQ_LL(httpr_decode_limit(INT64_MAX), INT64_MAX);
#ifndef HTTPR_OWN_DECODING
    /* Without the decoders a coded body is refused, never handed over still coded. */
    CHECK_EQ_LL(run(HEAD_GZIP, "abc", 3, -1, &out), HTTPR_REASON_DECODING);
#endif
    run("HTTP/1.1 200 OK\r\n", "", 0, -2, &out); /* frees the cached inflater */
    free(out.data);
}

int main(void)
{
#ifdef HTTPR_OWN_DECODING
    CHECK_EQ_LL(httpr_decode_built(), 1);
    test_each_coding_and_the_cap_boundary();
    test_bomb_stays_within_the_cap();
    test_stacks_and_lists();
#else
    CHECK_EQ_LL(httpr_decode_built(), 0);
#endif
    test_coding_list_rules();
    return check_report("test_decode");
}

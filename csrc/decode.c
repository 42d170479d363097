/*
 * decode.c - httpr's own content decoding of buffered bodies (amendment 2.10, design.md 3).
 *
 * A buffered transfer asks libcurl for the raw body (HTTP_CONTENT_DECODING = 0) and decodes
 * it here in one pass per coding: libdeflate for gzip and deflate (about twice zlib's speed
 * on the bench bodies), libbrotlidec and libzstd for br and zstd. Sync transfers are decoded
 * on the caller's thread with the GIL released (threads decode in parallel); async ones on
 * the engine thread before DONE, up to HTTPR_ENGINE_DECODE_MAX_BYTES coded, since the event
 * loop's thread is the async bottleneck (xfer.c, decode_once). Streams keep libcurl's
 * incremental decoders. "none", like "identity", is no coding, and an empty body is never
 * decoded (libcurl reports a bad coding only once body bytes arrive).
 *
 * The rules are libcurl's, so a body decodes the same buffered or streamed: codings apply in
 * header order and are undone in reverse; "identity" is skipped; more than five, or one not
 * listed here, is a DecodingError; gzip, deflate and br hold one stream and nothing after it
 * (libcurl 7.88 fails on trailing bytes); zstd may hold several frames. Unlike libcurl, a
 * truncated coded body is an error, never a silently short body.
 *
 * Only transfers without max_response_size come here (xfer.c): under a cap, libcurl's
 * incremental decoder aborts a decompression bomb while it arrives (SEC-08), which a one-pass
 * decoder cannot. The decoder still takes a cap, for its own tests and any later caller:
 * every layer's output is capped (the last at the cap, the inner ones at httpr_decode_limit
 * of it), and no layer writes beyond its cap + 1 bytes (R6).
 *
 * Built only when build_ffi.py found all three libraries (HTTPR_OWN_DECODING); otherwise
 * httpr_decode_built() says 0 and every transfer keeps libcurl's decoding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#ifdef HTTPR_OWN_DECODING
#include <brotli/decode.h>
#include <libdeflate.h>
#include <zstd.h>
#endif

enum { CODING_GZIP, CODING_DEFLATE, CODING_BR, CODING_ZSTD };

int httpr_decode_built(void)
{
#ifdef HTTPR_OWN_DECODING
    return 1;
#else
    return 0;
#endif
}

int64_t httpr_decode_limit(int64_t cap)
{
    if (cap < 0)
        return -1;
    /* Coded bytes exceed the decoded ones only by framing (5 bytes per 64 KiB stored block,
     * headers, trailers): a coded layer this far above the cap cannot decode to within it.
     * A hostile but valid stream can be padded beyond it (gzip name and comment fields, empty
     * stored blocks, zstd skippable frames): it then fails as too large, never passes. */
    int64_t margin = cap / 64 + 64 * 1024;
    return cap > INT64_MAX - margin ? INT64_MAX : cap + margin;
}

/* The content-codings of a head's Content-Encoding lines, in the order they were applied.
 * Returns their number, or -1 with errbuf set. */
static int parse_codings(const char *head, size_t len, int codings[HTTPR_MAX_CODINGS],
                         char *errbuf)
{
    int n = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *line = head + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - line) + 1 : len - pos;
        pos += line_len;
        if (!httpr_header_name_is(line, line_len, "content-encoding", 16))
            continue;
        const char *v, *t;
        size_t vlen, tok, at = 0;
        httpr_header_value(line, line_len, 16, &v, &vlen);
        while (httpr_list_next(v, vlen, &at, &t, &tok)) {
            if ((tok == 8 && strncasecmp(t, "identity", 8) == 0) ||
                (tok == 4 && strncasecmp(t, "none", 4) == 0))
                continue; /* libcurl 7.88 takes "none" as identity too */
            int c;
            if ((tok == 4 && strncasecmp(t, "gzip", 4) == 0) ||
                (tok == 6 && strncasecmp(t, "x-gzip", 6) == 0))
                c = CODING_GZIP;
            else if (tok == 7 && strncasecmp(t, "deflate", 7) == 0)
                c = CODING_DEFLATE;
            else if (tok == 2 && strncasecmp(t, "br", 2) == 0)
                c = CODING_BR;
            else if (tok == 4 && strncasecmp(t, "zstd", 4) == 0)
                c = CODING_ZSTD;
            else {
                snprintf(errbuf, CURL_ERROR_SIZE, "unsupported content-coding '%.*s'",
                         (int)(tok > 64 ? 64 : tok), t);
                return -1;
            }
            if (n == HTTPR_MAX_CODINGS) {
                snprintf(errbuf, CURL_ERROR_SIZE, "more than %d content-codings",
                         HTTPR_MAX_CODINGS);
                return -1;
            }
            codings[n++] = c;
        }
    }
    return n;
}

#ifdef HTTPR_OWN_DECODING

/* The bytes a layer may write into `out`: its buffer, but never beyond `room`. */
static size_t usable(const httpr_buf *out, size_t room)
{
    return out->cap < room ? out->cap : room;
}

/* More room in `out` (at least `want` bytes, else double), never beyond `room` bytes.
 * Returns 0, HTTPR_REASON_SIZE_CAP when `room` is already usable (the cap is hit), or
 * HTTPR_ENOMEM. */
static int grow(httpr_buf *out, size_t want, size_t room)
{
    if (out->cap >= room)
        return HTTPR_REASON_SIZE_CAP;
    size_t cap = out->cap < want ? want : out->cap * 2;
    if (cap < 64 * 1024)
        cap = 64 * 1024;
    if (cap > room || cap < out->cap)
        cap = room;
    return httpr_buf_resize(out, cap);
}

static int bad(char *errbuf, const char *coding, const char *what)
{
    snprintf(errbuf, CURL_ERROR_SIZE, "%s: %s", coding, what);
    return HTTPR_REASON_DECODING;
}

/* gzip and deflate: libdeflate decodes a whole stream into a buffer big enough for it, so a
 * buffer found too small is grown and the stream decoded again (gzip's trailer names the
 * size, so that is rare). */
static int inflate_layer(struct libdeflate_decompressor *d, int coding, const httpr_buf *in,
                         httpr_buf *out, size_t room, char *errbuf)
{
    const char *name = coding == CODING_GZIP ? "gzip" : "deflate";
    size_t want = in->len * 4;
    if (coding == CODING_GZIP && in->len >= 18) {
        /* The trailer's size is the server's word: believed only up to what deflate can
         * expand to (1032:1), so 20 bytes claiming 4 GiB allocate nothing near that. */
        const unsigned char *t = (const unsigned char *)in->data + in->len - 4;
        size_t isize = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
        if (isize >= in->len / 2 && isize / 1032 <= in->len)
            want = isize + 1; /* +1: a body of exactly the cap must still be told apart */
    }
    if (usable(out, room) < want) {
        int rc = grow(out, want, room);
        if (rc == HTTPR_ENOMEM)
            return rc;
    }
    int raw = 0;
    for (;;) {
        size_t avail = usable(out, room);
        size_t used_in = 0, used_out = 0;
        enum libdeflate_result r;
        if (coding == CODING_GZIP)
            r = libdeflate_gzip_decompress_ex(d, in->data, in->len, out->data, avail, &used_in,
                                              &used_out);
        else if (!raw)
            r = libdeflate_zlib_decompress_ex(d, in->data, in->len, out->data, avail, &used_in,
                                              &used_out);
        else
            r = libdeflate_deflate_decompress_ex(d, in->data, in->len, out->data, avail,
                                                 &used_in, &used_out);
        if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
            int rc = grow(out, avail * 2, room);
            if (rc != 0)
                return rc;
            continue;
        }
        if (r == LIBDEFLATE_BAD_DATA && coding == CODING_DEFLATE && !raw) {
            raw = 1; /* "deflate" sent without its zlib wrapper, as libcurl also accepts */
            continue;
        }
        if (r != LIBDEFLATE_SUCCESS) /* libdeflate cannot tell a cut stream from a bad one */
            return bad(errbuf, name, "corrupt or truncated data");
        if (used_in != in->len)
            return bad(errbuf, name, "data after the end of the stream");
        out->len = used_out;
        return used_out >= room ? HTTPR_REASON_SIZE_CAP : 0;
    }
}

static int brotli_layer(const httpr_buf *in, httpr_buf *out, size_t room, char *errbuf)
{
    BrotliDecoderState *s = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (!s)
        return HTTPR_ENOMEM;
    const uint8_t *next_in = (const uint8_t *)in->data;
    size_t avail_in = in->len;
    int rc = 0;
    for (;;) {
        if (out->len >= usable(out, room) && (rc = grow(out, in->len * 4, room)) != 0)
            break;
        size_t end = usable(out, room);
        uint8_t *next_out = (uint8_t *)out->data + out->len;
        size_t avail_out = end - out->len;
        BrotliDecoderResult r =
            BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, NULL);
        out->len = end - avail_out;
        if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT)
            continue;
        if (r == BROTLI_DECODER_RESULT_SUCCESS)
            rc = avail_in ? bad(errbuf, "br", "data after the end of the stream") : 0;
        else if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
            rc = bad(errbuf, "br", "truncated data");
        else
            rc = bad(errbuf, "br", BrotliDecoderErrorString(BrotliDecoderGetErrorCode(s)));
        break;
    }
    BrotliDecoderDestroyInstance(s);
    if (rc == 0 && out->len >= room)
        rc = HTTPR_REASON_SIZE_CAP;
    return rc;
}

static int zstd_layer(const httpr_buf *in, httpr_buf *out, size_t room, char *errbuf)
{
    ZSTD_DCtx *z = ZSTD_createDCtx();
    if (!z)
        return HTTPR_ENOMEM;
    ZSTD_inBuffer src = {in->data, in->len, 0};
    int rc = 0;
    for (;;) {
        if (out->len >= usable(out, room) && (rc = grow(out, in->len * 4, room)) != 0)
            break;
        ZSTD_outBuffer dst = {out->data, usable(out, room), out->len};
        size_t was_in = src.pos, was_out = dst.pos;
        size_t left = ZSTD_decompressStream(z, &dst, &src);
        out->len = dst.pos;
        if (ZSTD_isError(left)) {
            rc = bad(errbuf, "zstd", ZSTD_getErrorName(left));
            break;
        }
        if (src.pos == src.size && left == 0)
            break; /* every frame ended and was flushed */
        if (src.pos == was_in && dst.pos == was_out && dst.pos < dst.size) {
            /* No progress with room to spare: the input ended inside a frame. */
            rc = bad(errbuf, "zstd", "truncated data");
            break;
        }
    }
    ZSTD_freeDCtx(z);
    if (rc == 0 && out->len >= room)
        rc = HTTPR_REASON_SIZE_CAP;
    return rc;
}

#endif /* HTTPR_OWN_DECODING */

int httpr_decode_body(void **inflater, const char *head, size_t head_len, httpr_buf *body,
                      httpr_buf *scratch, int64_t cap, char *errbuf)
{
    /* No body, nothing to decode: libcurl 7.88 reports a coding it cannot decode only when
     * body bytes arrive, so HEAD, 204 and 304 with "Content-Encoding: UTF-8" pass. */
    if (body->len == 0)
        return 0;
    int codings[HTTPR_MAX_CODINGS];
    int n = parse_codings(head, head_len, codings, errbuf);
    if (n < 0)
        return HTTPR_REASON_DECODING;
    if (n == 0)
        return 0;
#ifdef HTTPR_OWN_DECODING
    if (!*inflater && (*inflater = libdeflate_alloc_decompressor()) == NULL)
        return HTTPR_ENOMEM;
    int64_t inner = httpr_decode_limit(cap);
    for (int i = n - 1; i >= 0; i--) {
        int64_t limit = i == 0 ? cap : inner;
        /* room = limit + 1: a layer that fills it is over its cap */
        size_t room = limit < 0 || (uint64_t)limit >= SIZE_MAX / 2 ? SIZE_MAX / 2
                                                                   : (size_t)limit + 1;
        scratch->len = 0;
        int rc;
        if (codings[i] == CODING_BR)
            rc = brotli_layer(body, scratch, room, errbuf);
        else if (codings[i] == CODING_ZSTD)
            rc = zstd_layer(body, scratch, room, errbuf);
        else
            rc = inflate_layer(*inflater, codings[i], body, scratch, room, errbuf);
        if (rc != 0)
            return rc;
        httpr_buf t = *body; /* the decoded layer becomes the body; the old one the scratch */
        *body = *scratch;
        *scratch = t;
        if (body->len == 0)
            break; /* a layer decoded to nothing: so do the ones around it */
    }
    return 0;
#else
    (void)inflater;
    (void)scratch;
    (void)cap;
    snprintf(errbuf, CURL_ERROR_SIZE, "this build of httpr has no decoders of its own");
    return HTTPR_REASON_DECODING;
#endif
}

void httpr_decode_free(void *inflater)
{
#ifdef HTTPR_OWN_DECODING
    if (inflater)
        libdeflate_free_decompressor(inflater);
#else
    (void)inflater;
#endif
}

/*
 * ring.c - a bounded byte ring: the per-stream buffer between libcurl's write callback and the
 * reader (design.md section 4), and the upload ring that mirrors it.
 *
 * Threads: none of its own; the caller serialises access (the record's lock). A stream's
 * writer may copy outside the lock (httpr_ring_tail, _fill, _commit): the free space is the
 * writer's alone as long as the reader only consumes and never rewinds meanwhile.
 * Writes never grow the ring: a write stores what fits and reports how much, so the caller
 * decides to pause. That bound is what keeps a slow reader from costing memory (curl_cffi's
 * unbounded queue grew by 1.7 GB, curl_cffi#798).
 */
#include <stdlib.h>
#include <string.h>

#include "httpr.h"

int httpr_ring_init(httpr_ring *r, size_t cap)
{
    if (!r || cap == 0)
        return HTTPR_EINVAL;
    r->data = malloc(cap);
    if (!r->data)
        return HTTPR_ENOMEM;
    r->cap = cap;
    r->head = 0;
    r->len = 0;
    return 0;
}

void httpr_ring_free(httpr_ring *r)
{
    if (!r)
        return;
    free(r->data);
    r->data = NULL;
    r->cap = r->head = r->len = 0;
}

size_t httpr_ring_space(const httpr_ring *r)
{
    return r->cap - r->len;
}

size_t httpr_ring_write(httpr_ring *r, const void *src, size_t n)
{
    size_t space = r->cap - r->len;
    if (n > space)
        n = space;
    size_t tail = (r->head + r->len) % r->cap;
    size_t first = r->cap - tail < n ? r->cap - tail : n;
    memcpy(r->data + tail, src, first);
    memcpy(r->data, (const unsigned char *)src + first, n - first);
    r->len += n;
    return n;
}

size_t httpr_ring_read(httpr_ring *r, void *dst, size_t n)
{
    if (n > r->len)
        n = r->len;
    size_t first = r->cap - r->head < n ? r->cap - r->head : n;
    memcpy(dst, r->data + r->head, first);
    memcpy((unsigned char *)dst + first, r->data, n - first);
    r->head = (r->head + n) % r->cap;
    r->len -= n;
    if (r->len == 0)
        r->head = 0; /* keeps later writes contiguous */
    return n;
}

size_t httpr_ring_peek(const httpr_ring *r, const unsigned char **at, size_t n)
{
    size_t first = r->cap - r->head; /* contiguous up to the end of the storage */
    if (n > r->len)
        n = r->len;
    if (n > first)
        n = first;
    *at = r->data + r->head;
    return n;
}

void httpr_ring_consume(httpr_ring *r, size_t n, int rewind)
{
    if (n > r->len)
        n = r->len;
    r->head = (r->head + n) % r->cap;
    r->len -= n;
    if (r->len == 0 && rewind)
        r->head = 0; /* keeps later writes contiguous */
}

size_t httpr_ring_tail(const httpr_ring *r)
{
    return (r->head + r->len) % r->cap;
}

void httpr_ring_fill(httpr_ring *r, size_t at, const void *src, size_t n)
{
    size_t first = r->cap - at < n ? r->cap - at : n;
    memcpy(r->data + at, src, first);
    memcpy(r->data, (const unsigned char *)src + first, n - first);
}

void httpr_ring_commit(httpr_ring *r, size_t n)
{
    r->len += n;
}

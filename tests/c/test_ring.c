/* test_ring.c - the bounded byte ring: bounds, wrap-around, order, NULL-safety. */
#include <string.h>

#include "check.h"
#include "httpr.h"

static void test_bounds(void)
{
    httpr_ring r;
    CHECK_EQ_LL(httpr_ring_init(&r, 8), 0);
    CHECK_EQ_LL(httpr_ring_space(&r), 8);
    /* A write stores only what fits: the caller pauses on a short write. */
    CHECK_EQ_LL(httpr_ring_write(&r, "0123456789", 10), 8);
    CHECK_EQ_LL(httpr_ring_space(&r), 0);
    CHECK_EQ_LL(httpr_ring_write(&r, "x", 1), 0);
    char out[16] = {0};
    CHECK_EQ_LL(httpr_ring_read(&r, out, sizeof(out)), 8);
    CHECK(memcmp(out, "01234567", 8) == 0);
    CHECK_EQ_LL(httpr_ring_read(&r, out, sizeof(out)), 0);
    httpr_ring_free(&r);
    CHECK(r.data == NULL);
    httpr_ring_free(&r); /* idempotent */
    httpr_ring_free(NULL);
    CHECK_EQ_LL(httpr_ring_init(&r, 0), HTTPR_EINVAL);
    CHECK_EQ_LL(httpr_ring_init(NULL, 8), HTTPR_EINVAL);
}

static void test_wrap_keeps_order(void)
{
    httpr_ring r;
    CHECK_EQ_LL(httpr_ring_init(&r, 7), 0);
    unsigned char next_in = 0, next_out = 0;
    int order_ok = 1;
    /* Uneven writes and reads walk the head around the buffer many times. */
    for (int round = 0; round < 1000; round++) {
        unsigned char buf[5];
        size_t want = (size_t)(round % 5) + 1;
        for (size_t i = 0; i < want; i++)
            buf[i] = (unsigned char)(next_in + i);
        size_t wrote = httpr_ring_write(&r, buf, want);
        next_in = (unsigned char)(next_in + wrote);
        unsigned char got[5];
        size_t read = httpr_ring_read(&r, got, (size_t)(round % 3) + 1);
        for (size_t i = 0; i < read; i++) {
            if (got[i] != next_out++)
                order_ok = 0;
        }
        if (r.len > r.cap)
            order_ok = 0;
    }
    CHECK(order_ok);
    httpr_ring_free(&r);
}

/* The streaming reader's side: peek points at the contiguous run at the head (never past
 * the end of the storage), consume drops it, and rewind=0 keeps the head where it is. */
static void test_peek_consume(void)
{
    httpr_ring r;
    CHECK_EQ_LL(httpr_ring_init(&r, 8), 0);
    CHECK_EQ_LL(httpr_ring_write(&r, "abcdef", 6), 6);
    const unsigned char *at = NULL;
    CHECK_EQ_LL(httpr_ring_peek(&r, &at, 4), 4);
    CHECK(at == r.data && memcmp(at, "abcd", 4) == 0);
    CHECK_EQ_LL(r.len, 6); /* peeking takes nothing */
    httpr_ring_consume(&r, 4, 1);
    CHECK_EQ_LL(r.len, 2);
    CHECK_EQ_LL(httpr_ring_write(&r, "ghijk", 5), 5); /* wraps: "ef" at 4..5, "ghijk" 6..2 */
    CHECK_EQ_LL(httpr_ring_peek(&r, &at, 100), 4);     /* up to the end of the storage */
    CHECK(memcmp(at, "efgh", 4) == 0);
    httpr_ring_consume(&r, 4, 1);
    CHECK_EQ_LL(httpr_ring_peek(&r, &at, 100), 3);
    CHECK(at == r.data && memcmp(at, "ijk", 3) == 0);
    httpr_ring_consume(&r, 3, 0); /* empty, not rewound: a writer may be copying */
    CHECK_EQ_LL(r.len, 0);
    CHECK_EQ_LL(r.head, 3);
    CHECK_EQ_LL(httpr_ring_peek(&r, &at, 100), 0);
    httpr_ring_consume(&r, 5, 1); /* more than stored: clamps, and an empty ring rewinds */
    CHECK_EQ_LL(r.head, 0);
    httpr_ring_free(&r);
}

/* The writer's three steps (tail, fill, commit) equal one httpr_ring_write, wrap included,
 * and nothing is readable before the commit. */
static void test_fill_commit(void)
{
    httpr_ring r;
    CHECK_EQ_LL(httpr_ring_init(&r, 8), 0);
    CHECK_EQ_LL(httpr_ring_write(&r, "012345", 6), 6);
    char out[8] = {0};
    CHECK_EQ_LL(httpr_ring_read(&r, out, 5), 5);
    size_t at = httpr_ring_tail(&r);
    CHECK_EQ_LL(at, 6);
    httpr_ring_fill(&r, at, "abcde", 5); /* 6, 7, then 0, 1, 2 */
    CHECK_EQ_LL(r.len, 1);
    httpr_ring_commit(&r, 5);
    CHECK_EQ_LL(r.len, 6);
    CHECK_EQ_LL(httpr_ring_read(&r, out, sizeof(out)), 6);
    CHECK(memcmp(out, "5abcde", 6) == 0);
    httpr_ring_free(&r);
}

int main(void)
{
    test_bounds();
    test_wrap_keeps_order();
    test_peek_consume();
    test_fill_commit();
    return check_report("test_ring");
}

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

int main(void)
{
    test_bounds();
    test_wrap_keeps_order();
    return check_report("test_ring");
}

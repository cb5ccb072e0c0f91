/*
 * test_spsc.c - conductor/spsc.h, the in-process queue under the recorder
 * and the meters.
 *
 * Proves: items come out in order and bit for bit across the wrap; a push
 * that does not fit is refused whole and changes nothing; spans stop at
 * the wrap; clear drops what was pushed. Then two threads: a producer
 * pushing runs of 1..37 sequence numbers as fast as it can (a refused run
 * is tried again), and a consumer checking that every number it takes is
 * the next one: none lost, repeated, torn or reordered. 2 000 000 items.
 */
#include "spsc.h"

#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define CAP 64u

static void test_basic(void) {
    static uint32_t store[CAP];
    kn_spsc q;
    kn_spsc_init(&q, store, CAP, sizeof(uint32_t));
    uint32_t x = 0, out;
    void *span;
    CHECK(kn_spsc_span(&q, &span) == 0);
    CHECK(kn_spsc_pop(&q, &out) == 0);
    for (uint32_t round = 0; round < 10; round++) { /* 10 laps: many wraps */
        uint32_t run[50];
        for (int i = 0; i < 50; i++) run[i] = x++;
        CHECK(kn_spsc_push(&q, run, 50) == 0);
        CHECK(kn_spsc_push(&q, run, 15) == -ENOSPC); /* 50 + 15 > 64: refused whole */
        uint32_t got = 0;
        uint32_t n;
        while ((n = kn_spsc_span(&q, &span)) > 0) {
            CHECK(n <= CAP);
            for (uint32_t i = 0; i < n; i++) CHECK(((uint32_t *)span)[i] == x - 50 + got + i);
            got += n;
            kn_spsc_release(&q, n);
        }
        CHECK(got == 50);
    }
    uint32_t one = 7;
    CHECK(kn_spsc_push(&q, &one, 1) == 0);
    kn_spsc_clear(&q);
    CHECK(kn_spsc_pop(&q, &out) == 0);
}

static kn_spsc q2;
static uint32_t store2[CAP];
static _Atomic int done;
#define TOTAL 2000000u

static void *producer(void *arg) {
    (void)arg;
    uint32_t next = 0, run[37], len = 1;
    while (next < TOTAL) {
        for (uint32_t i = 0; i < len; i++) run[i] = next + i;
        if (kn_spsc_push(&q2, run, len) == 0) next += len;
        len = len % 37 + 1;
    }
    atomic_store(&done, 1);
    return NULL;
}

static void test_threads(void) {
    kn_spsc_init(&q2, store2, CAP, sizeof(uint32_t));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, producer, NULL) == 0);
    uint32_t want = 0, bad = 0;
    void *span;
    while (want < TOTAL) {
        uint32_t n = kn_spsc_span(&q2, &span);
        for (uint32_t i = 0; i < n; i++) bad += ((uint32_t *)span)[i] != want++;
        if (n) kn_spsc_release(&q2, n);
    }
    pthread_join(t, NULL);
    CHECK(bad == 0);
    CHECK(want == TOTAL);
    printf("two threads: %u items in order\n", want);
}

int main(void) {
    test_basic();
    test_threads();
    return check_report();
}

/*
 * param_cost.c - what a deck's parameters cost its cartridge per block:
 * kn_params_read (the targets from the shared slots) and kn_params_advance
 * (the smoothing, and publishing where it stands), the work
 * kn_render_block does before every process() call, for 0, 64, 256 and
 * 1024 declared knobs (64 was the limit before layout version 4, 1024 is
 * KN_MAX_PARAMS). Two cases: every knob at rest (the usual block), and
 * every knob gliding (a `kanon set` with a long ramp on each before the
 * run, so every block of it is the worst block). Built and
 * run by scripts/bench.py (section "params") against cartridge/api.c; also
 * times the declaration of every knob (setup(), which runs again at every
 * takeover).
 * Prints one line per case: "params N rest|glide|decl ns_per_block".
 */
#include "cartridge.h"
#include "segment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCKS 20000

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void die(const char *msg) {
    fprintf(stderr, "%s\n", msg);
    exit(1);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A fresh cartridge bound to a fresh segment, with n knobs declared;
 * returns the ns the declarations took. */
static double declare(kn_cart *c, kn_param_seg *ps, int n) {
    kn_param_format(ps);
    if (kn_cart_init(c, 48000, 2, 64)) die("out of memory");
    c->params = ps;
    c->id = 1;
    c->display = "bench";
    double t0 = now_ns();
    for (int i = 0; i < n; i++) {
        char name[KN_NAME_MAX];
        snprintf(name, sizeof name, "knob_%d", i);
        kn_param_decl(&c->ctx, name, 0, 1, 0.5);
    }
    return now_ns() - t0;
}

/* ns per block, median of 7 runs of BLOCKS blocks. */
static double per_block(kn_cart *c, kn_param_seg *ps, int n, int glide) {
    double runs[7];
    for (int r = 0; r < 7; r++) {
        if (glide) /* a set on every knob, gliding for 1000 s: longer than the run */
            for (int i = 0; i < n; i++) {
                kn_param_slot *s = &ps->slot[i];
                atomic_store(&s->ramp, kn_dbits(1e6));
                atomic_store(&s->value, kn_dbits(r % 2 ? 0 : 1));
                atomic_fetch_add(&s->seq, 1);
            }
        double t0 = now_ns();
        for (int b = 0; b < BLOCKS; b++) {
            kn_params_read(c);
            kn_params_advance(c, 64);
        }
        runs[r] = (now_ns() - t0) / BLOCKS;
        if (glide) /* back at rest: where it stands becomes the target */
            for (int i = 0; i < n; i++) {
                kn_param_slot *s = &ps->slot[i];
                atomic_store(&s->ramp, kn_dbits(0));
                atomic_store(&s->value, atomic_load(&s->current));
                atomic_fetch_add(&s->seq, 1);
            }
    }
    qsort(runs, 7, sizeof *runs, cmp);
    return runs[3];
}

int main(void) {
    static const int counts[] = {0, 64, 256, KN_MAX_PARAMS};
    kn_fatal_hook = die;
    kn_param_seg *ps = calloc(1, sizeof *ps);
    if (!ps) die("out of memory");
    for (size_t k = 0; k < sizeof counts / sizeof *counts; k++) {
        int n = counts[k];
        kn_cart c;
        double decl = declare(&c, ps, n);
        printf("params %d decl %.0f\n", n, decl);
        printf("params %d rest %.1f\n", n, per_block(&c, ps, n, 0));
        printf("params %d glide %.1f\n", n, per_block(&c, ps, n, 1));
        kn_cart_free(&c);
    }
    free(ps);
    return 0;
}

/*
 * driver.c - renders a kanon patch compiled by gcc instead of tcc, for
 * scripts/bench_nodes.py: 60 s (or argv[1] seconds) at 48 kHz, stereo,
 * block 64, into memory (interleaved, as kanon render does before writing
 * the file), with stand-ins for kn_state, the parameter API and the rest
 * of kanon.h (a steady 120 bpm timeline, silent inputs, MIDI out dropped),
 * so every example builds. FTZ/DAZ on, as in the cartridge. Prints
 * "cpu_s_per_audio_s X" (process CPU time of the render loop) and a
 * checksum that keeps the work alive.
 *   gcc -O2 -Icartridge/include bench/driver.c bench/p1_plain.c -lm
 */
#define _POSIX_C_SOURCE 200809L
#include <kanon.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xmmintrin.h>

void setup(kn_ctx *k) __attribute__((weak));
void process(kn_ctx *k, float **out, int frames);

void *kn_state(kn_ctx *k, const char *name, size_t bytes) {
    (void)k, (void)name;
    return calloc(1, bytes ? bytes : 1); /* one cartridge, one setup: fresh zeroed regions */
}

struct kn_param {
    double value;
};
kn_param *kn_param_decl(kn_ctx *k, const char *name, double min, double max, double def) {
    (void)k, (void)name, (void)min, (void)max;
    kn_param *p = malloc(sizeof *p);
    p->value = def;
    return p;
}
double kn_get(const kn_param *p) {
    return p->value;
}
double kn_smooth(kn_param *p) {
    return p->value;
}
double kn_target(const kn_param *p) {
    return p->value;
}
void kn_bind(kn_param *p, const char *control) {
    (void)p, (void)control;
}
double kn_beat_at(kn_ctx *k, int i) {
    return k->beat + i * k->bpm / 60 / k->rate;
}
const float *const *kn_in(kn_ctx *k, const char *port) {
    static const float zero[8192];
    static const float *const in[8] = {zero, zero, zero, zero, zero, zero, zero, zero};
    (void)k, (void)port;
    return in;
}
int kn_midi_out(kn_ctx *k, int offset, int status, int data1, int data2) {
    (void)k, (void)offset, (void)status, (void)data1, (void)data2;
    return 0;
}

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 60;
    enum { CH = 2, BLOCK = 64 };
    _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ | DAZ */
    kn_ctx k = {.rate = 48000, .channels = CH, .block = BLOCK, .bpm = 120, .bar = 4};
    long total = (long)(seconds * k.rate);
    float *buf = malloc((size_t)total * CH * sizeof(float)), l[BLOCK], r[BLOCK];
    float *out[CH] = {l, r};
    if (setup) setup(&k);
    double t0 = cpu_now();
    for (long done = 0; done < total; done += BLOCK) {
        memset(l, 0, sizeof l), memset(r, 0, sizeof r);
        k.frame = k.now = (uint64_t)done;
        k.beat = done * k.bpm / 60 / k.rate;
        process(&k, out, BLOCK);
        long n = total - done < BLOCK ? total - done : BLOCK;
        for (long i = 0; i < n; i++) buf[(done + i) * CH] = l[i], buf[(done + i) * CH + 1] = r[i];
    }
    double cpu = cpu_now() - t0, sum = 0;
    for (long i = 0; i < total * CH; i += 97) sum += buf[i];
    printf("cpu_s_per_audio_s %.6f\nchecksum %.6g\n", cpu / seconds, sum);
    return 0;
}

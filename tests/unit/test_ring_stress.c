/*
 * test_ring_stress.c - two processes on one ring; the producer is
 * SIGKILLed mid-block over and over.
 *
 * Spec: "10^7 frames checksummed; producer SIGKILLed mid-block 20 times:
 * never a torn or duplicated block".
 *
 * How: the parent creates a real ring segment (kn_seg_create +
 * kn_ring_format) and is the consumer. It forks a producer that maps the
 * segment from the inherited descriptor (kn_seg_map), attaches (kn_ring_writer_attach) and
 * writes blocks of varying size in which every sample is expected(frame,
 * channel), a function of the absolute frame index only. The consumer
 * reads chunks of varying size and compares every sample, so a lost,
 * duplicated, reordered or garbage frame shows as a mismatch. A block's
 * length is a function of the frame it starts at, so the consumer also
 * knows every block boundary and checks that each write_pos it sees is
 * one: a block published in pieces is caught even if its frames are right.
 *
 * Most blocks go through kn_ring_write_planar. Every few blocks the
 * producer writes one "slowly", mirroring kn_ring_write_planar step by
 * step: it first scribbles poison (-expected) over the block's slots,
 * then writes the true samples in chunks with short sleeps in
 * between, and only then publishes with the release store of write_pos.
 * A kill in that window leaves a half-written block in the ring; if any
 * of it ever became visible, the consumer would read poison or stale
 * frames from the previous lap.
 *
 * The consumer kills the producer 20 times at random points spread over
 * the run, alternating two kinds of kill. Aimed kills wait (reading on)
 * until the producer is inside a slow block (a flag in a separate shared
 * page), so they land mid-block. Backlog kills stop reading until frames
 * pile up. After each kill the consumer reaps the child, forks a fresh
 * producer and holds reading until that one has published, so it must
 * attach ahead of an unread backlog; it must continue exactly at the
 * published write_pos (the consumer checks write_pos never goes back and
 * stays on the block grid).
 *
 * Fails on any mismatch, a torn block or a write_pos going back, on
 * kn_ring_readable ever returning KN_RING_CORRUPT, on fewer than 20 kills,
 * on too few mid-block or backlog kills, on a producer dying on its own,
 * or on a 60 s deadline. SIGTERM/SIGINT (a runner's timeout) still unlink
 * the segment. KANON_SEED=<n> repeats a run's random choices (sizes, kill
 * points); the interleaving of the two processes varies anyway.
 */
#include "ring.h"
#include "segment.h"

#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOTAL_FRAMES 10000000ull
#define KILLS        20
#define CAPACITY     4096u
#define CHANNELS     2u
#define LANE         512u        /* fade-lane frames: present, unused by this test */
#define MAX_BLOCK    700u        /* producer block sizes: 1..MAX_BLOCK */
#define MAX_CHUNK    1500u       /* consumer read sizes: 1..MAX_CHUNK */
#define SLOW_EVERY   12u         /* about one block in SLOW_EVERY is written slowly */
#define AIM_WAIT_NS  500000000ll /* give up waiting for a mid-block moment */
#define DEADLINE_NS  60000000000ll

/* A separate anonymous shared page, not part of the ring protocol: lets
 * the consumer see whether the producer is inside a slow block. */
typedef struct probe {
    _Atomic uint32_t in_block; /* 1 while unpublished samples sit in the ring */
} probe;

/* ------------------------------------------------------------ helpers */

/* A 32-bit hash of (frame, channel), kept to 24 bits so the float is
 * exact, and made odd so it is never 0 (the ring starts zero-filled) and
 * never equals its poison (-expected). */
static float expected(uint64_t frame, uint32_t ch) {
    uint64_t x = frame * 2654435761ull ^ ((uint64_t)ch << 56) ^ 0x5851f42d4c957f2dull;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (float)(((uint32_t)x >> 8) | 1u);
}

static uint64_t rng_next(uint64_t *s) { /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static uint32_t rng_range(uint64_t *s, uint32_t lo, uint32_t hi) { /* inclusive */
    return lo + (uint32_t)(rng_next(s) % (uint64_t)(hi - lo + 1));
}

/* The length of the block that starts at `start`: a function of the
 * position alone, so the consumer knows every block boundary and can
 * tell a block published in pieces from a whole one. */
static uint32_t block_len(uint64_t start) {
    uint64_t x = (start + 0x632be59bd9b4e019ull) * 0x9e3779b97f4a7c15ull;
    return 1 + (uint32_t)((x >> 32) % MAX_BLOCK);
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

static void nap_us(long us) {
    struct timespec t = {0, us * 1000};
    nanosleep(&t, NULL);
}

/* Waiting for the other process: yield once or twice, then sleep
 * briefly. Sleeping rather than yielding matters when other work loads
 * the CPUs: a process that yields can hand its core to a busy neighbour
 * for a whole time slice, while one that sleeps is woken promptly. */
static void backoff(unsigned spins) {
    if (spins < 2)
        sched_yield();
    else
        nap_us(20);
}

/* Prints a failure with this file's name and `line`; returns 1. */
static int failed_at(int line, const char *why) {
    printf("%s:%d: %s\n", __FILE__, line, why);
    return 1;
}

/* ----------------------------------------------------------- producer */

/* The usual path: render into planar buffers, hand them to the real API. */
static void write_fast(kn_ring_view *v, uint32_t n) {
    static float buf[CHANNELS][MAX_BLOCK];
    float *planes[CHANNELS];
    for (uint32_t c = 0; c < CHANNELS; c++) {
        planes[c] = buf[c];
        for (uint32_t i = 0; i < n; i++) buf[c][i] = expected(v->pos + i, c);
    }
    kn_ring_write_planar(v, planes, n);
}

/* Puts sample (frame, c) = value into the ring's slot for `frame`. */
static void put(kn_ring_view *v, uint64_t frame, uint32_t c, float value) {
    v->data[(size_t)(frame & v->mask) * v->channels + c] = value;
}

/* kn_ring_write_planar taken apart, with time between its steps so that a
 * kill can land after some samples are written but before they are
 * published. Poison first, so a kill leaves a visibly torn block. */
static void write_slow(kn_ring_view *v, uint32_t n, uint64_t *rng, probe *pb) {
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t c = 0; c < CHANNELS; c++) put(v, v->pos + i, c, -expected(v->pos + i, c));
    atomic_store_explicit(&pb->in_block, 1, memory_order_relaxed);
    uint32_t chunks = rng_range(rng, 2, 4), done = 0;
    for (uint32_t k = 1; k <= chunks; k++) {
        uint32_t upto = (uint32_t)((uint64_t)n * k / chunks);
        for (; done < upto; done++)
            for (uint32_t c = 0; c < CHANNELS; c++)
                put(v, v->pos + done, c, expected(v->pos + done, c));
        nap_us(1 + (long)(rng_next(rng) % 30));
    }
    /* Clear the flag before publishing: a kill between the two is then
     * undercounted as not mid-block, never overcounted. */
    atomic_store_explicit(&pb->in_block, 0, memory_order_relaxed);
    v->pos += n;
    atomic_store_explicit(&v->seg->write_pos, v->pos, memory_order_release);
}

/* Runs in the forked child until killed. Exit codes >0 mean the producer
 * hit a problem of its own, which the consumer reports. */
static void producer(int fd, uint64_t seed, probe *pb, pid_t parent) {
    void *map;
    size_t bytes;
    kn_ring_view v;
    /* Never outlive the consumer: an orphan would spin forever. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(2);
    if (kn_seg_map(fd, KN_SEG_RING, &map, &bytes) != 0) _exit(3);
    if (kn_ring_view_init(&v, map, bytes) != 0) _exit(4);
    kn_ring_writer_attach(&v);
    uint64_t rng = seed;
    for (;;) {
        uint32_t n = block_len(v.pos);
        uint32_t fill;
        for (unsigned spins = 0;
             (fill = kn_ring_fill(&v)) != KN_RING_CORRUPT && CAPACITY - fill < n; spins++)
            backoff(spins);
        if (fill == KN_RING_CORRUPT) _exit(5);
        if (rng_range(&rng, 1, SLOW_EVERY) == 1)
            write_slow(&v, n, &rng, pb);
        else
            write_fast(&v, n);
    }
}

/* What the SIGTERM/SIGINT handler must clean up (a runner's timeout). */
static volatile pid_t cleanup_child;

static void on_term(int sig) {
    (void)sig;
    if (cleanup_child > 0) kill(cleanup_child, SIGKILL);
    _exit(2);
}

static pid_t spawn(int fd, uint64_t seed, probe *pb) {
    pid_t parent = getpid();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) producer(fd, seed, pb, parent);
    cleanup_child = pid;
    return pid;
}

/* ----------------------------------------------------------- consumer */

typedef struct run {
    kn_ring_view v;
    int fd; /* the segment */
    probe *pb;
    pid_t child;
    uint64_t rng, checksum, bad;
    uint64_t last_write;     /* the latest write_pos seen */
    uint64_t boundary;       /* the first block boundary >= last_write */
    uint64_t kill_at[KILLS]; /* frame counts after which to kill */
    uint32_t backlog_goal;   /* unread frames wanted before an unaimed kill */
    int kills, aimed_kills, mid_block_kills;
    int backlog_kills;    /* kills whose successor published over an unread backlog */
    int64_t due_since;    /* when the pending kill became due; 0 if none */
    uint64_t await_write; /* after a kill: write_pos the successor must move */
    int64_t await_since;  /* when that wait began; 0 if not waiting */
} run;

/* Kill points: one random frame count in the middle of each of KILLS+1
 * equal slices of the run, so the kills are spread over all of it. */
static void plan_kills(run *r) {
    uint64_t slice = TOTAL_FRAMES / (KILLS + 1);
    for (int k = 0; k < KILLS; k++)
        r->kill_at[k] = k * slice + slice / 8 + rng_next(&r->rng) % (slice * 3 / 4);
}

/* Checks `n` interleaved frames starting at absolute frame `first`. */
static void verify(run *r, const float *buf, uint64_t first, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t c = 0; c < CHANNELS; c++) {
            float got = buf[(size_t)i * CHANNELS + c];
            uint32_t bits;
            memcpy(&bits, &got, sizeof bits);
            r->checksum = (r->checksum ^ bits) * 0x100000001b3ull; /* FNV-1a step */
            if (got != expected(first + i, c) && r->bad++ < 10)
                printf("%s:%d: frame %" PRIu64 " ch %u: got %.1f want %.1f\n", __FILE__, __LINE__,
                       first + i, c, got, expected(first + i, c));
        }
    }
}

/* The same checksum computed from expected() alone: what every correct
 * run must print. */
static uint64_t reference_checksum(void) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint64_t f = 0; f < TOTAL_FRAMES; f++)
        for (uint32_t c = 0; c < CHANNELS; c++) {
            float e = expected(f, c);
            uint32_t bits;
            memcpy(&bits, &e, sizeof bits);
            h = (h ^ bits) * 0x100000001b3ull;
        }
    return h;
}

/* Every write_pos the consumer sees must be at or after the last one (a
 * producer that attached anywhere but write_pos would republish frames
 * the consumer already saw as written) and must be a block boundary
 * (anything else means part of a block was published without the rest). */
static int check_write_pos(run *r, uint64_t write_pos) {
    if (write_pos < r->last_write) {
        printf("%s:%d: write_pos went back from %" PRIu64 " to %" PRIu64 "\n", __FILE__, __LINE__,
               r->last_write, write_pos);
        return 0;
    }
    r->last_write = write_pos;
    while (r->boundary < write_pos) r->boundary += block_len(r->boundary);
    if (r->boundary == write_pos) return 1;
    printf("%s:%d: write_pos %" PRIu64 " is inside the block ending at %" PRIu64
           ": a torn block was published\n",
           __FILE__, __LINE__, write_pos, r->boundary);
    return 0;
}

/* SIGKILL + reap; returns 0 if the child died of our signal. */
static int kill_producer(run *r) {
    int status;
    kill(r->child, SIGKILL);
    if (waitpid(r->child, &status, 0) != r->child) return -1;
    r->child = cleanup_child = 0;
    return (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ? 0 : -1;
}

enum action { READ, HOLD, KILL };

/* After a kill, holds reading until the fresh producer publishes its first
 * block, so it attaches while the unread backlog is still there: a
 * successor that attached anywhere but write_pos would then publish a
 * write_pos that goes back or is off the block grid. Reads on if the
 * block could not fit, and gives up after AIM_WAIT_NS. */
static enum action await_successor(run *r, uint32_t avail) {
    uint64_t w = r->v.pos + avail;
    if (w != r->await_write) {
        /* The successor published while frames of its predecessor were
         * still unread: a wrong attach point could not have hidden. */
        if (r->v.pos < r->await_write) r->backlog_kills++;
        r->await_since = 0;
        return READ;
    }
    if (now_ns() - r->await_since >= AIM_WAIT_NS) {
        r->await_since = 0;
        return READ;
    }
    return CAPACITY - avail >= block_len(w) ? HOLD : READ;
}

/* What to do about the kill plan, given `avail` unread frames. Kills
 * alternate between two kinds. Aimed kills read on until the producer is
 * inside a slow block, so they land mid-block. Backlog kills stop reading
 * until a random number of frames is waiting, so the next producer must
 * attach ahead of the reader (attaching at read_pos would then show).
 * Either gives up waiting after AIM_WAIT_NS and kills anyway. */
static enum action kill_plan(run *r, uint32_t avail) {
    if (r->await_since) return await_successor(r, avail);
    if (r->kills >= KILLS || r->v.pos < r->kill_at[r->kills]) return READ;
    if (!r->due_since) {
        r->due_since = now_ns();
        r->backlog_goal = rng_range(&r->rng, 1, CAPACITY - MAX_BLOCK);
    }
    int waited_out = now_ns() - r->due_since >= AIM_WAIT_NS;
    if (r->kills % 2 == 0) {
        int inside = atomic_load_explicit(&r->pb->in_block, memory_order_relaxed);
        return inside || waited_out ? KILL : READ;
    }
    return avail >= r->backlog_goal || waited_out ? KILL : HOLD;
}

/* Kills the producer, notes where the kill landed, starts the next one. */
static int kill_and_respawn(run *r) {
    if (kill_producer(r) != 0) {
        printf("%s:%d: producer did not die of SIGKILL\n", __FILE__, __LINE__);
        return -1;
    }
    if (r->kills % 2 == 0) r->aimed_kills++;
    r->kills++;
    r->due_since = 0;
    /* The dead producer can't clear its flag: read it, then reset it. */
    if (atomic_load(&r->pb->in_block)) r->mid_block_kills++;
    atomic_store(&r->pb->in_block, 0);
    /* The dead producer can publish no more: this is the successor's start. */
    r->await_write = atomic_load(&r->v.seg->write_pos);
    r->await_since = now_ns();
    r->child = spawn(r->fd, rng_next(&r->rng) | 1, r->pb);
    return r->child < 0 ? -1 : 0;
}

/* A producer that exits on its own is a failure (it only ever dies of our
 * SIGKILL); checked when the ring runs dry, so rarely. */
static int producer_alive(run *r) {
    int status;
    if (waitpid(r->child, &status, WNOHANG) != r->child) return 1;
    printf("%s:%d: producer exited on its own (status 0x%x)\n", __FILE__, __LINE__, status);
    r->child = 0;
    return 0;
}

/* Reads a chunk of random size, at most `avail` frames, and checks it. */
static int read_chunk(run *r, uint32_t avail) {
    static float buf[MAX_CHUNK * CHANNELS];
    uint32_t n = rng_range(&r->rng, 1, MAX_CHUNK);
    uint64_t left = TOTAL_FRAMES - r->v.pos;
    if (n > avail) n = avail;
    if (n > left) n = (uint32_t)left;
    uint64_t first = r->v.pos;
    kn_ring_read(&r->v, buf, n);
    verify(r, buf, first, n);
    return r->bad ? -1 : 0;
}

static int consume(run *r) {
    int64_t deadline = now_ns() + DEADLINE_NS;
    unsigned idle = 0;
    while (r->v.pos < TOTAL_FRAMES) {
        uint32_t avail = kn_ring_readable(&r->v);
        if (avail == KN_RING_CORRUPT) {
            printf("%s:%d: kn_ring_readable: KN_RING_CORRUPT at frame %" PRIu64 "\n", __FILE__,
                   __LINE__, r->v.pos);
            return -1;
        }
        if (!check_write_pos(r, r->v.pos + avail)) return -1;
        enum action a = kill_plan(r, avail);
        if (a == KILL) {
            if (kill_and_respawn(r) != 0) return -1;
        } else if (a == READ && avail > 0) {
            if (read_chunk(r, avail) != 0) return -1;
            idle = 0;
        } else if (++idle % 1024 == 0) {
            /* Rarely, while waiting: is the producer still there, and are we
             * still within our time? */
            if (!producer_alive(r)) return -1;
            if (now_ns() > deadline) {
                failed_at(__LINE__, "deadline passed");
                return -1;
            }
        } else {
            backoff(idle);
        }
    }
    return 0;
}

static uint64_t seed_from_env(void) {
    const char *s = getenv("KANON_SEED");
    if (s && *s) return strtoull(s, NULL, 0) | 1;
    return ((uint64_t)now_ns() ^ ((uint64_t)getpid() << 32)) | 1;
}

int main(void) {
    run r = {.fd = -1, .rng = seed_from_env(), .checksum = 0xcbf29ce484222325ull};
    uint64_t seed = r.rng;
    printf("test_ring_stress: seed %" PRIu64 " (KANON_SEED=<seed> repeats it)\n", seed);
    plan_kills(&r);

    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    size_t bytes = kn_ring_bytes(CAPACITY, CHANNELS, LANE);
    void *map;
    int rc = kn_seg_create("kanon.ring", bytes, &map, &r.fd);
    if (rc != 0) {
        printf("%s:%d: kn_seg_create: %s\n", __FILE__, __LINE__, strerror(-rc));
        return 1;
    }
    r.pb = mmap(NULL, sizeof(probe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    kn_ring_format(map, CAPACITY, CHANNELS, 256, 2048, 48000.0, LANE);
    int ok = r.pb != MAP_FAILED && kn_ring_view_init(&r.v, map, bytes) == 0;

    int64_t t0 = now_ns();
    if (ok) r.child = spawn(r.fd, rng_next(&r.rng) | 1, r.pb);
    ok = ok && r.child > 0 && consume(&r) == 0;
    double secs = (double)(now_ns() - t0) / 1e9;
    if (r.child > 0) kill_producer(&r);
    kn_seg_unmap(map, bytes);
    close(r.fd);

    uint64_t ref = reference_checksum();
    printf("test_ring_stress: %" PRIu64
           " frames read, %d kills (%d aimed, %d mid-block, %d with a backlog), "
           "%" PRIu64 " bad samples, checksum %016" PRIx64 " (reference %016" PRIx64 "), %.2f s\n",
           r.v.pos, r.kills, r.aimed_kills, r.mid_block_kills, r.backlog_kills, r.bad, r.checksum,
           ref, secs);

    int fail = !ok;
    if (r.v.pos != TOTAL_FRAMES) fail = failed_at(__LINE__, "not all frames were verified");
    if (r.kills < KILLS) fail = failed_at(__LINE__, "fewer than 20 kills");
    /* Proof that the run exercised what it claims, not just survived. */
    if (r.mid_block_kills < KILLS / 4) fail = failed_at(__LINE__, "too few kills landed mid-block");
    if (r.backlog_kills < KILLS / 4) fail = failed_at(__LINE__, "too few kills with a backlog");
    if (ok && r.checksum != ref) fail = failed_at(__LINE__, "checksum differs from the reference");
    if (fail) printf("test_ring_stress: FAILED (seed %" PRIu64 ")\n", seed);
    return fail;
}

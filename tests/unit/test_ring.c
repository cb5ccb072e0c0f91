/*
 * test_ring.c - single-process unit tests of shm/ring.h and shm/segment.c.
 *
 * What it proves:
 *   - kn_ring_format writes a header that kn_ring_view_init accepts, and
 *     kn_ring_view_init refuses every malformed header or too-small mapping
 *     (so a scribbled segment can never send a view out of bounds);
 *   - kn_ring_readable / kn_ring_fill count correctly on empty, partial and
 *     full rings and report KN_RING_CORRUPT for impossible positions
 *     without moving the caller's position;
 *   - frames survive wrap-around bit for bit (odd-sized blocks, many laps,
 *     every sample checked against a function of its absolute frame index);
 *   - kn_instance, kn_seg_create / map / reclaim follow segment.h: a
 *     segment is a zero-filled memfd, close-on-exec, with no name in
 *     /dev/shm, sealed so that nobody (not even its creator) can shrink or
 *     grow it; kn_seg_map refuses unsealed descriptors and checks kind,
 *     version and size; reclaim removes the instance's old /dev/shm names
 *     and only those.
 *
 * How: each check is a CHECK(cond) that prints file:line and the failed
 * condition; main returns non-zero if any failed. Segment names carry the
 * pid so parallel runs don't collide; every segment created is unlinked.
 */
#include "ring.h"
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures, checks;

#define CHECK(cond) check_at(!!(cond), #cond, __FILE__, __LINE__)

static int check_at(int ok, const char *what, const char *file, int line) {
    checks++;
    if (!ok) {
        failures++;
        printf("%s:%d: check failed: %s\n", file, line, what);
    }
    return ok;
}

/* ------------------------------------------------------------ helpers */

/* A deterministic, never-zero sample for (frame, channel): a zero-filled
 * or stale slot can't pass for it. Exact in float (24 significant bits). */
static float sample(uint64_t frame, uint32_t ch) {
    uint64_t x = frame * 16 + ch + 0x9e3779b97f4a7c15ull;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (float)(((uint32_t)x >> 8) | 1u);
}

/* Fade-lane frames in every test ring: not a power of two, so a lane
 * mistaken for part of the ring would show. */
#define LANE 48u

/* A zero-filled, cache-aligned private "segment" of `room` bytes. */
static kn_ring_seg *zalloc(size_t room) {
    kn_ring_seg *r = aligned_alloc(KN_CACHELINE, (room + KN_CACHELINE - 1) & ~(size_t)63);
    if (!r) abort();
    memset(r, 0, room);
    return r;
}

/* A private "segment" formatted as a ring with a LANE-frame fade lane. */
static kn_ring_seg *ring_alloc(uint32_t cap, uint32_t ch) {
    kn_ring_seg *r = zalloc(kn_ring_bytes(cap, ch, LANE));
    kn_ring_format(r, cap, ch, 64, cap / 2, 48000.0, LANE);
    return r;
}

/* Writes `n` frames starting at the writer's position via the real API. */
static void write_frames(kn_ring_view *w, uint32_t n) {
    float *planes[KN_MAX_CHANNELS];
    for (uint32_t c = 0; c < w->channels; c++) {
        planes[c] = malloc(sizeof(float) * (n ? n : 1));
        for (uint32_t i = 0; i < n; i++) planes[c][i] = sample(w->pos + i, c);
    }
    kn_ring_write_planar(w, planes, n);
    for (uint32_t c = 0; c < w->channels; c++) free(planes[c]);
}

/* Reads `n` frames and returns how many samples differ from sample(). */
static uint64_t read_and_compare(kn_ring_view *r, uint32_t n) {
    float *buf = malloc(sizeof(float) * r->channels * (n ? n : 1));
    uint64_t first = r->pos, bad = 0;
    kn_ring_read(r, buf, n);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t c = 0; c < r->channels; c++)
            if (buf[(size_t)i * r->channels + c] != sample(first + i, c)) bad++;
    free(buf);
    return bad;
}

/* A reader and a writer view on the same freshly formatted ring. */
static kn_ring_seg *ring_pair(uint32_t cap, uint32_t ch, kn_ring_view *rd, kn_ring_view *wr) {
    kn_ring_seg *r = ring_alloc(cap, ch);
    size_t bytes = kn_ring_bytes(cap, ch, LANE);
    CHECK(kn_ring_view_init(rd, r, bytes) == 0);
    CHECK(kn_ring_view_init(wr, r, bytes) == 0);
    kn_ring_writer_attach(wr);
    return r;
}

/* ------------------------------------------------- format / view_init */

static void test_format_accepts(void) {
    const uint32_t cap = 256, ch = 2;
    kn_ring_seg *r = ring_alloc(cap, ch);
    size_t bytes = kn_ring_bytes(cap, ch, LANE);
    kn_ring_view v;
    memset(&v, 0xa5, sizeof v);

    CHECK(r->hdr.magic == KN_MAGIC);
    CHECK(r->hdr.version == KN_LAYOUT_VERSION);
    CHECK(r->hdr.kind == KN_SEG_RING);
    CHECK(r->hdr.bytes == bytes);
    CHECK(r->capacity == cap && r->channels == ch && r->block == 64 && r->rate == 48000.0);
    /* Frame 0 must sit past the header, cache-aligned; the lane right
     * after the ring's data, and the lane must end at the segment's end. */
    size_t ring_data = (size_t)cap * ch * sizeof(float), lane_data = LANE * ch * sizeof(float);
    CHECK(r->data_offset >= sizeof(kn_ring_seg));
    CHECK(r->data_offset % KN_CACHELINE == 0);
    CHECK(r->lane_capacity == LANE);
    CHECK(r->lane_offset == r->data_offset + ring_data);
    CHECK(r->lane_offset + lane_data == bytes);
    CHECK(kn_ring_bytes(cap, ch, 0) == bytes - lane_data);

    CHECK(kn_ring_view_init(&v, r, bytes) == 0);
    CHECK(v.seg == r);
    CHECK((char *)v.data == (char *)r + r->data_offset);
    CHECK(v.capacity == cap && v.mask == cap - 1 && v.channels == ch && v.pos == 0);
    free(r);

    /* Boundaries that are legal: one frame, the maximum channel count. */
    r = ring_alloc(1, KN_MAX_CHANNELS);
    CHECK(kn_ring_view_init(&v, r, kn_ring_bytes(1, KN_MAX_CHANNELS, LANE)) == 0);
    CHECK(v.mask == 0 && v.channels == KN_MAX_CHANNELS);
    free(r);
}

/* Formats a good ring, lets `spoil` damage one field, and expects
 * kn_ring_view_init to refuse it. Returns 1 if refused. */
enum spoil {
    BAD_MAGIC,
    BAD_VERSION,
    BAD_KIND,
    CAP_0,
    CAP_3,
    CAP_6,
    CAP_NPOT,
    CH_0,
    CH_MAX1,
    BAD_OFFSET,
    BAD_LANE_OFFSET,
    LANE_HUGE,
    N_SPOIL
};

static int refused(enum spoil s) {
    const uint32_t cap = 64, ch = 2;
    size_t room = kn_ring_bytes(cap, KN_MAX_CHANNELS + 1, LANE);
    kn_ring_seg *r = zalloc(room);
    kn_ring_format(r, cap, ch, 64, cap / 2, 48000.0, LANE);
    switch (s) {
    case BAD_MAGIC: r->hdr.magic ^= 1; break;
    case BAD_VERSION: r->hdr.version = KN_LAYOUT_VERSION + 1; break;
    case BAD_KIND: r->hdr.kind = KN_SEG_STATE; break;
    case CAP_0: r->capacity = 0; break;
    case CAP_3: r->capacity = 3; break;
    case CAP_6: r->capacity = 6; break;
    case CAP_NPOT:
        r->capacity = 48; /* smaller than 64, so it fits; yet not 2^k */
        break;
    case CH_0: r->channels = 0; break;
    case CH_MAX1: r->channels = KN_MAX_CHANNELS + 1; break;
    case BAD_OFFSET: r->data_offset += KN_CACHELINE; break;
    case BAD_LANE_OFFSET:
        r->lane_offset -= sizeof(float); /* the lane would overlap the last frame */
        break;
    case LANE_HUGE: r->lane_capacity = UINT32_MAX; break;
    default: break;
    }
    /* Keep the lane where the spoiled geometry says it is, and pass a
     * mapping big enough for any spoiled geometry but the huge lane, so
     * that only the field under test can cause the refusal. */
    if (s != BAD_LANE_OFFSET)
        r->lane_offset = r->data_offset + (size_t)r->capacity * r->channels * sizeof(float);
    kn_ring_view v;
    int rc = kn_ring_view_init(&v, r, room);
    free(r);
    return rc != 0;
}

static void test_view_init_rejects(void) {
    static const char *names[N_SPOIL] = {
        "magic",       "version",    "kind",       "capacity 0",  "capacity 3",  "capacity 6",
        "capacity 48", "channels 0", "channels 9", "data_offset", "lane_offset", "lane_capacity"};
    for (int s = 0; s < N_SPOIL; s++)
        if (!CHECK(refused((enum spoil)s))) printf("    (spoiled field: %s)\n", names[s]);

    /* A mapping one byte short of the geometry (the lane's last byte), one
     * without the lane, and one shorter than the header itself must be
     * refused; the exact size is accepted. */
    const uint32_t cap = 128, ch = 3;
    kn_ring_seg *r = ring_alloc(cap, ch);
    size_t need = kn_ring_bytes(cap, ch, LANE);
    kn_ring_view v;
    CHECK(kn_ring_view_init(&v, r, need - 1) != 0);
    CHECK(kn_ring_view_init(&v, r, need - sizeof(float)) != 0);
    CHECK(kn_ring_view_init(&v, r, kn_ring_bytes(cap, ch, 0)) != 0);
    CHECK(kn_ring_view_init(&v, r, sizeof(kn_ring_seg) - 1) != 0);
    CHECK(kn_ring_view_init(&v, r, 0) != 0);
    CHECK(kn_ring_view_init(&v, r, need) == 0);
    free(r);
}

/* ------------------------------------------------ readable / fill */

static void test_counts(void) {
    const uint32_t cap = 32, ch = 2;
    kn_ring_view rd, wr;
    kn_ring_seg *r = ring_pair(cap, ch, &rd, &wr);

    CHECK(kn_ring_readable(&rd) == 0); /* empty */
    CHECK(kn_ring_fill(&wr) == 0);

    write_frames(&wr, 5); /* partial */
    CHECK(kn_ring_readable(&rd) == 5);
    CHECK(kn_ring_fill(&wr) == 5);
    CHECK(atomic_load(&r->write_pos) == 5);

    write_frames(&wr, cap - 5); /* full */
    CHECK(kn_ring_readable(&rd) == cap);
    CHECK(kn_ring_fill(&wr) == cap);

    CHECK(read_and_compare(&rd, 7) == 0); /* reading frees room for the writer */
    CHECK(atomic_load(&r->read_pos) == 7);
    CHECK(kn_ring_readable(&rd) == cap - 7);
    CHECK(kn_ring_fill(&wr) == cap - 7);

    write_frames(&wr, 7); /* full again, now across the end */
    CHECK(kn_ring_readable(&rd) == cap);
    CHECK(read_and_compare(&rd, cap) == 0); /* a whole ring in one read, wrapping */
    CHECK(kn_ring_readable(&rd) == 0);
    CHECK(kn_ring_fill(&wr) == 0);
    CHECK(rd.pos == cap + 7);
    free(r);
}

/* A writer that attaches late adopts the published position, not zero. */
static void test_writer_attach(void) {
    kn_ring_view rd, wr, wr2;
    kn_ring_seg *r = ring_pair(16, 1, &rd, &wr);
    write_frames(&wr, 11);
    CHECK(kn_ring_view_init(&wr2, r, kn_ring_bytes(16, 1, LANE)) == 0);
    kn_ring_writer_attach(&wr2);
    CHECK(wr2.pos == 11);
    write_frames(&wr2, 3);
    CHECK(kn_ring_readable(&rd) == 14);
    CHECK(read_and_compare(&rd, 14) == 0);
    free(r);
}

/* ------------------------------------------------------ wrap-around */

/* The next odd size in 1..cap-1 after `x`, stepping by an even `step`:
 * odd sizes make the wrap point land on every slot over the run. */
static uint32_t next_odd(uint32_t x, uint32_t step, uint32_t cap) {
    return ((x + step) % cap) | 1u;
}

/* The largest odd count <= avail (0 if none). */
static uint32_t odd_upto(uint32_t avail) {
    return avail == 0 ? 0 : (avail & 1u) ? avail : avail - 1;
}

/* Odd block sizes on both sides, many laps, every sample checked. The
 * counters prove that both copy paths of the read (one memcpy and two)
 * and wrapping writes really happened. A reader that can't get its
 * planned size takes what is there, so the two sides never deadlock. */
static void test_wraparound(void) {
    const uint32_t cap = 64, ch = 3;
    kn_ring_view rd, wr;
    kn_ring_seg *r = ring_pair(cap, ch, &rd, &wr);
    /* A sentinel in the fade lane: ring writes must never spill into it. */
    float *lane = (float *)((char *)r + r->lane_offset);
    for (uint32_t i = 0; i < LANE * ch; i++) lane[i] = -1.0f - (float)i;
    uint64_t bad = 0, read_wraps = 0, write_wraps = 0, straight = 0;
    uint32_t wsize = 1, rsize = 1;

    for (int step = 0; step < 20000; step++) {
        uint32_t fill = kn_ring_fill(&wr);
        if (fill == KN_RING_CORRUPT) {
            CHECK(fill != KN_RING_CORRUPT);
            break;
        }
        if (wsize <= cap - fill) {
            if ((wr.pos & (cap - 1)) + wsize > cap) write_wraps++;
            write_frames(&wr, wsize);
            wsize = next_odd(wsize, 6, cap);
        }
        uint32_t avail = kn_ring_readable(&rd);
        if (avail == KN_RING_CORRUPT) {
            CHECK(avail != KN_RING_CORRUPT);
            break;
        }
        uint32_t n = rsize <= avail ? rsize : odd_upto(avail);
        if (n == 0) continue;
        if ((rd.pos & (cap - 1)) + n > cap)
            read_wraps++;
        else
            straight++;
        bad += read_and_compare(&rd, n);
        rsize = next_odd(rsize, 10, cap);
    }
    CHECK(bad == 0);
    CHECK(rd.pos > 1000 * (uint64_t)cap); /* many laps */
    CHECK(read_wraps > 1000);
    CHECK(straight > 1000);
    CHECK(write_wraps > 1000);
    int lane_ok = 1;
    for (uint32_t i = 0; i < LANE * ch; i++) lane_ok &= lane[i] == -1.0f - (float)i;
    CHECK(lane_ok);
    if (bad) printf("    %llu samples differ\n", (unsigned long long)bad);
    free(r);
}

/* ---------------------------------------------------------- corrupt */

static void test_corrupt(void) {
    const uint32_t cap = 16;
    kn_ring_view rd, wr;
    kn_ring_seg *r = ring_pair(cap, 2, &rd, &wr);
    write_frames(&wr, 10);
    CHECK(read_and_compare(&rd, 10) == 0); /* reader now at 10 */

    /* write_pos behind the reader. */
    atomic_store(&r->write_pos, 9);
    CHECK(kn_ring_readable(&rd) == KN_RING_CORRUPT);
    CHECK(rd.pos == 10);
    CHECK(atomic_load(&r->read_pos) == 10);

    /* Exactly a full ring ahead is legal; one frame more is not. */
    atomic_store(&r->write_pos, 10 + cap);
    CHECK(kn_ring_readable(&rd) == cap);
    atomic_store(&r->write_pos, 10 + cap + 1);
    CHECK(kn_ring_readable(&rd) == KN_RING_CORRUPT);
    CHECK(rd.pos == 10);
    CHECK(atomic_load(&r->read_pos) == 10);

    /* Far ahead: a wrap-sized difference must not slip through as a
     * small unsigned count. */
    atomic_store(&r->write_pos, UINT64_MAX);
    CHECK(kn_ring_readable(&rd) == KN_RING_CORRUPT);
    atomic_store(&r->write_pos, 10 + ((uint64_t)1 << 32));
    CHECK(kn_ring_readable(&rd) == KN_RING_CORRUPT);
    CHECK(rd.pos == 10);

    /* The producer's side: read_pos ahead of it, or a full ring behind. */
    atomic_store(&r->write_pos, 10);
    CHECK(kn_ring_fill(&wr) == 0);
    atomic_store(&r->read_pos, 11);
    CHECK(kn_ring_fill(&wr) == KN_RING_CORRUPT);
    wr.pos = 10 + cap + 1;
    atomic_store(&r->read_pos, 10);
    CHECK(kn_ring_fill(&wr) == KN_RING_CORRUPT);
    CHECK(wr.pos == 10 + cap + 1);
    wr.pos = 10 + cap;
    CHECK(kn_ring_fill(&wr) == cap);
    free(r);
}

/* --------------------------------------------------------- instance */

static void test_instance(void) {
    char out[KN_NAME_MAX], *saved = getenv("KANON_INSTANCE");
    saved = saved ? strdup(saved) : NULL;

    unsetenv("KANON_INSTANCE");
    CHECK(kn_instance(NULL, out) == 0 && strcmp(out, "default") == 0);
    setenv("KANON_INSTANCE", "studio_2-B", 1);
    CHECK(kn_instance(NULL, out) == 0 && strcmp(out, "studio_2-B") == 0);
    CHECK(kn_instance("live", out) == 0 && strcmp(out, "live") == 0); /* arg wins */
    setenv("KANON_INSTANCE", "", 1); /* set but empty: as if unset */
    CHECK(kn_instance(NULL, out) == 0 && strcmp(out, "default") == 0);
    setenv("KANON_INSTANCE", "a/b", 1);
    CHECK(kn_instance(NULL, out) == -EINVAL);
    CHECK(kn_instance("ok", out) == 0 && strcmp(out, "ok") == 0); /* a bad env is not read */
    unsetenv("KANON_INSTANCE");

    /* segment.h: "Returns -EINVAL unless it is 1..31 of [A-Za-z0-9_-]";
     * an explicit "" is a name, and an invalid one. */
    CHECK(kn_instance("a/b", out) == -EINVAL);
    CHECK(kn_instance("", out) == -EINVAL);
    CHECK(kn_instance("a.b", out) == -EINVAL); /* '.' would confuse reclaim's prefix */
    CHECK(kn_instance("a b", out) == -EINVAL);
    CHECK(kn_instance("..", out) == -EINVAL);
    CHECK(kn_instance("0123456789012345678901234567890123456789", out) == -EINVAL);
    CHECK(kn_instance("0123456789012345678901234567890", out) == 0); /* 31: longest legal */
    CHECK(strlen(out) == 31);
    CHECK(kn_instance("01234567890123456789012345678901", out) == -EINVAL); /* 32 */

    if (saved) setenv("KANON_INSTANCE", saved, 1);
    free(saved);
}

/* --------------------------------------------------------- segments */

#define MAX_NAMES 32
static char made[MAX_NAMES][KN_PATH_MAX]; /* every segment name we created */
static int n_made;

static void remember(const char *name) {
    if (n_made < MAX_NAMES) snprintf(made[n_made++], KN_PATH_MAX, "%s", name);
}

/* Unlinks whatever a failed check may have left behind. */
static void cleanup_segments(void) {
    for (int i = 0; i < n_made; i++) shm_unlink(made[i]);
}

static int shm_stat(const char *name, struct stat *st) {
    char path[KN_PATH_MAX + 16];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    return stat(path, st);
}

static int exists(const char *name) {
    struct stat st;
    return shm_stat(name, &st) == 0;
}

static int all_zero(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

/* A new segment: zero-filled, close-on-exec, no /dev/shm name, and sealed:
 * ftruncate to any size fails, so a cartridge holding the descriptor could
 * never make the conductor's mapping fault (SIGBUS). */
static void test_seg_create(void) {
    const uint32_t cap = 1024, ch = 2;
    size_t bytes = kn_ring_bytes(cap, ch, LANE);
    void *map = NULL, *map2 = NULL;
    int fd = -1;
    if (!CHECK(kn_seg_create("kanon.ring", bytes, &map, &fd) == 0 && map && fd >= 0)) return;

    struct stat st;
    CHECK(fstat(fd, &st) == 0 && (size_t)st.st_size == bytes);
    CHECK(all_zero(map, bytes));
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    int seals = fcntl(fd, F_GET_SEALS);
    CHECK(seals >= 0 && (seals & F_SEAL_SHRINK) && (seals & F_SEAL_GROW) && (seals & F_SEAL_SEAL));
    CHECK(ftruncate(fd, 0) < 0 && errno == EPERM);
    CHECK(ftruncate(fd, (off_t)bytes * 2) < 0 && errno == EPERM);
    CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) < 0); /* F_SEAL_SEAL: no more seals either */
    CHECK(fstat(fd, &st) == 0 && (size_t)st.st_size == bytes);

    /* Map before format: no magic yet. */
    size_t got = 0;
    CHECK(kn_seg_map(fd, KN_SEG_RING, &map2, &got) == -EPROTO);

    kn_ring_format(map, cap, ch, 128, 512, 44100.0, LANE);
    CHECK(kn_seg_map(fd, KN_SEG_STATE, &map2, &got) == -EPROTO);
    CHECK(kn_seg_map(fd, KN_SEG_PARAM, &map2, &got) == -EPROTO);
    map2 = NULL;
    if (CHECK(kn_seg_map(fd, KN_SEG_RING, &map2, &got) == 0)) {
        CHECK(got == bytes);
        /* Two mappings of one segment: a write through one shows in the other. */
        kn_ring_view a, b;
        CHECK(kn_ring_view_init(&a, map, bytes) == 0);
        CHECK(kn_ring_view_init(&b, map2, got) == 0);
        write_frames(&a, 100);
        CHECK(kn_ring_readable(&b) == 100);
        CHECK(read_and_compare(&b, 100) == 0);
        CHECK(atomic_load(&((kn_ring_seg *)map)->read_pos) == 100);
        kn_seg_unmap(map2, got);
    }

    /* A header that claims a different size than the object is refused. */
    ((kn_ring_seg *)map)->hdr.bytes = bytes + 4;
    CHECK(kn_seg_map(fd, KN_SEG_RING, &map2, &got) == -EPROTO);
    ((kn_ring_seg *)map)->hdr.bytes = bytes;
    ((kn_ring_seg *)map)->hdr.version = KN_LAYOUT_VERSION + 1;
    CHECK(kn_seg_map(fd, KN_SEG_RING, &map2, &got) == -EPROTO);
    kn_seg_unmap(map, bytes);
    close(fd);
    CHECK(kn_seg_map(fd, KN_SEG_RING, &map2, &got) == -EBADF);
}

/* A descriptor that is not sealed against resizing is refused: whoever
 * holds it could truncate it under the mapping. */
static void test_seg_unsealed(void) {
    int fd = memfd_create("kanon.test", MFD_CLOEXEC);
    void *map = NULL;
    size_t got;
    if (!CHECK(fd >= 0 && ftruncate(fd, 65536) == 0)) return;
    void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (CHECK(p != MAP_FAILED)) {
        kn_state_format(p, 65536, KN_SEG_STATE);
        CHECK(kn_seg_map(fd, KN_SEG_STATE, &map, &got) == -EPERM);
        munmap(p, 65536);
    }
    close(fd);
}

/* An object smaller than a header is refused before it is read. */
static void test_seg_tiny(void) {
    void *map = NULL, *map2 = NULL;
    size_t got;
    int fd;
    if (!CHECK(kn_seg_create("kanon.param", 4, &map, &fd) == 0)) return;
    CHECK(kn_seg_map(fd, KN_SEG_PARAM, &map2, &got) == -EPROTO);
    kn_seg_unmap(map, 4);
    close(fd);
}

/* State and parameter segments map under their own kind only. */
static void test_seg_kinds(void) {
    void *s = NULL, *p = NULL, *m = NULL;
    size_t got, sbytes = 65536;
    int sfd, pfd;
    if (!CHECK(kn_seg_create("kanon.state", sbytes, &s, &sfd) == 0)) return;
    if (!CHECK(kn_seg_create("kanon.param", kn_param_bytes(), &p, &pfd) == 0)) return;
    kn_state_format(s, sbytes, KN_SEG_STATE);
    kn_param_format(p);

    CHECK(kn_seg_map(sfd, KN_SEG_RING, &m, &got) == -EPROTO);
    CHECK(kn_seg_map(pfd, KN_SEG_STATE, &m, &got) == -EPROTO);
    if (CHECK(kn_seg_map(sfd, KN_SEG_STATE, &m, &got) == 0)) {
        CHECK(got == sbytes);
        kn_seg_unmap(m, got);
    }
    if (CHECK(kn_seg_map(pfd, KN_SEG_PARAM, &m, &got) == 0)) {
        CHECK(got == kn_param_bytes());
        kn_seg_unmap(m, got);
    }
    CHECK(((kn_state_seg *)s)->heap_offset % 64 == 0);
    CHECK(((kn_state_seg *)s)->heap_offset >= sizeof(kn_state_seg));
    kn_seg_unmap(s, sbytes);
    kn_seg_unmap(p, kn_param_bytes());
    close(sfd);
    close(pfd);
}

/* Creates a /dev/shm name as kanon before memfds did (kn_seg_reclaim
 * clears those after a crash), and remembers it. */
static int make_seg(const char *inst, int deck, enum kn_seg_kind kind, char out[KN_PATH_MAX]) {
    static const char *kinds[] = {"", "ring", "state", "param", "snap"};
    snprintf(out, KN_PATH_MAX, "/kanon.%u.%s.d%02d.%s", (unsigned)getuid(), inst, deck,
             kinds[kind]);
    int fd = shm_open(out, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) return -1;
    close(fd);
    remember(out);
    return 0;
}

/* Reclaim must take the instance's segments and leave neighbours whose
 * names share a prefix with it: "<inst>2" and <inst> minus its last
 * character. main's naming keeps those unique to this run too. */
static void test_reclaim(const char *inst) {
    char longer[KN_NAME_MAX], shorter[KN_NAME_MAX], mine[6][KN_PATH_MAX], theirs[3][KN_PATH_MAX];
    snprintf(longer, sizeof longer, "%s2", inst);
    snprintf(shorter, sizeof shorter, "%.*s", (int)strlen(inst) - 1, inst);
    const enum kn_seg_kind kinds[3] = {KN_SEG_RING, KN_SEG_STATE, KN_SEG_PARAM};

    int ok = 1;
    for (int i = 0; i < 6; i++) ok &= make_seg(inst, i < 3 ? 0 : 7, kinds[i % 3], mine[i]) == 0;
    ok &= make_seg(longer, 0, KN_SEG_RING, theirs[0]) == 0;
    ok &= make_seg(shorter, 0, KN_SEG_RING, theirs[1]) == 0;
    ok &= make_seg(longer, 7, KN_SEG_PARAM, theirs[2]) == 0;
    if (!CHECK(ok)) return;

    CHECK(kn_seg_reclaim(inst) == 6);
    for (int i = 0; i < 6; i++) CHECK(!exists(mine[i]));
    for (int i = 0; i < 3; i++) CHECK(exists(theirs[i]));
    CHECK(kn_seg_reclaim(inst) == 0); /* idempotent */

    CHECK(kn_seg_reclaim(longer) == 2);
    CHECK(kn_seg_reclaim(shorter) == 1);
    for (int i = 0; i < 3; i++) CHECK(!exists(theirs[i]));
}

int main(void) {
    char inst[KN_NAME_MAX];
    /* "ut-ring-<pid>x": unique per run, and so are test_reclaim's
     * neighbours "ut-ring-<pid>x2" and "ut-ring-<pid>" (the 'x' keeps one
     * run's names from ever being another run's). */
    snprintf(inst, sizeof inst, "ut-ring-%ldx", (long)getpid());

    test_format_accepts();
    test_view_init_rejects();
    test_counts();
    test_writer_attach();
    test_wraparound();
    test_corrupt();
    test_instance();
    test_seg_create();
    test_seg_unsealed();
    test_seg_tiny();
    test_seg_kinds();
    test_reclaim(inst);

    cleanup_segments();
    printf("test_ring: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}

/*
 * render.c - the block renderer, shared by live decks and offline render.
 *
 * Live and offline go through kn_render_block with the same block size, so
 * the same file and parameters give the same samples, bit for bit.
 * kn_render_block counts non-finite samples but leaves them: live, they go
 * to the ring so the conductor can fault the deck; offline, the file writer
 * replaces them by 0, as the conductor does.
 *
 * The timeline. Every block is placed on the timeline before process()
 * runs: k->now = frame + epoch, and the beat, tempo and bar there from the
 * cartridge's copy of the tempo map (live: refreshed every block by
 * live.c; offline: --bpm, --bar and --start).
 *
 * Timed events. Before a block, the events of the bound parameter
 * segment's queue that fall before its end are taken and sorted by frame
 * (stable: the queue's order breaks ties). The block is cut at each
 * event's sample: process() renders the part before it (out pointers
 * advanced, fewer frames, k->frame/now/beat of the part's first sample),
 * the event is applied (a parameter's target changes at that sample and
 * the glide starts there; event() is called if the file has one), and the
 * next part follows. Only events that change something cut a block: a
 * parameter event always, a note or trigger only for a file with event();
 * so a block with no such event is rendered exactly as it always was, in
 * one call. An event whose frame has passed applies at the block's first
 * sample and is counted as late.
 *
 * kn_render_file never leaves a half-written OUT (see tmp_path below).
 */
#include "cartridge.h"
#include "segment.h"

#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <signal.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define RENDER_BUF_BYTES (256u << 10)

int kn_cart_init(kn_cart *c, double rate, int channels, int block) {
    memset(c, 0, sizeof *c);
    c->ctx.rate = rate;
    c->ctx.channels = channels;
    c->ctx.block = block;
    c->ctx.internal = c;
    kn_tempo_init(&c->tempo);
    c->tempo_seen = UINT32_MAX; /* odd: the first kn_tempo_fetch copies */
    for (int ch = 0; ch < channels; ch++)
        if (!(c->out[ch] = calloc((size_t)block, sizeof(float)))) return -1;
    if (!(c->zero = calloc((size_t)block, sizeof(float)))) return -1;
    for (int ch = 0; ch < KN_MAX_CHANNELS; ch++) c->silent[ch] = c->zero;
    for (int p = 0; p < KN_PORTS_MAX; p++)
        for (int ch = 0; ch < channels; ch++) {
            if (!(c->port_buf[p][ch] = calloc((size_t)block, sizeof(float)))) return -1;
            c->port_view[p][ch] = c->port_buf[p][ch];
        }
    c->nports = 1;
    snprintf(c->port_name[0], sizeof c->port_name[0], "%s", KN_PORT_IN);
    return 0;
}

int kn_port_find(const kn_cart *c, const char *name) {
    for (int p = 0; p < c->nports; p++)
        if (!strcmp(c->port_name[p], name)) return p;
    return -1;
}

void kn_cart_free(kn_cart *c) {
    for (int ch = 0; ch < KN_MAX_CHANNELS; ch++) free(c->out[ch]);
    for (int p = 0; p < KN_PORTS_MAX; p++)
        for (int ch = 0; ch < KN_MAX_CHANNELS; ch++) free(c->port_buf[p][ch]);
    free(c->zero);
    free(c->priv_state);
    free(c->priv_params);
}

void kn_cart_bind(kn_cart *c, const kn_program *p, kn_state_seg *state, size_t state_bytes,
                  kn_param_seg *params) {
    c->state = state;
    c->state_bytes = state_bytes;
    c->params = params;
    kn_params_reset(c); /* kn_param handles refer to slots of the bound segment */
    c->in_setup = 1;    /* kn_in may declare ports */
    if (p->setup) p->setup(&c->ctx);
    c->in_setup = 0;
}

int kn_cart_bind_private(kn_cart *c, const kn_program *p, kn_state_seg *state, size_t state_bytes,
                         size_t priv_bytes, kn_param_seg *params) {
    if (!c->priv_state) c->priv_state = calloc(1, priv_bytes); /* pages touched lazily */
    if (!c->priv_params) c->priv_params = calloc(1, sizeof *c->priv_params);
    if (!c->priv_state || !c->priv_params || priv_bytes < state_bytes) return -1;
    if (kn_state_valid(state, state_bytes)) { /* else: a fresh state, as the takeover will */
        memcpy(c->priv_state, state, state->heap_offset + state->heap_used);
        c->priv_state->hdr.bytes = priv_bytes; /* a smaller state, in a larger copy */
    } else
        kn_state_format(c->priv_state, priv_bytes, KN_SEG_STATE);
    /* The event queue is copied on its own, up to the tail it reads with
     * acquire: the copy's events are taken only in the copy, so a render on
     * it (the test render, the shadow) applies the deck's timed events
     * without taking them from the cartridge that will really play them. */
    memcpy(c->priv_params, params, offsetof(kn_param_seg, evq));
    kn_evq_copy(&c->priv_params->evq, &params->evq);
    kn_cart_bind(c, p, c->priv_state, priv_bytes, c->priv_params);
    return 0;
}

/* Whether x[0..n) holds a NaN or Inf (exponent bits all ones), so that
 * the exact scan below only runs for a block that has one. On the bits,
 * without a branch, in runs of 8: that is what gcc -O2 vectorizes. */
static int any_nonfinite(const float *x, int n) {
    typedef uint32_t __attribute__((may_alias)) bits;
    const bits *b = (const bits *)x;
    uint32_t bad = 0; /* (b & exp) + 1 ulp of exp carries into bit 31 iff exp is all ones */
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) bad |= (b[i + j] & 0x7f800000u) + 0x00800000u;
    for (; i < n; i++) bad |= (b[i] & 0x7f800000u) + 0x00800000u;
    return (int)(bad >> 31);
}

/* Puts the timeline fields of the sample at deck frame `frame`, timeline
 * frame `now`, into the context. */
static void place(kn_cart *c, uint64_t frame, uint64_t now) {
    double f = (double)now;
    const kn_tempo_seg *s = kn_tempo_seg_at(&c->tempo, f);
    c->ctx.frame = frame;
    c->ctx.now = now;
    c->ctx.beat = kn_tempo_seg_beat(s, c->ctx.rate, f);
    c->ctx.bpm = kn_tempo_seg_bpm(s, f);
    c->ctx.bar = (int)s->bar;
}

/* Whether an event taken from the queue (shared memory: never trusted) is
 * well formed, and worth cutting the block for. A NOTE_ON with velocity 0
 * becomes a NOTE_OFF, as in MIDI. */
static int event_ok(const kn_cart *c, const kn_program *p, kn_ev_slot *e) {
    switch (e->type) {
    case KN_EVQ_PARAM:
        return e->param < KN_MAX_PARAMS && isfinite(e->value) &&
               e->param < atomic_load_explicit(&c->params->count, memory_order_acquire);
    case KN_EVQ_NOTE_ON:
    case KN_EVQ_NOTE_OFF:
        if (e->note < 0 || e->note > 127 || e->velocity < 0 || e->velocity > 127 ||
            e->channel < 0 || e->channel > 15)
            return 0;
        if (e->type == KN_EVQ_NOTE_ON && e->velocity == 0) e->type = KN_EVQ_NOTE_OFF;
        return p->event != NULL;
    case KN_EVQ_TRIG: return isfinite(e->value) && e->channel >= 0 && e->channel <= 15 && p->event;
    case KN_EVQ_CC:
    case KN_EVQ_PRESSURE:
        return e->note >= 0 && e->note <= 127 && e->value >= 0 && e->value <= 127 &&
               e->channel >= 0 && e->channel <= 15 && p->event;
    case KN_EVQ_BEND:
        return e->value >= -1 && e->value <= 1 && e->channel >= 0 && e->channel <= 15 && p->event;
    case KN_EVQ_PROGRAM:
        return e->note >= 0 && e->note <= 127 && e->channel >= 0 && e->channel <= 15 && p->event;
    default: return 0;
    }
}

/* Takes the events due before the block's end into c->due, keeps the ones
 * that matter, clamps late ones to the block's start (counting them), and
 * sorts them by frame (insertion sort: stable, and at most KN_EVQ_CAP
 * events, almost always 0 or 1). Bounded; no allocation. */
static uint32_t due_events(kn_cart *c, const kn_program *p, uint64_t now, int n) {
    if (kn_evq_empty(&c->params->evq)) return 0; /* the common case */
    uint32_t got = kn_evq_take(&c->params->evq, now + (uint64_t)n, c->due, KN_EVQ_CAP), kept = 0;
    for (uint32_t i = 0; i < got; i++) {
        kn_ev_slot e = c->due[i];
        if (!event_ok(c, p, &e)) continue;
        if (e.frame < now) {
            e.frame = now;
            c->late++;
        }
        c->events++;
        uint32_t j = kept++;
        for (; j > 0 && c->due[j - 1].frame > e.frame; j--) c->due[j] = c->due[j - 1];
        c->due[j] = e;
    }
    return kept;
}

/* Applies one event at the current position (the context is already
 * placed on its sample); returns the nanoseconds spent in event(). */
static uint64_t apply_event(kn_cart *c, const kn_program *p, const kn_ev_slot *e, int offset) {
    kn_event ev = {.type = (int)e->type, .offset = offset};
    if (e->type == KN_EVQ_PARAM) {
        ev.param = kn_param_apply(c, e->param, e->value, e->ramp);
        if (!ev.param) return 0; /* a knob this file does not declare: stored, nothing to tell */
        ev.value = kn_target(ev.param);
    } else if (e->type == KN_EVQ_TRIG) {
        ev.value = e->value;
        ev.channel = e->channel;
    } else if (e->type >= KN_EVQ_CC) { /* MIDI's channel messages */
        ev.control = e->note;
        ev.value = e->value;
        ev.channel = e->channel;
    } else {
        ev.note = e->note;
        ev.velocity = e->velocity;
        ev.channel = e->channel;
    }
    if (!p->event) return 0;
    uint64_t t0 = kn_mono_ns();
    p->event(&c->ctx, &ev);
    return kn_mono_ns() - t0;
}

/* Renders the part [at, at+len) of the block; returns the nanoseconds
 * spent in process(). */
static uint64_t render_part(kn_cart *c, const kn_program *p, uint64_t frame, uint64_t now, int at,
                            int len) {
    float *part[KN_MAX_CHANNELS];
    for (int ch = 0; ch < c->ctx.channels; ch++) part[ch] = c->out[ch] + at;
    for (int q = 0; q < c->nports; q++)
        for (int ch = 0; ch < c->ctx.channels; ch++) c->port_view[q][ch] = c->port_buf[q][ch] + at;
    kn_params_advance(c, len);
    place(c, frame + (uint64_t)at, now + (uint64_t)at);
    uint64_t t0 = kn_mono_ns();
    p->process(&c->ctx, part, len);
    return kn_mono_ns() - t0;
}

/* Real-time safe: no allocation, no locks, no syscalls (the clock read is a
 * vDSO call), loops bounded by the block, the knobs and KN_EVQ_CAP. The
 * user's process() and event() are the only unbounded parts, which is why
 * they run in a disposable process. */
uint64_t kn_render_block(kn_cart *c, const kn_program *p, uint64_t frame) {
    return kn_render_frames(c, p, frame, c->ctx.block);
}

/* A block cut short (1..block frames): the last one before a quantized
 * takeover, which must end exactly on its frame. */
uint64_t kn_render_frames(kn_cart *c, const kn_program *p, uint64_t frame, int n) {
    int chs = c->ctx.channels;
    if (n < 1 || n > c->ctx.block) n = c->ctx.block;
    for (int ch = 0; ch < chs; ch++) memset(c->out[ch], 0, (size_t)n * sizeof(float));
    uint64_t now = kn_tl_now(frame, c->epoch);
    for (int q = 0; q < c->nports; q++)
        for (int ch = 0; ch < chs; ch++) memset(c->port_buf[q][ch], 0, (size_t)n * sizeof(float));
    if (c->fill) c->fill(c, now, n);
    uint32_t ne = due_events(c, p, now, n);
    kn_params_read(c);
    if (c->snap_params) {
        kn_params_snap(c);
        c->snap_params = 0;
    }
    uint64_t dt = 0;
    int pos = 0;
    for (uint32_t i = 0; i < ne; i++) {
        int at = (int)(c->due[i].frame - now); /* 0..n-1: due before now + n, late ones at now */
        if (at > pos) dt += render_part(c, p, frame, now, pos, at - pos);
        pos = at;
        place(c, frame + (uint64_t)pos, now + (uint64_t)pos);
        dt += apply_event(c, p, &c->due[i], pos);
    }
    dt += render_part(c, p, frame, now, pos, n - pos);
    for (int ch = 0; ch < chs; ch++)
        if (any_nonfinite(c->out[ch], n))
            for (int i = 0; i < n; i++)
                if (!isfinite(c->out[ch][i]) && !c->nonfinite++)
                    c->first_bad = frame + (uint64_t)i + 1;
    return dt;
}

/* The common case, a block without NaN/Inf: a plain interleave (stereo
 * spelled out, in runs of 8, so that gcc -O2 vectorizes it). */
static void interleave(float *const *in, float *restrict dst, int n, int chs) {
    int i = 0;
    if (chs == 2) {
        const float *restrict l = in[0], *restrict r = in[1];
        for (; i + 8 <= n; i += 8)
            for (int j = 0; j < 8; j++)
                dst[2 * (i + j)] = l[i + j], dst[2 * (i + j) + 1] = r[i + j];
    }
    for (; i < n; i++)
        for (int ch = 0; ch < chs; ch++) dst[i * chs + ch] = in[ch][i];
}

/* A render writes a hidden temporary file beside OUT and renames it over
 * OUT only once every frame is written, so a render that fails or is
 * interrupted leaves OUT as it was. Only SIGKILL leaves the temporary
 * (.OUT.XXXXXX) behind. */
static char tmp_path[4200];

static void drop_tmp(void) {
    if (tmp_path[0]) unlink(tmp_path);
}

static void on_fatal_signal(int sig) {
    drop_tmp();
    signal(sig, SIG_DFL);
    raise(sig); /* pending until this handler returns, then the usual death */
}

static void guard_tmp(void) {
    static const int sigs[] = {SIGINT,  SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGALRM, SIGXCPU,
                               SIGXFSZ, SIGSEGV, SIGBUS, SIGFPE,  SIGILL,  SIGABRT};
    static int done;
    if (done++) return;
    atexit(drop_tmp); /* exit() from the user's code or a fatal API error */
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) /* ignored stays ignored (`&`) */
        if (signal(sigs[i], on_fatal_signal) == SIG_IGN) signal(sigs[i], SIG_IGN);
}

/* Creates the temporary file in the directory `final` will be in, with the
 * mode `final` has (or a new file would get). Returns its fd or -1. */
static int open_tmp(const char *final) {
    const char *slash = strrchr(final, '/');
    int d = slash ? (int)(slash - final + 1) : 0;
    int n = snprintf(tmp_path, sizeof tmp_path, "%.*s.%s.XXXXXX", d, final, final + d);
    int fd = n > 0 && (size_t)n < sizeof tmp_path ? mkstemp(tmp_path) : (errno = ENAMETOOLONG, -1);
    if (fd < 0) {
        int e = errno;
        tmp_path[0] = 0;
        errno = e;
        return -1;
    }
    struct stat st;
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, !stat(final, &st) ? st.st_mode & 07777 : 0666 & ~mask);
    return fd;
}

/* Float samples up to 4 GiB fit a plain WAV (32-bit sizes); beyond, RF64
 * (64-bit sizes). The length is known before the first frame, so a render
 * never needs libsndfile's auto-downgrade, which would write a WAVEX header
 * and a time-stamped PEAK chunk into every small file too. */
static int render_format(uint64_t frames, int channels) {
    uint64_t bytes = frames * (uint64_t)channels * sizeof(float);
    return (bytes <= 0xffffffffu - 65536 ? SF_FORMAT_WAV : SF_FORMAT_RF64) | SF_FORMAT_FLOAT;
}

int kn_render_file(const kn_program *p, kn_cart *c, double seconds, const char *out_path,
                   const kn_ev_slot *ev, size_t nev, kn_render_stats *st) {
    int block = c->ctx.block, chs = c->ctx.channels;
    uint64_t total = (uint64_t)llround(seconds * c->ctx.rate), done = 0;
    SF_INFO info = {
        .samplerate = (int)c->ctx.rate, .channels = chs, .format = render_format(total, chs)};
    /* A symlink stays a symlink: the file it points to is the one replaced. */
    char final[4200];
    struct stat ost;
    int exists = !stat(out_path, &ost);
    if (!exists || !realpath(out_path, final)) snprintf(final, sizeof final, "%s", out_path);
    SNDFILE *sf = NULL;
    int fd = -1;
    if (exists && !S_ISREG(ost.st_mode)) { /* a device or FIFO (--force): no rename over it */
        sf = sf_open(final, SFM_WRITE, &info);
    } else {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s", final);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        struct statvfs fs;
        double need = (double)total * chs * sizeof(float) + 65536;
        if (!statvfs(slash ? (dir[0] ? dir : "/") : ".", &fs) &&
            need > (double)fs.f_bavail * (double)fs.f_frsize) {
            fprintf(stderr,
                    "kanon render: error: %s would take %.1f MB, but its file system has only "
                    "%.1f MB free; render fewer --seconds or elsewhere\n",
                    out_path, need / 1e6, (double)fs.f_bavail * (double)fs.f_frsize / 1e6);
            return -1;
        }
        guard_tmp();
        if ((fd = open_tmp(final)) < 0) {
            fprintf(stderr, "kanon render: error: cannot create a temporary file beside %s: %s\n",
                    out_path, strerror(errno));
            return -1;
        }
        sf = sf_open_fd(fd, SFM_WRITE, &info, SF_FALSE);
    }
    /* no PEAK chunk: it carries a time stamp, and renders must be reproducible */
    if (sf) sf_command(sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
    if (!sf) {
        fprintf(stderr, "kanon render: error: cannot write %s: %s\n", out_path, sf_strerror(NULL));
        if (fd >= 0) close(fd), drop_tmp();
        return -1;
    }
    /* Blocks are gathered into a buffer of ~256 KiB before each write: one
     * write(2) per 64-frame block was most of the cost of a render. */
    uint64_t frames = RENDER_BUF_BYTES / sizeof(float) / (size_t)chs;
    uint64_t cap = (frames + (uint64_t)block - 1) / (uint64_t)block * (uint64_t)block; /* blocks */
    float *inter = malloc((size_t)cap * (size_t)chs * sizeof(float));
    uint64_t busy = 0, t0 = kn_mono_ns(), filled = 0;
    size_t fed = 0;
    int rc = inter ? 0 : -1;
    while (!rc && done < total) {
        uint64_t bad = c->nonfinite;
        /* The events go through the deck's queue, as live: each one when
         * its block comes (more than KN_EVQ_CAP in one block wait for the
         * next, and are late there). */
        uint64_t until = kn_tl_now(done, c->epoch) + (uint64_t)block;
        while (fed < nev && ev[fed].frame < until && !kn_evq_push(&c->params->evq, &ev[fed])) fed++;
        busy += kn_render_block(c, p, done);
        int n = total - done < (uint64_t)block ? (int)(total - done) : block;
        float *dst = inter + filled * (uint64_t)chs;
        if (c->nonfinite != bad)
            for (int i = 0; i < n; i++)
                for (int ch = 0; ch < chs; ch++) {
                    float x = c->out[ch][i]; /* as the conductor does: NaN/Inf become 0 */
                    dst[i * chs + ch] = isfinite(x) ? x : 0.0f;
                }
        else
            interleave(c->out, dst, n, chs);
        filled += n;
        done += n;
        if (filled + (uint64_t)block <= cap && done < total) continue;
        errno = 0;
        if (sf_writef_float(sf, inter, (sf_count_t)filled) != (sf_count_t)filled) {
            fprintf(stderr, "kanon render: error: writing %s failed: %s%s\n", out_path,
                    errno ? strerror(errno) : sf_strerror(sf),
                    fd >= 0 ? "; the file is unchanged" : "");
            rc = -1;
        }
        filled = 0;
    }
    free(inter);
    if (sf_close(sf) != 0 && !rc) {
        fprintf(stderr, "kanon render: error: closing %s failed\n", out_path);
        rc = -1;
    }
    if (fd >= 0) {
        /* on the disk before the rename, so a power cut leaves the old OUT or the new one */
        if (!rc && (fsync(fd) || rename(tmp_path, final))) {
            fprintf(stderr, "kanon render: error: cannot put %s in place: %s\n", out_path,
                    strerror(errno));
            rc = -1;
        }
        close(fd);
        if (rc) drop_tmp();
        tmp_path[0] = 0;
    }
    *st = (kn_render_stats){.frames = done,
                            .nonfinite = c->nonfinite,
                            .events = c->events,
                            .late = c->late,
                            .wall_s = (double)(kn_mono_ns() - t0) / 1e9,
                            .process_s = (double)busy / 1e9};
    return rc;
}

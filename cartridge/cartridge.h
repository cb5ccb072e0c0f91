/*
 * cartridge.h - internals of kanon-cartridge, the disposable process that
 * compiles one user file with libtcc and renders it block by block.
 *
 *   front.c    libtcc in memory; errors in file:line: error: form, and
 *   check.c    the check command, limits.c the compile's limits: shared
 *              with `kanon check` (front.h)
 *   compile.c  a deck's compile: the API's addresses, Faust's translation
 *   faust.c    .dsp files: faust -lang c plus a wrapper
 *   api.c      kn_state / kn_param_decl / kn_get / kn_beat_at behind kanon.h
 *   render.c   the block renderer shared by live and offline modes: the
 *              timeline fields, timed events and the split of a block
 *   events.c   `kanon render --events`: the events file, by beat
 *   live.c     the ring loop of a live deck (conductor's child)
 *   sandbox.c  limits, namespaces, capabilities, seccomp, denormal flushing
 *   tier.c     the second tier: the source built by cc -O2 under limits,
 *              loaded with dlopen, compared with the tcc build
 *   main.c     command line: check, render, live, spare
 *
 * Depends on shm/ only (never on conductor/).
 */
#ifndef KANON_CARTRIDGE_H
#define KANON_CARTRIDGE_H

#include "clock.h"
#include "contract.h"
#include "kanon_shm.h"
#include "route.h"
#include "timeline.h"
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "front.h"
#include "include/kanon.h"

_Static_assert(KN_EV_PARAM == KN_EVQ_PARAM && KN_EV_NOTE_ON == KN_EVQ_NOTE_ON &&
                   KN_EV_NOTE_OFF == KN_EVQ_NOTE_OFF && KN_EV_TRIG == KN_EVQ_TRIG &&
                   KN_EV_CC == KN_EVQ_CC && KN_EV_BEND == KN_EVQ_BEND &&
                   KN_EV_PRESSURE == KN_EVQ_PRESSURE && KN_EV_PROGRAM == KN_EVQ_PROGRAM,
               "kanon.h's event types are the queue's");

/* Compiles `path` (shown to the user as `display`; a .dsp through Faust)
 * against kanon's API. On failure returns -1 and leaves a message in err
 * ("display:LINE: error: ..."). */
int kn_compile(kn_program *p, const char *path, const char *display, const char *include_dir,
               char *err, size_t errlen);

/* The second tier (tier.c): the source built by the system C compiler. */
#define KN_CC_MEM_MB  2048 /* the compiler's address space */
#define KN_CC_FILE_MB 64   /* the largest file it may write */
/* In a child: limits, no network, then exec cc building `so` from `src`
 * (never returns). `kanon-cartridge cc` is this. The source is compiled
 * from a copy beside `so` that starts with `#line 1 "display"`, as tcc
 * compiles it: __FILE__ and diagnostics are the same in both builds. */
void kn_cc_exec(const char *src, const char *display, const char *include_dir, const char *so,
                double seconds) __attribute__((noreturn));
/* Runs kn_cc_exec in a child and waits: 0, or -1 with err (its verdict). */
int kn_cc_build(const char *src, const char *display, const char *include_dir, const char *so,
                double seconds, char *err, size_t errlen);
/* Loads a cc build: 0, or -1 with err. kn_program_free unloads it. */
int kn_program_load(kn_program *p, const char *so, const char *display, char *err, size_t errlen);
/* Frames a cc-tier cartridge compares (at least; whole blocks) */
#define KN_TIER_COMPARE_FRAMES 8192
/* `kanon render`'s tier: replaces the tcc build p of src by its cc build
 * (1), or leaves it (0) with `note` saying why. Before the sandbox. */
int kn_render_tier(kn_program *p, const char *src, const char *display, double seconds, char *note,
                   size_t n);
/* How two builds compare over `frames` frames: the largest difference,
 * the first frame that differs (-1: none, bit-identical). */
typedef struct kn_tier_diff {
    double max;
    int64_t first;
    int frames;
} kn_tier_diff;

/* The Faust bridge (faust.c): the C source that compiles a .dsp file
 * (malloc'd; NULL with err filled). kn_is_faust is front.h's. */
/* `--voices N`: the polyphony of the Faust program compiled next, in place
 * of its [nvoices:N] (0: the program's own). */
void kn_faust_set_voices(int n);
char *kn_faust_source(const char *path, const char *display, const char *include_dir, char *err,
                      size_t errlen);
/* Faust's `soundfile`: the sound (a Faust Soundfile) for a widget's label
 * and URL, loaded once per process; label NULL: Faust's defaultsound. */
struct kn_faust_sound *kn_faust_soundfile(kn_ctx *k, const char *label, const char *url);

#define KN_PARAM_HASH (2 * KN_MAX_PARAMS) /* a power of two, at most half full */

struct kn_param {
    double value;  /* what kn_get returns for the current block */
    double now;    /* smoothing position at the end of the current block */
    double step;   /* per-frame change while gliding */
    double target; /* where the glide goes */
    double s, inc; /* kn_smooth: next per-sample value and increment */
    uint32_t seq;  /* last `seq` seen in the slot */
    uint32_t slot; /* index in the parameter segment */
    /* the cartridge whose knob it is (kn_bind finds the slot through it) */
    struct kn_cart *cart;
};

/* Everything a cartridge needs to run a program against a deck's state and
 * parameters. Live mode maps them from shared memory; offline render uses
 * private memory of the same layout, so the code path is the same. */
typedef struct kn_cart {
    kn_ctx ctx; /* first: kn_ctx* passed to user code converts back */
    kn_state_seg *state;
    size_t state_bytes;
    uint64_t state_cap;       /* the most the deck's state may grow to (0: not said) */
    const char *state_option; /* the option that sets the cap, for messages */
    kn_param_seg *params;
    uint32_t id; /* this cartridge's id (declared_by in param slots) */
    struct kn_param local[KN_MAX_PARAMS];
    int nlocal;
    /* Name lookups without a scan (api.c): the bound segment's slots by
     * name hash (slot + 1, 0 = empty; open addressing), the first
     * `pindexed` slots indexed; and this cartridge's knob for each slot
     * (local index + 1, 0 = none). All zero is a valid empty index. */
    uint16_t phash[KN_PARAM_HASH];
    uint16_t local_of[KN_MAX_PARAMS];
    uint32_t pindexed;
    float *out[KN_MAX_CHANNELS]; /* planar block buffers */
    uint64_t nonfinite;          /* samples replaced by 0 */
    uint64_t first_bad;          /* frame of the first non-finite sample + 1 (0 = none) */
    kn_state_seg *priv_state;    /* private snapshot buffers (kn_cart_bind_private) */
    kn_param_seg *priv_params;
    const char *display; /* user's file name, for messages */
    /* The timeline: live, refreshed from the ring segment before every
     * block (live.c); offline, set once (the render's --bpm, --bar, --start). */
    kn_tempo_map tempo;         /* the last good copy of the deck's tempo map */
    uint32_t tempo_seen;        /* its tempo_seq (kn_tempo_fetch) */
    int64_t epoch;              /* timeline frame of the deck's frame 0 */
    uint64_t late;              /* events applied after their frame had passed */
    uint64_t events;            /* events applied */
    kn_ev_slot due[KN_EVQ_CAP]; /* the block's events, in the order they apply */
    /* Input ports (kn_in, shm/route.h): "in" is port 0; setup() declares
     * more. Each holds the block's input, planar (block frames a channel);
     * `view` is what kn_in hands process() for the current part of the
     * block; `silent` is a zero block for a port nobody declared. `fill`
     * (NULL: nothing is routed here) sums the block's routes into the
     * ports before it is rendered: live.c reads the sources' rings,
     * session.c its own decks' outputs. */
    int nports, in_setup;
    char port_name[KN_PORTS_MAX][KN_NAME_MAX];
    float *port_buf[KN_PORTS_MAX][KN_MAX_CHANNELS];
    const float *port_view[KN_PORTS_MAX][KN_MAX_CHANNELS];
    const float *silent[KN_MAX_CHANNELS];
    float *zero;
    void (*fill)(struct kn_cart *c, uint64_t now, int n);
    int snap_params; /* the deck's first block: knobs start at their targets (kn_params_snap) */
    void *fill_ctx;
} kn_cart;

void kn_params_snap(kn_cart *c);

/* `kanon render SESSION.json` (session.c): the whole session offline. */
typedef struct kn_session_opts {
    const char *path, *out, *input; /* input: a file played as the device input (or NULL) */
    double seconds, rate, start;    /* rate: unless the session says */
    int channels, block;            /* likewise */
    double state_mb, compile_seconds, mem_mb;
    const char *const *hide;
    int nhide, quiet;
} kn_session_opts;
int kn_session_render(const kn_session_opts *o);

/* The index of a port by name, or -1. */
int kn_port_find(const kn_cart *c, const char *name);

/* Set by a kn_state refusal that a larger state segment would cure, up to
 * the cap: the bytes the deck's state needs (contract.h, state_need). */
extern uint64_t kn_state_need;

/* Reports a fatal API misuse (e.g. state segment full) and exits. Live mode
 * routes it to the conductor; set by main.c. */
extern void (*kn_fatal_hook)(const char *msg);

int kn_cart_init(kn_cart *c, double rate, int channels, int block);
/* Renders a and b from the same private copy of (state, params) at
 * `frame` and compares them sample by sample; 0, or -1 without memory. */
int kn_tier_compare(kn_cart *c, const kn_program *a, const kn_program *b, const kn_state_seg *state,
                    size_t bytes, kn_param_seg *params, uint64_t frame, int frames,
                    kn_tier_diff *d);
/* Points the cartridge at these state and parameter segments and runs the
 * program's setup() against them (again), so its kn_state pointers follow. */
void kn_cart_bind(kn_cart *c, const kn_program *p, kn_state_seg *state, size_t state_bytes,
                  kn_param_seg *params);
/* Copies the segments' used bytes into private buffers (allocated on
 * first use, the state's of priv_bytes, at least state_bytes) and binds to
 * the copies: a snapshot to render on privately. */
int kn_cart_bind_private(kn_cart *c, const kn_program *p, kn_state_seg *state, size_t state_bytes,
                         size_t priv_bytes, kn_param_seg *params);
void kn_cart_free(kn_cart *c);
/* Renders one block at absolute frame `frame` into c->out, on the timeline
 * (c->tempo, c->epoch), applying the events of the bound parameter
 * segment's queue that are due before its end; returns the nanoseconds
 * spent in the user's code. Real-time safe. */
/* A user-code error in "FILE: error: ..." form, through kn_fatal_hook
 * (does not come back). */
void kn_cart_fatal(const kn_cart *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t kn_render_block(kn_cart *c, const kn_program *p, uint64_t frame);
uint64_t kn_render_frames(kn_cart *c, const kn_program *p, uint64_t frame, int n);
/* Refreshes every declared knob's block value from the parameter segment:
 * kn_params_read, then kn_params_advance over the whole block. */
void kn_params_refresh(kn_cart *c);
/* Forgets the name index and the knobs (kn_cart_bind, before setup()). */
void kn_params_reset(kn_cart *c);
/* Reads targets from the parameter segment (once per block). */
void kn_params_read(kn_cart *c);
/* Advances the smoothing over the next `n` frames (a block or a part). */
void kn_params_advance(kn_cart *c, int n);
/* A timed parameter event at this sample: the slot's value becomes `value`
 * (clamped), and the knob glides there from where it stands over ramp_ms
 * (at least 10 ms). Returns this cartridge's handle for the slot, or NULL
 * if it did not declare it (or the slot is not valid). */
kn_param *kn_param_apply(kn_cart *c, uint32_t slot, double value, double ramp_ms);
/* Sets (or pre-declares) a parameter's value by name; used by --set. */
int kn_param_preset(kn_param_seg *ps, const char *name, double value);

/* What an offline render did, for the caller to report. */
typedef struct kn_render_stats {
    uint64_t frames;    /* written to the file */
    uint64_t nonfinite; /* NaN/Inf samples, written as 0 */
    uint64_t events;    /* timed events applied */
    uint64_t late;      /* of which after their frame (before --start) */
    double wall_s;      /* the whole render */
    double process_s;   /* inside the user's process() */
} kn_render_stats;

/* `kanon render --input IN.wav` (infile.c): the file into the port "in"
 * through the live input's route arithmetic; sets c->fill. Open before
 * the sandbox; NULL with err (a rate or channel count that does not fit
 * the render, an unreadable file). */
typedef struct kn_infile kn_infile;
kn_infile *kn_infile_open(kn_cart *c, const char *path, char *err, size_t n);
uint64_t kn_infile_frames(const kn_infile *f);
int kn_infile_channels(const kn_infile *f);
void kn_infile_close(kn_infile *f);

/* Offline render to a sound file; 0 on success, else prints why. `ev`
 * (nev of them, sorted by frame) are timed events on the timeline, fed
 * into the cartridge's event queue as they fall due. */
int kn_render_file(const kn_program *p, kn_cart *c, double seconds, const char *out_path,
                   const kn_ev_slot *ev, size_t nev, kn_render_stats *st);

/* `kanon render --events FILE` (events.c). Read before the code is
 * compiled (kn_events_load: the JSON, each entry checked, beats turned into
 * timeline frames with the map), and bound to the file's parameters once
 * setup() has declared them (kn_events_bind: names to slots, sorted by
 * frame). Errors are "FILE: error: entry N ...: what" in err; -1. */
typedef struct kn_events kn_events;
kn_events *kn_events_load(const char *path, const kn_tempo_map *map, double rate, char *err,
                          size_t errlen);
int kn_events_bind(kn_events *e, const kn_cart *c, char *err, size_t errlen);
const kn_ev_slot *kn_events_slots(const kn_events *e, size_t *n);
void kn_events_free(kn_events *e);

/* Live mode: runs until told to stop; returns the process exit status. */
typedef struct kn_live_opts {
    const char *instance;
    int deck;
    uint32_t id;
    int report_fd;
    const char *path, *display, *include_dir;
    const char *so;  /* the cc tier: its build (tier.c), or NULL */
    int test_blocks; /* blocks rendered on a scratch copy before takeover */
    int restore;     /* a revert after a fault: start from the deck's snapshot */
    double compile_seconds;
    uint64_t state_cap; /* --state-mb, bytes: the state_need a refusal may report */
    size_t mem_bytes;
    const char *const *hide; /* directories hidden from the user's code (--hide) */
    int nhide;
} kn_live_opts;

int kn_sandbox_seccomp(void);
/* The whole sandbox (sandbox.c), entered once the code is compiled and
 * before any of it runs; `hide` names directories to hide besides the
 * fixed ones. A call the sandbox refuses is reported on report_fd (a
 * "blocked" report line), or on stderr if it is -1. 0, or a negative
 * errno with why[] saying what could not be done (the layers that could
 * be applied are in force). */
int kn_sandbox_enter(const char *const *hide, int nhide, int report_fd, char *why, size_t n);
void kn_sandbox_fpu(void);
/* Back to normal priority (a long, one-off render such as the shadow). */
void kn_sandbox_normal(void);
int kn_live_run(const kn_live_opts *o);

#endif

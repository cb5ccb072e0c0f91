/*
 * kanon_shm.h - the shared bytes of the cross-process contract (contract.h
 * is the process side: arguments, descriptors, report lines, limits).
 *
 * Every byte that the conductor and a cartridge share is described here.
 * A deck owns four shared-memory segments: sealed memfds (segment.h),
 * created by the conductor when the deck is born and closed when it is
 * stopped. They have no names; each cartridge of the deck gets them as
 * file descriptors KN_FD_SEG(kind) (contract.h), maps them and closes
 * the descriptors before any user code runs:
 *
 *   ring   kn_ring_seg   SPSC ring of interleaved float frames plus the
 *                        deck control block (owner, heartbeat, load) and
 *                        the timeline block (epoch, tempo map, late events;
 *                        timeline.h).
 *   state  kn_state_seg  named regions handed out by kn_state(); survives
 *                        every cartridge of the deck (phase continuity).
 *   param  kn_param_seg  named knobs declared by kn_param_decl(), the
 *                        deck's queue of timed events (timeline.h), and
 *                        its MIDI out queue (midi.h).
 *   snap   kn_state_seg  the state as it was when the producing version
 *                        took over (written by that cartridge before it
 *                        runs any user code, then unmapped); a fault
 *                        reverts to a good version with this state.
 *
 * Rules, enforced by both sides:
 *   - Never a pointer in shared memory: only offsets and sizes.
 *   - Every segment starts with kn_seg_header (magic, layout version, kind,
 *     size). Openers check all four before trusting anything else.
 *   - Positions are 64-bit frame counts that only ever increase, so full
 *     and empty never look alike and wrap-around is not a concern.
 *   - Only lock-free atomics cross the process boundary (checked below).
 *   - The conductor never trusts what it reads: it keeps its own copy of
 *     the ring geometry and its own read position, and validates the
 *     producer's write position before every read.
 *
 * Layout version 3 added the timeline: kn_ring_seg.tl (after the control
 * block, so the frames start later) and kn_param_seg.evq (after the slots).
 * Version 4 raised KN_MAX_PARAMS from 64 to 1024 (a Faust mixer or matrix
 * has hundreds of sliders), so the slots took 90,112 bytes and the event
 * queue starts after them; the state segment's size is no longer fixed
 * (it grows to what the deck's program asks for, contract.h).
 * Version 5 added routing (route.h): kn_deck_ctl.latency, and the routes
 * segment; every deck slot's ring is made once and shared read-only with
 * every cartridge, so decks can read each other.
 * Version 6 added MIDI out (midi.h): kn_param_seg.midi_out, after the
 * event queue; kn_param_slot.bind (kn_bind: the control-surface control
 * the deck's code puts the knob on) and kn_param_slot.step (a glide's pace,
 * for the next cartridge), so a slot takes 104 bytes.
 *
 * This directory depends on nothing but libc.
 */
#ifndef KANON_SHM_H
#define KANON_SHM_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include "midi.h"
#include "timeline.h"

#define KN_LAYOUT_VERSION 6
#define KN_MAGIC          0x4b414e4fu /* "KANO" */

#define KN_MAX_DECKS    16
#define KN_MAX_CHANNELS 8
#define KN_NAME_MAX     32 /* deck, parameter and state-region names, with NUL */
/* Parameters per deck. A cartridge's per-block work is bounded by the
 * knobs it declared (api.c: two loads and two compares for a knob at rest),
 * and the cartridge finds names through a hash, so the limit costs memory (96 bytes a
 * slot, shared), not time. */
#define KN_MAX_PARAMS  1024
#define KN_MAX_REGIONS 64
#define KN_CACHELINE   64

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free across processes");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free across processes");

/* A deck's four kinds, then the conductor's one routes segment (route.h). */
enum kn_seg_kind {
    KN_SEG_RING = 1,
    KN_SEG_STATE = 2,
    KN_SEG_PARAM = 3,
    KN_SEG_SNAP = 4,
    KN_SEG_ROUTES = 5
};
#define KN_SEG_KINDS 4 /* a deck's */

/* What the owner is doing (kn_deck_ctl.phase), so a crash or hang can be
 * reported as "in setup()" or "in process()". */
enum kn_phase { KN_PHASE_IDLE = 0, KN_PHASE_SETUP = 1, KN_PHASE_PROCESS = 2 };

typedef struct kn_seg_header {
    uint32_t magic;   /* KN_MAGIC */
    uint16_t version; /* KN_LAYOUT_VERSION */
    uint16_t kind;    /* enum kn_seg_kind */
    uint64_t bytes;   /* total size of the segment, header included */
} kn_seg_header;

/* ------------------------------------------------------------------ ring */

/*
 * Deck control block: how the conductor and the deck's cartridges talk
 * without the audio thread. Only the cartridge whose id equals `owner` may
 * publish frames. Ownership moves like a token:
 *   - a new deck: the conductor sets owner before any producer exists;
 *   - a swap: the conductor sets next_owner; the owner, at its next block
 *     boundary (after its last publish), stores owner = next_owner and
 *     wakes everyone; the successor attaches at write_pos;
 *   - a dead owner: the conductor, having seen it exit (pidfd), stores
 *     owner = next_owner itself. A dead process cannot publish.
 * Every change bumps `wake` (a futex word) so sleepers react at once.
 */
typedef struct kn_deck_ctl {
    _Atomic uint32_t owner;      /* cartridge id allowed to produce; 0 = none */
    _Atomic uint32_t next_owner; /* conductor: the successor; 0 = none */
    _Atomic uint32_t stop;       /* conductor: "owner, stop at your next block boundary" */
    _Atomic uint32_t wake;       /* futex word, bumped on every change */
    _Atomic uint32_t fade;       /* conductor: crossfade length of the next swap, frames */
    _Atomic uint32_t phase;      /* owner: enum kn_phase */
    _Atomic uint64_t heartbeat;  /* producer: incremented every loop iteration */
    _Atomic uint64_t busy_ns;    /* producer: total ns spent inside process() */
    _Atomic uint64_t blocks;     /* producer: total blocks rendered */
    /* Shadow fade lane: before handing over at frame P, the outgoing owner
     * renders its own code for `lane_frames` more frames, on a private
     * snapshot of state and parameters, into the lane; the successor
     * crossfades from it. Published by the release store of lane_for. */
    _Atomic uint64_t lane_start;  /* P: the first frame the successor renders */
    _Atomic uint32_t lane_frames; /* frames in the lane (<= lane_capacity) */
    _Atomic uint32_t lane_for;    /* successor id the lane was made for; 0 = none */
    _Atomic uint32_t latency;     /* producer: the processing latency its code declares
                                   * (k->latency, frames; route.h) */
    _Atomic uint64_t in_missed;   /* producer: blocks it rendered without all of a routed
                                   * source's frames (the source was late or gone) */
} kn_deck_ctl;

typedef struct kn_ring_seg {
    kn_seg_header hdr;
    /* Geometry: written by the conductor before any cartridge exists,
     * read-only afterwards. The conductor keeps its own copy. */
    uint32_t capacity;       /* frames, a power of two */
    uint32_t channels;       /* 1..KN_MAX_CHANNELS */
    uint32_t block;          /* frames per process() call */
    _Atomic uint32_t target; /* frames the producer keeps buffered ahead of the reader;
                              * the conductor changes it when the device changes */
    double rate;             /* Hz */
    uint64_t data_offset;    /* bytes from the segment start to frame 0 */
    uint32_t lane_capacity;  /* frames in the fade lane */
    uint32_t pad;
    uint64_t lane_offset; /* bytes from the segment start to the lane (interleaved) */

    alignas(KN_CACHELINE) _Atomic uint64_t write_pos; /* producer: frames ever published */
    alignas(KN_CACHELINE) _Atomic uint64_t read_pos;  /* consumer: frames ever consumed */
    alignas(KN_CACHELINE) kn_deck_ctl ctl;
    /* The timeline (timeline.h): `epoch`, the timeline frame of ring
     * position 0 (conductor; 0 = the deck's frame 0 is timeline frame 0);
     * the tempo map under the seqlock `tempo_seq` (conductor writes,
     * cartridges read with bounded retries and keep their last good copy);
     * `late`, events the producer applied after their frame had passed. */
    alignas(KN_CACHELINE) kn_timeline_ctl tl;
    /* float data[capacity * channels] at data_offset, interleaved;
     * float lane[lane_capacity * channels] at lane_offset, interleaved */
} kn_ring_seg;

/* ----------------------------------------------------------------- state */

typedef struct kn_region {
    char name[KN_NAME_MAX];
    uint64_t offset; /* from the segment start */
    uint64_t size;   /* bytes the code asked for */
} kn_region;

/* Touched only by the deck's producing cartridge (one at a time). */
typedef struct kn_state_seg {
    kn_seg_header hdr;
    uint32_t count; /* regions in use */
    uint32_t pad;
    uint64_t heap_offset; /* first byte of the region heap */
    uint64_t heap_used;   /* bump allocator: bytes handed out */
    kn_region region[KN_MAX_REGIONS];
} kn_state_seg;

/* ----------------------------------------------------------------- param */

/* Doubles travel as their bit patterns in 64-bit atomics (never torn).
 * `value` is the target (set by the conductor, with `ramp` ms and a bumped
 * `seq`; also stored, clamped and without a seq bump, by the producing
 * cartridge when it applies a timed parameter event from `evq`, and by a
 * declaration that clamps it); `current` is where the producing
 * cartridge's smoothing stands, published every block (every sub-block when
 * events split one), so feedback shows glides and a successor continues a
 * glide from where it was. */
typedef struct kn_param_slot {
    char name[KN_NAME_MAX]; /* written once, before the slot is published */
    _Atomic uint64_t min, max, def, value, current, ramp;
    _Atomic uint32_t declared_by; /* id of the last cartridge that declared it */
    _Atomic uint32_t seq;         /* bumped by every set */
    _Atomic uint32_t bind;        /* kn_bind's control (KN_BIND_*), 0 = none; cleared by
                                   * every declaration, so a version that drops its
                                   * kn_bind unbinds the knob */
    uint32_t reserved;
    /* the producer's glide in progress: its step per frame (double bits),
     * 0 at rest; published with `current`, so that the next cartridge goes
     * on at the same pace, not in the 10 ms a new glide would take */
    _Atomic uint64_t step;
} kn_param_slot;

/* kn_param_slot.bind: which control of a control surface the deck's code
 * puts the knob on (`kn_bind(p, "shift button 2 momentary")`, parsed by the
 * cartridge; docs/control-surfaces.md). Bits 0-7: the control's number
 * (knob N and button N count from 1 to KN_BIND_MAX; the main knob is 0);
 * bits 8-9: its kind; then flags. The conductor checks every field before
 * using it. */
enum { KN_BIND_KNOB = 1, KN_BIND_BUTTON = 2, KN_BIND_MAIN = 3 };
#define KN_BIND_MAX        16 /* knobs and buttons of a surface: 1..16 */
#define KN_BIND_NUM(b)     ((b)&0xffu)
#define KN_BIND_KIND(b)    (((b) >> 8) & 3u)
#define KN_BIND_MAKE(k, n) (((uint32_t)(k) << 8) | ((uint32_t)(n)&0xffu))
#define KN_BIND_SHIFT      (1u << 10) /* on the shift layer */
#define KN_BIND_LOG        (1u << 11) /* a knob's logarithmic scale */
#define KN_BIND_MOMENTARY  (1u << 12) /* a button that acts on press and release */

/* The queue of timed events (timeline.h) lives here rather than in the
 * ring segment because it belongs with the parameters it changes: the next
 * cartridge of the deck inherits the events not yet applied, as it inherits
 * the values. The conductor pushes (tail); the producing cartridge takes
 * due events, marks them done and retires them (head). A timed parameter
 * event also stores its value into the slot's `value` when it is applied,
 * so `kanon get` and the next cartridge see it. */
typedef struct kn_param_seg {
    kn_seg_header hdr;
    _Atomic uint32_t count; /* published slots; release-stored after a slot is filled */
    uint32_t pad;
    kn_param_slot slot[KN_MAX_PARAMS];
    kn_ev_queue evq;       /* timed events: conductor pushes, producing cartridge takes */
    kn_midi_outq midi_out; /* kn_midi_out(): producing cartridge pushes, the audio thread sends */
} kn_param_seg;

static inline uint64_t kn_dbits(double d) {
    union {
        double d;
        uint64_t u;
    } x = {.d = d};
    return x.u;
}
static inline double kn_bitsd(uint64_t u) {
    union {
        uint64_t u;
        double d;
    } x = {.u = u};
    return x.d;
}

#endif

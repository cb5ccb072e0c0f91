/*
 * conductor.h - internals of kanon-conductor, the process that never
 * restarts. Two threads matter:
 *
 *   audio thread   libsoundio's write callback (audio.c) runs the mixer
 *                  (mixer.c): reads every deck's ring, scrubs NaN/Inf,
 *                  fades on underrun, sums, limits, taps the recorder.
 *                  Real-time: no allocation, locks, blocking calls or
 *                  unbounded loops.
 *   control thread the event loop (main.c): nng requests (control.c)
 *                  and OSC (osc.c, surface.c), both through the typed
 *                  commands (command.c); each deck's handover state
 *                  machine: token, takeovers, reverts (handover.c), fed by
 *                  the deck slots and the loop's reports and exits
 *                  (decks.c, segments.c) over the process layer (proc.c);
 *                  the second tier: cc builds swapped in (optimize.c);
 *                  fault detection (faults.c); the machine's load and
 *                  shedding (load.c, proc_stat.c); saves (watch.c), the
 *                  history (history.c), levels (levels.c), recording
 *                  (record.c), device failover (audio.c); what is said
 *                  (events.c) and read (files.c); notes and MIDI: routes
 *                  and dispatch (midi.c), JACK's MIDI ports, read and
 *                  written in the output's cycles (midi_jack.c), the ALSA
 *                  sequencer (midi_alsa.c), `kanon note` (note.c).
 *
 * They share only kn_mix and the recorder's queues (spsc.h: atomics with a
 * documented owner per field). The recorder's writer is a third thread.
 * Depends on shm/ only (never on cartridge/).
 */
#ifndef KANON_CONDUCTOR_H
#define KANON_CONDUCTOR_H

#include "clock.h"
#include "spsc.h"
#include "contract.h"
#include "kanon_shm.h"
#include "ring.h"
#include "route.h"
#include "segment.h"
#include <cjson/cJSON.h>

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>

#define KN_MIX_CHUNK 256 /* frames mixed per inner step */

/* ------------------------------------------------------------- mixer */

enum kn_mix_state {
    KN_MIX_OFF = 0,  /* slot unused (control thread owns everything) */
    KN_MIX_PLAY,     /* audio thread reads the ring */
    KN_MIX_STOPPING, /* control asked for a fade-out */
    KN_MIX_DONE,     /* audio thread finished the fade; control may free */
    KN_MIX_FAULTED   /* silent: faded out, leftovers discarded (audio or control set
                      * it; control returns it to PLAY when a good version runs) */
};

/* Why the audio thread faulted a deck (kn_mix_deck.fault). */
enum kn_fault { KN_FAULT_NONE = 0, KN_FAULT_NONFINITE, KN_FAULT_RUNAWAY, KN_FAULT_CORRUPT };

typedef struct kn_mix_deck {
    _Atomic int state;        /* enum kn_mix_state; OFF->PLAY, PLAY->STOPPING by control */
    kn_ring_view ring;        /* set by control before state becomes PLAY */
    kn_midi_outq *midi_out;   /* its parameter segment's MIDI out queue: likewise */
    _Atomic uint32_t prefill; /* frames needed before (re)starting; control may change it */
    /* audio-thread private */
    int playing;                 /* reading (1) or waiting for data (0) */
    int started;                 /* has played once: later starts fade in */
    uint32_t fade_i;             /* fade-in progress, frames */
    float last[KN_MAX_CHANNELS]; /* the last frame it played: held and faded if the ring
                                  * runs dry with less than a fade left */
    /* counters: written by audio, read by control */
    _Atomic uint64_t underruns, nonfinite, frames, corrupt;
    _Atomic uint32_t fault;    /* enum kn_fault, set by audio when it faults the deck */
    _Atomic uint32_t buffered; /* frames in the ring at the last read */
    /* After a fault: the audio thread publishes its read position after
     * every read (the ring's own copy is shared, so it may be scribbled);
     * control restarts the ring at restart_pos for the replacement and
     * bumps restart_seq; the audio thread, silent, jumps there and echoes
     * the sequence in restart_done: from then on the deck may play again. */
    _Atomic uint64_t read_pub, restart_pos;
    _Atomic uint32_t restart_seq, restart_done;
    uint32_t restart_seen;           /* audio-private */
    int silenced;                    /* audio-private: faded out since the fault */
    _Atomic uint64_t silenced_rt_ns; /* audio: wall time it went silent after the last fault */
    /* "When did frame N reach the device?" (bench: save -> audible):
     * control sets mark_frame; audio stores the wall time it read it. */
    _Atomic uint64_t mark_frame, mark_rt_ns;
    /* Gains (linear, float bits) for channel 0, channel 1 (pan) and any
     * other channel; control writes targets, audio ramps to them over
     * ramp_frames. Unity everywhere is summed without a multiply. */
    _Atomic uint32_t gain_target[3];
    _Atomic uint32_t ramp_frames;
    kn_glide g[3];       /* audio-thread private */
    uint64_t release_cb; /* control-private: see kn_mix_deck_released */
    /* The timeline (timeline.c): ring position p plays at timeline frame
     * p + epoch once control has set epoch and then locked (release); the
     * audio thread latches both when it next starts the deck. stop_at (a
     * timeline frame, 0 = none) is where a quantized stop's fade begins. */
    _Atomic int64_t epoch;
    _Atomic uint32_t locked;
    _Atomic uint64_t stop_at;
    _Atomic uint64_t late_frames; /* audio: frames dropped because they came after their time */
    _Atomic uint64_t slips;       /* audio: times it gave up its place (see mixer.c deck_due) */
    uint64_t lost;                /* audio-private: frames dropped since it last played */
    int64_t ep;                   /* audio-private: the latched epoch */
    int is_locked;                /* audio-private */
    /* Its route to the master (routes.c): gain (linear, float bits; 0 =
     * not routed), tap (1: before the fader) and the delay that aligns it
     * with slower paths (latency compensation), in frames. */
    _Atomic uint32_t master_gain, master_pre, master_delay;
    kn_glide mg;   /* audio-private: the master route's gain */
    float *delay;  /* audio-private: KN_MIX_DELAY frames, interleaved */
    uint32_t dpos; /* audio-private: next write position in `delay` */
    /* audio-private: the delay heard (dcur), the one it crossfades from
     * (dfrom) and the crossfade's progress, in frames (done when it reaches
     * the crossfade's length; a fresh deck starts done, at 0) */
    uint32_t dcur, dfrom, dfade_i;
} kn_mix_deck;
#define KN_MIX_DELAY (KN_ROUTE_DELAY_MAX + KN_MIX_CHUNK) /* frames of a deck's master delay */

/* One meter record per mixed chunk: peak and sum of squares per deck
 * (post-gain) and for the master (post-limiter, index KN_MAX_DECKS). */
typedef struct kn_meter_rec {
    uint32_t frames;
    float peak[KN_MAX_DECKS + 1];
    float sumsq[KN_MAX_DECKS + 1];
} kn_meter_rec;
#define KN_METER_RECS 1024

typedef struct kn_mix {
    int channels;
    int fade_frames; /* ~1 ms */
    _Atomic int limiter_on;
    kn_limiter_state lim; /* audio-thread private */
    kn_mix_deck deck[KN_MAX_DECKS];
    float *scratch;                 /* KN_MIX_CHUNK * channels, preallocated */
    _Atomic uint64_t limited;       /* frames the limiter touched */
    _Atomic uint32_t master_target; /* master gain (linear, float bits) */
    _Atomic uint32_t master_ramp;
    kn_glide master_gl; /* audio-thread private */
    /* meters: SPSC ring, audio thread produces, control thread consumes */
    kn_meter_rec *meters;
    kn_spsc meter_q; /* audio thread -> control thread, over `meters` */
    _Atomic uint64_t meter_dropped;
    /* The timeline: frames mixed since `kanon up` (audio-private, published
     * after every chunk as tl_pub), and the device clock at the last
     * callback (clock_frame mixed at CLOCK_MONOTONIC clock_ns, under the
     * seqlock clock_seq) for mapping wall-clock times to frames. */
    uint64_t tl;
    _Atomic uint64_t tl_pub;
    _Atomic uint32_t clock_seq;
    _Atomic uint64_t clock_frame, clock_ns;
    /* A tap on each deck's post-fader signal (record.c kn_rec_post, for
     * stems and deck recordings), called by the audio thread with what the
     * deck adds to the master; NULL: none. Set before the stream starts. */
    void (*post_tap)(void *ctx, int slot, const float *frames, int n);
    void *post_ctx;
} kn_mix;

/* Control thread: drains meter records into per-deck accumulators. */
int kn_mix_meters_take(kn_mix *m, kn_meter_rec *out);

int kn_mix_init(kn_mix *m, int channels, double rate);
void kn_mix_free(kn_mix *m);
/* Only while no audio thread runs: the rate the device actually runs at. */
void kn_mix_set_rate(kn_mix *m, double rate);
/* Control thread, for a deck it stopped (STOPPING, or OFF after this):
 * 1 once its ring may be unmapped. The audio thread normally ends the
 * fade with DONE (the caller checks that first). If it has not after
 * KN_MIX_RELEASE_NS of `waited` (no stream, or a stalled thread), the deck
 * is taken from it (OFF: never read) and released once `callbacks` (the
 * audio thread's count of finished callbacks) has advanced twice: one
 * callback may have been reading the ring when the state changed, none
 * can after that. Without a stream (`streaming` 0) nothing reads it. */
#define KN_MIX_RELEASE_NS 250000000u
int kn_mix_deck_released(kn_mix_deck *d, uint64_t waited_ns, uint64_t callbacks, int streaming);
/* The audio thread, once: subnormals flushed to zero (FTZ) and read as
 * zero (DAZ), so a deck of subnormals, or a gain ramp decaying into them,
 * costs the mixer nothing extra. */
void kn_mix_thread_init(void);
/* Mixes `frames` (<= KN_MIX_CHUNK) interleaved frames into master. */
void kn_mix_run(kn_mix *m, float *master, int frames);
/* Audio thread, at each callback's start: the device clock (mono_ns) at
 * the timeline frame about to be mixed. Control: reads it (0, or -EAGAIN
 * before the first callback). */
void kn_mix_clock(kn_mix *m, uint64_t mono_ns);
int kn_mix_clock_read(kn_mix *m, uint64_t *frame, uint64_t *mono_ns);
/* The safety limiter alone (transparent below -6 dBFS, never above 0 dBFS). */
void kn_limit(kn_mix *m, float *master, int frames);

/* ---------------------------------------------------------- recorder */

/* What a recording taps (record.c): the master (one file), every deck's
 * post-fader signal and the master (one file per deck, in a directory), or
 * one deck's post-fader signal (one file). */
enum kn_rec_mode { KN_REC_MASTER = 0, KN_REC_STEMS, KN_REC_DECK };
#define KN_REC_TRACKS (1 + 2 * KN_MAX_DECKS) /* files in one recording, master included */

typedef struct kn_recorder kn_recorder;
typedef struct kn_rec_stats {
    uint64_t frames;        /* written to the file (stems: to master.wav) */
    uint64_t dropped;       /* missing from a file (the most any one file misses): tapped
                             * when the ring was full, or writing failed */
    uint64_t lost;          /* never tapped: the device played without us (kn_audio_lost) */
    char error[256];        /* why writing failed ("" while it works) */
    int64_t timeline_frame; /* the timeline frame of the file's first frame (-1: none yet) */
} kn_rec_stats;
typedef struct kn_rec_opts {
    enum kn_rec_mode mode;
    const char *path; /* the file; for KN_REC_STEMS an existing directory */
    const char *deck; /* KN_REC_DECK: the deck recorded */
    /* The name of the deck in each mixer slot (NULL or "": none), to tap
     * the decks that exist at the start. */
    const char *slots[KN_MAX_DECKS];
    int force; /* stems: a deck that appears later may overwrite a file that is not a WAV */
    int rate;
    const _Atomic uint64_t *lost; /* the device's count of frames played without us, or NULL */
} kn_rec_opts;
/* One file of the latest recording (kn_rec_file_info). */
typedef struct kn_rec_file {
    char deck[KN_NAME_MAX]; /* "master" or the deck's name */
    char path[4200];
    uint64_t frames; /* written, leading silence included */
} kn_rec_file;
kn_recorder *kn_rec_new(int channels);
void kn_rec_free(kn_recorder *r);
/* Audio thread, at each chunk's start: whether this chunk is recorded,
 * and the timeline frame of its first frame (kept for the files' first
 * frame: `record stop` reports it). */
void kn_rec_begin(kn_recorder *r, uint64_t tl);
/* Audio thread, from the mixer (kn_mix.post_tap): deck `slot`'s n frames
 * after its gains; the rest of the chunk is silence for it. */
void kn_rec_post(void *rec, int slot, const float *frames, int n);
/* Audio thread, at the chunk's end: the master's n frames; hands the
 * chunk to every file, or counts it as dropped in all of them (so the
 * files stay aligned). Never blocks. */
void kn_rec_tap(kn_recorder *r, const float *master, int n);
/* Control thread. start returns 0 or fills err. */
int kn_rec_start(kn_recorder *r, const kn_rec_opts *o, char *err, size_t errlen);
/* Control thread: a deck was created in `slot`; while a stems or deck
 * recording runs, its post-fader signal goes to its file from now on. */
void kn_rec_deck_new(kn_recorder *r, int slot, const char *name);
int kn_rec_active(kn_recorder *r, char *path, size_t n, kn_rec_stats *st);
/* The latest recording (running or stopped): its mode and deck (KN_REC_DECK). */
enum kn_rec_mode kn_rec_mode(const kn_recorder *r, const char **deck);
/* Its i-th file (0: master.wav for stems); 0 past the last. */
int kn_rec_file_info(kn_recorder *r, int i, kn_rec_file *f);
/* Its i-th deck that is not recorded and why; 0 past the last. */
int kn_rec_skipped(const kn_recorder *r, int i, const char **deck, const char **why);
/* Logs a write failure once (control thread, every loop iteration). */
void kn_rec_tick(kn_recorder *r);
/* Stops after the audio thread let go (cb_counter advanced twice); -1 with
 * err if writing failed (the file holds what was written before). */
int kn_rec_stop(kn_recorder *r, _Atomic uint64_t *cb_counter, kn_rec_stats *st, char *err,
                size_t errlen);

/* ------------------------------------------------------------- audio */

typedef struct kn_audio_opts {
    const char *backend; /* auto|jack|pulseaudio|alsa|dummy */
    int rate, channels, block;
    double latency_ms;
    int inputs; /* capture channels (--inputs), 0 = no input */
    int midi;   /* MIDI ports wanted (midi_jack.c): on JACK the output's client is "kanon" */
} kn_audio_opts;

typedef struct kn_audio kn_audio;
/* Opens the device; on failure fills err (says what was tried and why). */
kn_audio *kn_audio_open(const kn_audio_opts *o, kn_mix *mix, kn_recorder *rec, char *err,
                        size_t errlen);
void kn_audio_close(kn_audio *a);
/* Control thread: handle device loss by failing over (to dummy); returns 1
 * if the device changed. */
int kn_audio_poll(kn_audio *a);
const char *kn_audio_backend(const kn_audio *a);
const char *kn_audio_device(const kn_audio *a);
const char *kn_audio_why(const kn_audio *a); /* how the backend was chosen */
int kn_audio_rate(const kn_audio *a);
double kn_audio_latency(const kn_audio *a); /* device software latency, s */
int kn_audio_period(const kn_audio *a);     /* largest frames per callback expected */
uint64_t kn_audio_underflows(const kn_audio *a);
uint64_t kn_audio_frames(const kn_audio *a);
_Atomic uint64_t *kn_audio_callbacks(kn_audio *a);
/* 1 while a stream is open (an audio thread may be reading the rings). */
int kn_audio_streaming(const kn_audio *a);
/* Frames the device played without data from us (late callbacks), a lower
 * bound; see account_clock in audio.c. */
const _Atomic uint64_t *kn_audio_lost(kn_audio *a);
uint32_t kn_audio_failovers(const kn_audio *a);
/* The conductor's threads outrank the cartridges (SCHED_FIFO) where it
 * may: called before any thread exists, and again (threads_made) once the
 * libraries' threads exist, from when on children start at normal
 * priority. */
void kn_audio_rt_conductor(int threads_made);
/* The audio thread's scheduling policy (SCHED_OTHER, SCHED_FIFO, ...; -1
 * before its first callback) and priority. */
int kn_audio_rt(const kn_audio *a, int *prio);
/* 1 if it outranks a real-time cartridge (shm/priority.h); if not, cartridges
 * are started at normal priority. */
int kn_audio_outranks_cartridges(const kn_audio *a);
/* How the audio thread got its priority: "rlimit" (it took it), "jack"
 * (JACK's thread already was), "rtkit", or "none". */
const char *kn_audio_rt_via(const kn_audio *a);

/* The audio input (capture.c): the device's capture side, written into
 * the input's ring (KN_SRC_IN) and placed on the timeline. */
typedef struct kn_capture kn_capture;
/* NULL without --inputs. */
kn_capture *kn_audio_capture(kn_audio *a);
kn_capture *kn_capture_new(int channels, kn_mix *mix);
void kn_capture_free(kn_capture *k);
/* Control thread, beside the output stream (audio.c): open on the
 * output's backend and rate (0, or -1 with why), start once the output
 * runs (out_period: its frames per callback), and, once started, name the
 * JACK ports; close. lost: the stream failed (fail over). */
struct SoundIo;
struct SoundIoOutStream;
struct SoundIoInStream;
struct SoundIoChannelArea;
int kn_capture_open(kn_capture *k, struct SoundIo *sio, int jack, int rate, double latency_s,
                    char *why, size_t n);
int kn_capture_start(kn_capture *k, uint32_t out_period, char *why, size_t n);
void kn_capture_started(kn_capture *k);
void kn_capture_close(kn_capture *k);
int kn_capture_lost(const kn_capture *k);
/* Output thread (JACK), each cycle: its timeline frame `tl` against JACK's
 * frame counter. */
void kn_capture_output_cycle(kn_capture *k, struct SoundIoOutStream *os,
                             const struct SoundIoChannelArea *areas, int frames, uint64_t tl);
/* Control thread: the input's ring (routes.c) and its source entry; the
 * decks' lead (ring target and a block: decks.c). NULL k: nothing. */
void kn_capture_attach(kn_capture *k, kn_ring_seg *ring, size_t bytes, kn_src_info *src);
void kn_capture_lead(kn_capture *k, uint32_t lead);
/* Control thread, at start: waits up to `ms` for the first frames to be
 * placed on the timeline, so that `kanon up` reports a live input. */
void kn_capture_wait_live(kn_capture *k, int ms);
/* `status`'s "input" (null without one). */
cJSON *kn_capture_json(const kn_capture *k);
/* libsoundio's JACK streams' own clients (jack.c): found from a callback's
 * areas (NULL if libsoundio's data is not laid out as expected), the
 * server's frame counter, and a port's new short name (control thread). */
void *kn_jack_probe_out(struct SoundIoOutStream *os, const struct SoundIoChannelArea *areas,
                        int frames);
void *kn_jack_probe_in(struct SoundIoInStream *is, const struct SoundIoChannelArea *areas,
                       int frames, void **ports, int max);
uint32_t kn_jack_frame_time(void *client);
const char *kn_jack_client_name(void *client);
int kn_jack_rename_port(void *client, void *port, const char *name, char *full, size_t n);

/* MIDI (midi.c, midi_jack.c, note.c; docs/midi.md). */
typedef struct kn_midi kn_midi;
typedef struct kn_midi_jack kn_midi_jack;
typedef struct kn_midi_alsa kn_midi_alsa;
/* The audio thread's MIDI, read in the output's JACK cycles (NULL: none). */
void kn_audio_set_midi(kn_audio *a, kn_midi_jack *j);
/* A message from a backend: its input port, timeline frame and bytes. */
typedef void (*kn_midi_take_fn)(void *ctx, int port, uint64_t frame, const uint8_t *msg,
                                size_t len);
kn_midi_jack *kn_midi_jack_new(int nports);
void kn_midi_jack_free(kn_midi_jack *j);
/* Audio thread, once per JACK cycle, before it mixes the cycle's frames
 * from timeline frame tl. */
void kn_midi_jack_cycle(kn_midi_jack *j, struct SoundIoOutStream *os,
                        const struct SoundIoChannelArea *areas, int frames, kn_mix *mix);
/* Control thread: MIDI clock on kanon:midi_out (`kanon up --midi-clock`)
 * at this tempo map; stop asks for a stop message (0xFC) and returns 1
 * once it was sent (or cannot be). */
void kn_midi_jack_clock(kn_midi_jack *j, const kn_tempo_map *m, double rate);
int kn_midi_jack_stop(kn_midi_jack *j);
/* Control thread: registers ports on a new client; hands what arrived to
 * take(); how many. */
int kn_midi_jack_poll(kn_midi_jack *j, kn_midi_take_fn take, void *ctx);
/* Control thread, once the stream that held the ports is closed. */
void kn_midi_jack_closed(kn_midi_jack *j);
int kn_midi_jack_ready(const kn_midi_jack *j);
void kn_midi_jack_json(const kn_midi_jack *j, cJSON *o);
/* ------------------------------------------------------------- decks */

enum kn_proc_state { KN_PROC_NONE, KN_PROC_COMPILING, KN_PROC_READY, KN_PROC_RUNNING };

#define KN_BLOCKED_LOGGED 32 /* a cartridge's sandbox refusals logged, at most */
typedef struct kn_proc {
    enum kn_proc_state st;
    pid_t pid;
    int pidfd, rfd; /* exit notification, report pipe */
    uint32_t id;
    double compile_ms, test_ms;
    double ready_ms; /* from the request to "compiled" */
    uint64_t spawned_ns;
    uint64_t asked_rt_ns; /* wall time of the save or request that started it */
    uint64_t hash;        /* FNV-1a of the source it compiles */
    int restore;          /* a revert after a fault: starts from the snapshot */
    int testing;          /* reported "testing": compiled, now test-rendering */
    uint64_t testing_ns;  /* when it reported "testing" (monotonic) */
    char killed_for[256]; /* the conductor killed it for this (a time limit): the refusal's text */
    int leaving;          /* asked to hand the token to a successor and exit */
    int blocked;          /* "blocked" reports seen (the sandbox refused a call) */
    int hog;              /* needed more than real time: kept at normal priority (load.c) */
    int told;             /* "still compiling" events said so far (a long compile's progress) */
    int grown;            /* times the deck's state grew for this version (handover.c) */
    int cc;               /* runs the version's cc build (optimize.c: a tier swap) */
    char line[16384];     /* partial report line */
    size_t len;
} kn_proc;

/* The deck's handover state (handover.c has the transition table). */
typedef enum kn_hs {
    KN_HS_IDLE,
    KN_HS_COMPILING,
    KN_HS_TAKING,
    KN_HS_PLAYING,
    KN_HS_SWAPPING,
    KN_HS_HANDING,
    KN_HS_RECOVERING,
    KN_HS_SILENT,
    KN_HS_STOPPING
} kn_hs;

#define KN_OUTCOMES 16
typedef struct kn_outcome {
    uint32_t id;
    int ok; /* 1 compiled and took over, 0 failed */
    double compile_ms;
    char message[4096];
} kn_outcome;

/* The second tier of a deck (optimize.c has the transition table): the
 * version playing on its tcc build, compiled by cc in a child process. */
typedef enum kn_opt_state {
    KN_OPT_IDLE,
    KN_OPT_BUILDING,
    KN_OPT_READY,
    KN_OPT_LOADING
} kn_opt_state;
typedef struct kn_opt {
    kn_opt_state st;
    pid_t pid;         /* the compiler (its process group) while BUILDING */
    int pidfd;         /* its exit, polled in the event loop (-1: none) */
    int version;       /* the version compiled */
    uint32_t id;       /* LOADING: the cartridge loading the build */
    uint64_t hash;     /* of its source */
    uint64_t start_ns; /* monotonic: the compile's start */
    uint64_t asked_ns; /* wall time of the save that made the version (save -> cc running) */
    double cc_ms;      /* the compile's duration */
    char dir[4096];    /* private (0700): the build, the compiler's output */
    char src[4400];    /* the version's file in the history */
} kn_opt;

typedef struct kn_deck {
    int used;
    char name[KN_NAME_MAX];
    char gone[KN_NAME_MAX]; /* a stopping deck's name, until its slot is free (routes.c) */
    char path[4096], display[512];
    int voices; /* `play --voices N`: a Faust program's polyphony (0: its own) */
    kn_ring_seg *ring;
    kn_state_seg *state;
    kn_param_seg *params;
    size_t ring_bytes, state_bytes, param_bytes;
    int seg_fd[KN_SEG_KINDS + 1]; /* the sealed memfds by kind (1..4), -1 if none; only
                                   * this deck's cartridges ever get them */
    /* A state that grows at a swap (handover.c): a larger state and
     * snapshot pair made for successor grow_for, the deck's once it runs,
     * dropped if it does not (grow_state NULL: none). */
    kn_state_seg *grow_state;
    size_t grow_bytes;
    int grow_fd[2]; /* state, snapshot */
    uint32_t grow_for;
    kn_hs hs;       /* handover.c: what cur, next and dying are doing */
    int odd_logged; /* kn_handover_check disagreed (logged once) */
    /* The timeline (timeline.c). Quantization in beats (0: at once): of the
     * deck's first start, of its takeovers (`kanon quant`), and of the
     * successor in progress. Frames: where it started, where a quantized
     * takeover or stop will land (0: none). */
    double start_quant, swap_quant, next_quant;
    uint64_t start_frame, pending_frame, stop_frame;
    kn_proc cur, next; /* producing cartridge, and its successor while it compiles */
    kn_outcome outcome[KN_OUTCOMES];
    int noutcome;
    char last_event[1024];
    uint64_t blocks0, busy0, load_t0; /* load meter baseline */
    double load;                      /* % of real time, last measurement */
    double fade_ms;                   /* crossfade of the next swap */
    int watch, watch_wd;              /* follow saves of `path` (watch.c) */
    char watch_name[256];
    uint64_t dirty_ns;           /* a save was seen: reload at this monotonic time (0 = clean) */
    uint64_t saved_rt_ns;        /* wall time of the first save since the last reload */
    int version;                 /* history version playing */
    char origin[64];             /* what the pending version is: "save", "play", "revert to v3" */
    kn_proc dying;               /* a faulty cartridge killed but not yet reaped (handover.c) */
    int repair;                  /* restart the ring (handover.c) before the next grant */
    uint32_t restart_seq;        /* the last ring restart asked of the audio thread */
    uint32_t resumed_seq;        /* the last restart after which the deck was heard again */
    int primed;                  /* the ring has held half its target since the last restart */
    uint32_t ring_cap, lane_cap; /* the ring's geometry: our copy, to repair scribbles */
    uint32_t revert_id;          /* the cartridge of the last revert after a fault */
    int good_version;            /* newest version that played fault-free for 1 s */
    uint64_t running_since, revert_started;       /* monotonic ns */
    uint64_t hb_last, hb_time;                    /* heartbeat watch */
    uint64_t ov_blocks, ov_busy, ov_t0, ov_under; /* overload watch window */
    int ov_count;
    double gain_db, pan; /* mixer settings (levels.c) */
    int mute, solo;
    int audible_pending; /* the newest takeover's first frame hasn't reached the device */
    uint64_t audible_asked_rt_ns;
    /* The producer's CPU (load.c): the process of the window's
     * baselines, and the last window's figures. */
    pid_t cpu_pid;
    uint64_t cpu_win0, cpu_win_t0, under_win0, blocks_win0;
    int64_t wait_win0;
    double cpu;      /* % of one core it used */
    double cpu_need; /* % of one core it needs to play in real time: CPU per audio made */
    double cpu_wait; /* % of the window it waited for a CPU (-1 unknown) */
    /* Hang watch (faults.c): the process watched; since the last beat,
     * the time it could have made progress (on a CPU, stopped or blocked:
     * not waiting for a CPU); its CPU time at the beat (cpu0, if cpu_ok)
     * and when last looked at (cpu1, at hb_seen). */
    pid_t hb_pid;
    int hb_cpu_ok;
    uint64_t hb_eff, hb_cpu0, hb_cpu1, hb_seen;
    uint64_t ov_cpu; /* its CPU time at the start of the overload watch window */
    pid_t ov_pid;    /* ... of this process */
    /* Hog watch (load.c): the producer's CPU time and blocks at the
     * start of the current short window. */
    pid_t hog_pid;
    uint64_t hog_t0, hog_cpu0, hog_blocks0;
    int shed; /* shed under overload: silent until a new version runs */
    /* Starting on a beat (timeline.c, session.c): cartridge at_for's first
     * sample (a new deck) or takeover lands on beat at_beat (`play
     * start_beat`; 0: none); where the deck's first sample was placed, and
     * whether that was later than asked. A held version (`play hold`):
     * cartridge hold_for waits, compiled, for `start` (since hold_ns). */
    uint32_t at_for, hold_for;
    double at_beat;
    uint64_t hold_ns;
    double start_beat, asked_beat; /* asked_beat: what a late start asked for */
    int start_late;
    /* The tiers (optimize.c): whether the deck gets the cc tier (`--tier
     * auto`), whether its producer runs a cc build (and its id), the hash
     * of a source whose cc build failed or faulted (never tried again),
     * and whether the last revert was to a faulty cc build's tcc build. */
    kn_opt opt;
    int tier_auto, tier_cc, revert_tier;
    uint32_t tier_id;
    uint64_t tier_hash, cc_bad_hash;
} kn_deck;

/* The event log behind `kanon log` and `kanon play --follow`. */
#define KN_EVENTS 1024
typedef struct kn_log_entry {
    uint64_t seq, rt_ns;
    char deck[KN_NAME_MAX];
    char kind[16]; /* compiling, running, error, fault, note, stop */
    char text[1024];
    int version;
    double compile_ms, test_ms, swap_ms, ready_ms;
} kn_log_entry;

/* The machine's load, judged every 0.5 s (load.c), and the decks shed. */
#define KN_LOAD_RECENT 10 /* windows kept: "recent" underflows are the last 5 s */
#define KN_SHED_LOG    8
typedef struct kn_shed_rec {
    char deck[KN_NAME_MAX];
    double cpu; /* % of a core it needed */
    uint64_t rt_ns;
} kn_shed_rec;
typedef struct kn_overload {
    int cores;    /* CPUs we may run on */
    int shed_off; /* KANON_SHED=0: watch, never shed (benchmarks) */
    uint64_t t0, underflows0, self_cpu0;
    uint64_t recent[KN_LOAD_RECENT]; /* device underflows per window, ring */
    uint64_t nwin;
    double cpu_cartridges, cpu_conductor, total_load; /* % of one core; sum of deck loads */
    double cpu_need;                                  /* the running cartridges' cpu_need, summed */
    int short_decks;                                  /* decks that underran in the last window */
    int overloaded, windows; /* the last window's verdict; overloaded windows in a row */
    int since_shed;          /* overloaded windows in a row since the last shed */
    int demoted, calm;       /* cartridges at normal priority; calm windows since */
    char why[200];           /* what made it overloaded */
    uint64_t last_rt_ns;     /* when it last was (0: never) */
    kn_shed_rec shed[KN_SHED_LOG];
    uint64_t nshed;
} kn_overload;

/* Save/request -> first new frame handed to the device, per deck (bench). */
#define KN_AUDIBLE 256

/* Meter accumulation between windows, and the latest window (levels.c). */
typedef struct kn_meter_acc {
    float peak[KN_MAX_DECKS + 1];
    double sumsq[KN_MAX_DECKS + 1];
    uint64_t frames, t0;
} kn_meter_acc;
typedef struct kn_meter {
    double peak_db, rms_db;
} kn_meter;

/* Ableton Link: what the commands asked for, and what the sync saw at its
 * last tick (link_sync.c, every loop iteration). Plain data, so control.c
 * and command.c never call Link. */
#define KN_LINK_BPM_MIN 20.0 /* Link clamps every tempo to this range */
#define KN_LINK_BPM_MAX 999.0
typedef struct kn_link_ctl {
    int on;           /* in a session (commands set it; the sync clears it if Link fails) */
    int ask;          /* asked of the session for the next bar: 1 start, -1 stop, 0 nothing */
    unsigned peers;   /* the sync: peers in the session */
    int playing;      /* the sync: the session's start/stop state */
    double phase_ms;  /* the sync: kanon's beat minus the session's, before any correction */
    uint64_t aligned; /* the sync: times kanon's tempo map was moved onto the session's */
    char error[160];  /* why Link could not start ("" if it did) */
} kn_link_ctl;

/* One route as the user made it (routes.c): by name, so it may wait for
 * its decks. */
typedef struct kn_route_def {
    char src[KN_NAME_MAX];  /* a deck, or "in" / "in:N" / "in:N-M" */
    char dst[KN_NAME_MAX];  /* a deck, or "master" */
    char port[KN_NAME_MAX]; /* the destination's port ("" for the master) */
    double gain_db;
    int pre;                       /* before the source's fader */
    int input, in_first, in_count; /* the device input: its channels (count 0: all) */
    uint32_t delay;                /* latency compensation, as last published */
} kn_route_def;

typedef struct kn_conductor {
    char instance[KN_NAME_MAX];
    char sock_path[KN_PATH_MAX], log_path[KN_PATH_MAX];
    char cartridge_bin[4200];
    int rate, channels, block;
    uint32_t target;        /* ring fill target, frames */
    size_t state_bytes;     /* a new deck's state segment (KN_STATE_START_MB, or the cap) */
    uint64_t state_cap;     /* --state-mb: the most a deck's state segment grows to */
    double compile_timeout; /* --compile-timeout, s: a cartridge's limit (faust included) */
    int tier_auto;          /* `kanon up --tier auto` (the default): new decks get the cc tier */
    kn_mix mix;
    kn_recorder *rec;
    kn_audio *audio;
    kn_deck deck[KN_MAX_DECKS];
    uint32_t next_id;
    kn_proc spare;           /* a cartridge started ahead of need (decks.c) */
    int spare_job;           /* our end of the spare's job socket (SOCK_SEQPACKET) */
    int rt_refused;          /* the last cartridge could not be made real-time (logged once) */
    const char *cart_rt_via; /* how the last producer got it: "rlimit", "rtkit", "none" */
    int reap_fd[64];         /* pidfds of killed cartridges awaiting reaping */
    pid_t reap_pid[64];
    int quit;
    uint64_t debounce_ns;
    char history_dir[4096];
    kn_log_entry events[KN_EVENTS];
    uint64_t nevents;
    double audible_ms[KN_AUDIBLE]; /* ring of the latest measurements */
    uint64_t naudible;
    double master_db;
    kn_meter_acc meter_acc;
    kn_meter meter[KN_MAX_DECKS + 1]; /* [KN_MAX_DECKS] is the master */
    int osc_port;
    char osc_host[64];
    int osc_trust_udp;          /* file commands over UDP too (--osc-trust-udp) */
    char osc_unix[KN_PATH_MAX]; /* the owner-only OSC socket, "" if off */
    kn_overload ov;
    /* The ring target (decks.c kn_decks_retarget): the device's largest
     * request, a block and `ring_slack` frames for a cartridge's wake-up
     * jitter. The slack starts lean on a short-period device and grows a
     * block after each underrun (at most every 0.5 s, up to 20 ms); with
     * --latency it is fixed (10 ms and a block). */
    uint32_t ring_slack, ring_period; /* the slack, and the period it was chosen for */
    int ring_fixed, ring_grown;
    uint64_t ring_under, ring_grown_ns; /* deck underruns last seen; when it last grew */
    kn_tempo_map tempo;   /* the timeline's tempo map (timeline.c); every deck gets a copy */
    uint64_t events_late; /* timed events that came after their deck had rendered their frame */
    kn_link_ctl link;     /* Ableton Link (link_sync.c) */
    uint64_t tempo_delay; /* frames a tempo change lands past the frontier: time for Link
                           * peers to hear of it and change on the same instant */
    /* Routing (routes.c, shm/route.h): the routes by name; the decks not
     * routed to the master; the routes segment; every slot's ring, made
     * once, with a read-only descriptor for cartridges ([KN_SRC_IN]: the
     * device input's, -1 without one); what each deck's latency was when
     * last published, and the master's resulting latency. */
    kn_route_def routes[KN_ROUTES_MAX];
    int nroutes;
    char master_off[KN_ROUTES_MAX][KN_NAME_MAX];
    int nmaster_off;
    int inputs;           /* device input channels (--inputs), 0 = none */
    size_t in_ring_bytes; /* the input's ring (slot_ring[KN_SRC_IN]) */
    kn_routes_seg *routes_seg;
    int routes_fd, routes_ro;
    kn_ring_seg *slot_ring[KN_SRCS];
    int slot_ring_fd[KN_SRCS], slot_ring_ro[KN_SRCS];
    size_t slot_ring_bytes;
    uint32_t slot_cap, slot_lane; /* their geometry: our copy */
    uint32_t lat_seen[KN_MAX_DECKS];
    uint64_t master_latency;
    kn_midi *midi; /* midi.c: ports, routes, latency */
} kn_conductor;

/* MIDI routes and dispatch (midi.c), notes (note.c). */
/* nports input ports (0: MIDI off, but `kanon note` still works); clock:
 * MIDI clock on midi_out (`--midi-clock`). */
kn_midi *kn_midi_new(int nports, int clock);
/* After the audio opened: off JACK, the ALSA sequencer's client "kanon". */
void kn_midi_start(kn_conductor *c);
/* The ALSA sequencer (midi_alsa.c): NULL with why; poll hands what arrived
 * to take() stamped with its arrival frame. */
kn_midi_alsa *kn_midi_alsa_open(char *why, size_t n);
void kn_midi_alsa_close(kn_midi_alsa *a);
int kn_midi_alsa_poll(kn_midi_alsa *a, kn_conductor *c, kn_midi_take_fn take, void *ctx);
void kn_midi_alsa_json(const kn_midi_alsa *a, cJSON *o);
/* Control thread, before the audio stream closes: the clock's stop, sent
 * (waits at most `ms`). */
void kn_midi_shutdown(kn_conductor *c, int ms);
void kn_midi_free(kn_midi *m);
kn_midi_jack *kn_midi_jack_of(kn_midi *m);
/* Every incoming message passes here (MIDI learn hooks in): delivered
 * to the decks its routes name at timeline frame `frame`. */
void kn_midi_dispatch(kn_conductor *c, int port, uint64_t frame, const uint8_t *msg, size_t len);
/* Control thread, every loop iteration: what the backends received. */
void kn_midi_tick(kn_conductor *c);
/* The event loop's poll timeout: short while MIDI ports exist. */
int kn_midi_timeout_ms(kn_conductor *c, int ms);
/* L: frames between a message's arrival and its delivery. */
uint64_t kn_midi_latency(kn_conductor *c);
/* `kanon midi DECK [--from PORT] [--channel N] [--off]`: channel 1..16, 0 any. */
int kn_midi_route(kn_conductor *c, const char *deck, const char *from, int channel, int off,
                  char *err, size_t n);
cJSON *kn_midi_routes_json(kn_conductor *c);
int kn_midi_ports(const kn_conductor *c); /* input ports (0: MIDI off) */
cJSON *kn_midi_json(kn_conductor *c);     /* status's "midi" */

/* A note (note.c): pitch and velocity 0..127, dur in beats (0: no note
 * off), at_beat (-1: none) or quant (0: none) or a timeline frame (an OSC
 * bundle's time; 0: none), channel 0..15. */
typedef struct kn_note {
    double pitch, velocity, dur, at_beat, quant;
    uint64_t frame;
    int channel;
} kn_note;
int kn_cmd_note(kn_conductor *c, const char *deck, const kn_note *nt, uint64_t *frame, int *late,
                char *err, size_t n);

/* Per-deck options of `kanon play`. */
typedef struct kn_play_opts {
    const char *path, *display, *deck;
    double fade_ms;
    int watch;
    double
        quant; /* beats: the first sample (a new deck) or the takeover on this grid; 0 = at once */
    /* session.c: the version's text from `source` instead of `path` (NULL:
     * path); the first sample or takeover on beat start_beat (if
     * has_start_beat); held until `start`; parameter values a new deck's
     * code starts with */
    const char *source;
    int tier;   /* --tier: KN_PLAY_TIER_TCC, _AUTO, or 0: as `kanon up` said */
    int voices; /* --voices N (a Faust program's polyphony); 0: the program's own */
    int has_start_beat;
    double start_beat;
    int hold;
    int npresets;
    const struct kn_preset *presets;
} kn_play_opts;

#define KN_PLAY_TIER_TCC  1
#define KN_PLAY_TIER_AUTO 2

typedef struct kn_preset {
    char name[KN_NAME_MAX];
    double value;
} kn_preset;

int kn_deck_play(kn_conductor *c, const kn_play_opts *o, uint32_t *id, char *err, size_t errlen);

/* ------------------------------------------- sessions (session.c) */

typedef struct cJSON cJSON;

/* play's "source_file", "start_beat", "hold" and "params" into o (presets
 * in buf, at most max); 0 or -EINVAL with err. */
int kn_session_play_args(const cJSON *req, kn_play_opts *o, kn_preset *buf, int max, char *err,
                         size_t n);
/* Before a play changes anything: presets only for a deck nothing of which
 * ran yet (d NULL: a new one). */
int kn_session_play_check(kn_conductor *c, kn_deck *d, const kn_play_opts *o, char *err, size_t n);
/* Writes o's presets into a new deck's parameter segment. */
void kn_session_play_presets(kn_deck *d, const kn_play_opts *o);
/* After the version `id` was started: its beat and its hold. */
void kn_session_play_done(kn_conductor *c, kn_deck *d, const kn_play_opts *o, uint32_t id);
/* The `start` and `discard` commands (replies). */
cJSON *kn_session_cmd_start(kn_conductor *c, const cJSON *req);
cJSON *kn_session_cmd_discard(kn_conductor *c, const cJSON *req);
/* Drops held versions nobody started. */
void kn_session_tick(kn_conductor *c);
/* A deck's status: held, start_late, start_asked_beat. */
void kn_session_deck_json(kn_conductor *c, kn_deck *d, cJSON *o);

/* ------------------------------------------------ commands (command.c) */

/* A change to a deck's (or "master"'s) mixer strip: only the has_ fields
 * set are changed, gliding over ramp_ms. */
typedef struct kn_mix_change {
    int has_gain, has_pan, has_mute, has_solo;
    double gain_db, pan;
    int mute, solo;
    double ramp_ms;
} kn_mix_change;

int kn_cmd_play(kn_conductor *c, const kn_play_opts *o, uint32_t *id, char *err, size_t n);
int kn_cmd_stop(kn_conductor *c, const char *deck, char *err, size_t n);
/* Sets a declared parameter (clamped to its range); *slot (if given) is it. */
int kn_cmd_set(kn_conductor *c, const char *deck, const char *name, double value, double ramp_ms,
               kn_param_slot **slot, char *err, size_t n);
/* A timed set: lands on timeline frame `frame` at its exact sample. */
int kn_cmd_set_at(kn_conductor *c, const char *deck, const char *name, double value, double ramp_ms,
                  uint64_t frame, char *err, size_t n);
/* `set --at BEAT` (at_beat >= 0) or `set --quant N`: the frame it lands on. */
int kn_cmd_when(kn_conductor *c, const char *deck, double at_beat, double quant, uint64_t *frame,
                char *err, size_t n);
/* `stop DECK --at BEAT` (at_beat >= 0) or `--quant N` (> 0); else at once. */
int kn_cmd_stop_when(kn_conductor *c, const char *deck, double at_beat, double quant, char *err,
                     size_t n);
/* `kanon quant DECK N`: later saves and reverts take over on the grid. */
int kn_cmd_quant(kn_conductor *c, const char *deck, double quant, char *err, size_t n);
/* `kanon tempo BPM [--bar N] [--ramp BEATS]` (bar 0: unchanged). */
int kn_cmd_tempo(kn_conductor *c, double bpm, int bar, double ramp_beats, char *err, size_t n);
/* `kanon link on|off|start|stop`: on (1/0) joins or leaves the Link
 * session, playing (1/0) asks it to start or stop on the next bar; -1
 * leaves either as it is. */
int kn_cmd_link(kn_conductor *c, int on, int playing, char *err, size_t n);
/* *out: the deck changed, NULL for the master. */
int kn_cmd_mix(kn_conductor *c, const char *deck, const kn_mix_change *m, kn_deck **out, char *err,
               size_t n);
/* Plays history version `v` (0 = the one before the current) as a swap. */
int kn_deck_revert(kn_conductor *c, kn_deck *d, int v, uint32_t *id, char *err, size_t errlen);
void kn_deck_event(kn_conductor *c, kn_deck *d, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Rewrites the deck's segment headers and ring geometry from our own copy
 * (segments.c); create and free its four segments. */
void kn_deck_reformat(kn_conductor *c, kn_deck *d);
int kn_deck_segments_create(kn_conductor *c, kn_deck *d, char *err, size_t errlen);
/* Replaces the deck's state and snapshot segments by new, empty ones of
 * `bytes` (the old ones stay if that fails: -errno with err). Only while
 * nothing of the deck has played: no state to keep. */
int kn_deck_state_resize(kn_conductor *c, kn_deck *d, size_t bytes, char *err, size_t errlen);
/* At a swap: a new pair of `bytes` for successor `id` (any earlier one
 * dropped); the successor gets it, and the deck's state as it is at
 * KN_FD_OLD_STATE. Commit when that successor runs; drop otherwise. */
int kn_deck_grow_start(kn_deck *d, size_t bytes, uint32_t id, char *err, size_t errlen);
void kn_deck_grow_commit(kn_deck *d);
void kn_deck_grow_drop(kn_deck *d);
void kn_deck_segments_free(kn_deck *d);

/* ----------------------------------------------- handover (handover.c) */

/* A cartridge's report line, parsed (proc.c; shm/contract.h has the words). */
typedef enum kn_report_type {
    KN_REP_OTHER, /* an event this conductor does not know: ignored */
    KN_REP_MALFORMED,
    KN_REP_TESTING,
    KN_REP_COMPILED,
    KN_REP_RUNNING,
    KN_REP_NOTE,
    KN_REP_BLOCKED,
    KN_REP_ERROR /* "error" or "fatal" */
} kn_report_type;
typedef struct kn_report {
    kn_report_type type;
    double t;           /* wall time (s) it happened, 0 if not said */
    double ms, test_ms; /* compiled: compile and test-render times */
    double latency;     /* compiled: the frames its code declares (k->latency) */
    double frame;       /* running: the first frame it rendered */
    int tier_cc, same;  /* compiled: a cc build, and whether it matched its tcc build */
    double diff, diff_frame, compared; /* ... how far apart, from which frame, over how many */
    double state_need;                 /* error: bytes of state the program needs (0: not said) */
    char syscall[48];                  /* blocked: the refused call */
    char message[4096];                /* note, error */
} kn_report;
/* How a cartridge ended (decks.c, from its siginfo). */
typedef struct kn_exit {
    int alarm;     /* SIGALRM: the cartridge's own compile or test deadline */
    char how[128]; /* "exited with status 1", "killed by SIGSEGV" */
    char why[300]; /* a producer's fault in other words (SIGXCPU: faults.c), or "" */
} kn_exit;

const char *kn_hs_name(kn_hs s);
/* The events of the state machine; see the table in handover.c. */
int kn_handover_version(kn_conductor *c, kn_deck *d, const char *src, size_t len,
                        const char *origin, int restore, uint32_t *id, char *err, size_t errlen);
/* A save waits while a successor holds its place in line: one that asked
 * for the token, or a revert after a fault (which a save must not
 * supersede: if the save were refused, the deck would stay silent). */
int kn_handover_save_waits(const kn_deck *d);
/* Returns where the reporting process is now (&d->cur after "running"). */
kn_proc *kn_handover_report(kn_conductor *c, kn_deck *d, kn_proc *p, const kn_report *r);
void kn_handover_exit(kn_conductor *c, kn_deck *d, kn_proc *p, const kn_exit *x);
void kn_handover_reaped(kn_conductor *c, kn_deck *d);
/* The deck's producer or token holder failed (`culprit` is alive, or NULL
 * if already dead): silence it, kill it, revert to the last good version. */
void kn_handover_fault(kn_conductor *c, kn_deck *d, kn_proc *culprit, uint32_t id,
                       const char *what);
/* Shedding under overload: silences and kills the producer like a fault,
 * but does not revert (the same code would overload again). */
void kn_handover_shed(kn_conductor *c, kn_deck *d, const char *what);
/* A successor overran a time limit: killed; its exit says `why`. */
void kn_handover_limit(kn_conductor *c, kn_deck *d, const char *why);
void kn_handover_stop(kn_conductor *c, kn_deck *d);
/* Housekeeping: back to audible after a restart, a version proven good. */
void kn_handover_tick(kn_conductor *c, kn_deck *d, uint64_t now);
/* NULL if the state agrees with the cartridges, else what disagrees. */
const char *kn_handover_check(const kn_deck *d);
/* A held version (hold_for) has compiled and waits for `start`. */
int kn_handover_held(const kn_deck *d);
/* `start`: the held version goes on (a new deck's takes the token, a
 * swap's hands over); `discard`: it is dropped (the deck plays on, or a
 * new deck is left without a version). */
void kn_handover_release(kn_conductor *c, kn_deck *d);
void kn_handover_discard(kn_conductor *c, kn_deck *d, const char *why);
/* The cartridge holding the deck's token, or NULL. */
kn_proc *kn_deck_producer(kn_deck *d);
/* " in setup()" / " in process()" from the owner's phase marker. */
const char *kn_phase_text(const kn_deck *d);

/* ------------------------------------------------- faults (faults.c) */

/* Why a producer died of SIGXCPU: too slow (with its load) or hung. */
void kn_xcpu_text(kn_conductor *c, kn_deck *d, uint32_t id, char *buf, size_t n);
/* The scheduler's view of a process (proc_stat.c): CPU time used, time
 * spent runnable but waiting for a CPU (-1 unknown) and the state letter of
 * /proc/PID/stat ('?' unknown). 0, or -1 if even the CPU time is unknown. */
int kn_proc_sched(pid_t pid, uint64_t *cpu_ns, int64_t *wait_ns, char *state);
int kn_proc_cpu(pid_t pid, uint64_t *cpu_ns);
/* Watches running decks (audio verdicts, heartbeats, load, compile
 * deadlines) and tells the handover what it found. */
void kn_faults_tick(kn_conductor *c);
/* Per tick (load.c): every producer's CPU time; every 0.5 s the decks' and
 * the machine's load, the overload verdict, and shedding. */
void kn_load_tick(kn_conductor *c, uint64_t now);

/* ------------------------------------------------------- decks (decks.c) */

/* Milliseconds until the earliest pending reload (for the poll timeout). */
int kn_decks_timeout_ms(kn_conductor *c, int max);
int kn_deck_stop(kn_conductor *c, const char *name, char *err, size_t errlen);
kn_deck *kn_deck_find(kn_conductor *c, const char *name);
/* Event-loop hooks: collect fds to poll, handle readiness, housekeeping. */
int kn_decks_pollfds(kn_conductor *c, struct pollfd *fds, int max);
void kn_decks_handle(kn_conductor *c);
void kn_decks_tick(kn_conductor *c);
void kn_decks_shutdown(kn_conductor *c);
/* Recomputes the ring target from the device (at start, after failover)
 * and publishes it to every deck. */
void kn_decks_retarget(kn_conductor *c);

/* ------------------------------------------------- events (events.c) */

void kn_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An event of the deck (log, `kanon log`, status) with this kind and text. */
kn_log_entry *kn_event_add(kn_conductor *c, kn_deck *d, const char *kind, const char *text);
/* A cartridge's outcome: took over (ok) or refused, with the message. */
void kn_outcome_add(kn_deck *d, uint32_t id, int ok, double ms, const char *msg);
/* Cartridge outcome for `kanon play` to wait on: NULL for an unknown id. */
const kn_outcome *kn_deck_outcome(const kn_deck *d, uint32_t id);

/* -------------------------------------------- the second tier (optimize.c) */

/* The origin of a tier swap (kn_handover_version): the deck's version,
 * now its cc build; not a new version. */
#define KN_ORIGIN_OPTIMIZE "optimize"
/* A version took over on its tcc build: compile it with cc (if the deck's
 * tier is auto and the source's cc build never failed). */
void kn_opt_start(kn_conductor *c, kn_deck *d);
/* Kills a compile in progress and drops its build; `why` is logged (NULL:
 * silently: the build was used, or the deck goes). */
void kn_opt_cancel(kn_conductor *c, kn_deck *d, const char *why);
/* The compile's exit is polled with the cartridges'. */
int kn_opt_pollfds(kn_conductor *c, struct pollfd *fds, int max);
void kn_opt_handle(kn_conductor *c);
/* The cc cartridge's "compiled": how its build compared (logged); the
 * takeover fades only when the builds differ. */
void kn_opt_compared(kn_conductor *c, kn_deck *d, const struct kn_report *r);
/* A fault of the deck's cc build: its source is not optimized again. */
int kn_opt_fault(kn_deck *d, uint32_t id);

/* ------------------------------------------------ processes (proc.c) */

/* Starts a cartridge for deck d (the spare's job if one waits, else a new
 * `live` process) compiling src_path; p->id and p->restore are set. */
int kn_proc_spawn(kn_conductor *c, kn_deck *d, kn_proc *p, const char *src_path, char *err,
                  size_t errlen);
/* Keeps one cartridge started and waiting, so a swap costs only the compile. */
void kn_spare_ensure(kn_conductor *c);
/* Kills a cartridge and hands it to the reap list. */
void kn_proc_kill(kn_conductor *c, kn_proc *p);
/* SIGKILL only: the caller keeps the process to reap (its pidfd says when). */
void kn_proc_sigkill(const kn_proc *p);
/* Sets a producing cartridge's scheduling (see proc.c); with d, notes on
 * the deck when it must stay at normal priority. */
void kn_proc_priority(kn_conductor *c, kn_deck *d, const kn_proc *p);
/* The next complete report line of p, parsed: 1, or 0 if none is waiting. */
int kn_proc_report(kn_proc *p, kn_report *r);
/* Non-blocking: 1 (and si) if the process ended. */
int kn_proc_exited(int pidfd, pid_t pid, siginfo_t *si);
void kn_proc_close(kn_proc *p);
/* "exited with status N", "killed by SIGSEGV", ... */
const char *kn_proc_describe_exit(const siginfo_t *si, char *buf, size_t n);

/* --------------------------------------------------- timeline (timeline.c) */

void kn_timeline_init(kn_conductor *c);
/* The timeline frame the mixer mixes next. */
uint64_t kn_timeline_now(kn_conductor *c);
/* The first timeline frame the deck has not rendered yet (at least now). */
uint64_t kn_timeline_frontier(kn_conductor *c, kn_deck *d);
int kn_timeline_deck_locked(kn_conductor *c, kn_deck *d);
double kn_timeline_beat(kn_conductor *c, uint64_t frame);
/* The first frame >= from on the grid of `quant` beats (0: from). */
uint64_t kn_timeline_grid(kn_conductor *c, uint64_t from, double quant);
/* A new deck: off the timeline until its first cartridge runs. */
void kn_timeline_deck_new(kn_conductor *c, kn_deck *d);
/* A cartridge of the deck took over: the deck's first one places it on
 * the timeline (its first frame on the start grid); later ones find it. */
void kn_timeline_deck_start(kn_conductor *c, kn_deck *d);
/* Where a ring restarts after a fault (w: the faulty writer's position,
 * r: the reader's): on the timeline, not before what is due soon. */
uint64_t kn_timeline_restart_pos(kn_conductor *c, kn_deck *d, uint64_t w, uint64_t r);
/* `kanon tempo`: from the furthest frame any deck has rendered. */
int kn_timeline_tempo(kn_conductor *c, double bpm, int bar, double ramp_beats, char *err, size_t n);
/* The frame of a timed change: beat at_beat if >= 0, else the next
 * multiple of `quant` beats past what the deck has rendered. */
uint64_t kn_timeline_when(kn_conductor *c, kn_deck *d, double at_beat, double quant);
/* Queues a timed event for the deck's producer. */
int kn_timeline_push(kn_conductor *c, kn_deck *d, const kn_ev_slot *e, char *err, size_t n);
/* The timeline frame heard at CLOCK_MONOTONIC time mono_ns; -1 before
 * the first callback. */
int64_t kn_timeline_frame_at(kn_conductor *c, uint64_t mono_ns);
/* Its inverse: the CLOCK_MONOTONIC time (ns) at which timeline frame
 * `frame` is heard; -1 before the first callback. */
int64_t kn_timeline_mono_at(kn_conductor *c, uint64_t frame);
/* The successor compiled: where a quantized takeover lands (handover_at). */
void kn_timeline_handover(kn_conductor *c, kn_deck *d);
/* `stop --at BEAT` (at_beat >= 0) or `stop --quant N`: schedules the fade;
 * 1 if scheduled, 0 for at once. */
int kn_timeline_stop(kn_conductor *c, kn_deck *d, double at_beat, double quant);
/* The frame of `beat` if at or past `soon`, else of that beat a whole
 * number of bars later (*late set); *placed: the beat of the frame. */
uint64_t kn_timeline_beat_or_later(kn_conductor *c, double beat, uint64_t soon, double *placed,
                                   int *late);
/* Housekeeping: scheduled stops whose frame the ring now holds. */
void kn_timeline_tick(kn_conductor *c);

/* ------------------------------------------------- routes (routes.c) */

/* `kanon route SRC DST[:PORT] [--gain DB] [--pre]` (a new route, or new
 * gain and tap for an existing one); `kanon unroute SRC DST[:PORT]`. 0,
 * or -1 with err a sentence (a cycle is spelled out). */
int kn_route_add(kn_conductor *c, const char *src, const char *dst, double gain_db, int pre,
                 char *err, size_t n);
int kn_route_remove(kn_conductor *c, const char *src, const char *dst, char *err, size_t n);
/* Resolves the routes to slots, compensates latency, publishes the table
 * (cartridges) and the master routes (mixer). After any change to the
 * routes, to a deck's slot, or to a deck's declared latency. */
void kn_routes_update(kn_conductor *c);
/* Control tick: republishes when a deck's declared latency changed. */
void kn_routes_tick(kn_conductor *c);
/* Makes the routes segment and every slot's ring (once), and the input's
 * ring with --inputs (its producer: capture.c). */
int kn_routes_init(kn_conductor *c, uint32_t cap, uint32_t lane, char *err, size_t n);
/* The same, with the slots' geometry for this device (segments.c): at the
 * first deck, or at start with an input. */
int kn_slots_init(kn_conductor *c, char *err, size_t errlen);
/* The routes, as `kanon routes --json` lists them. */
cJSON *kn_routes_json(kn_conductor *c);
/* The furthest frame any deck has rendered (at least now): where a tempo
 * change lands. */
uint64_t kn_timeline_frontier_all(kn_conductor *c);
/* Hands the tempo map to every deck. */
void kn_timeline_publish(kn_conductor *c);

/* ------------------------------------------------------ link (link_sync.c) */

/* Every loop iteration: applies c->link's requests, keeps the tempo map
 * and the Link session together. Never blocks. */
void kn_link_tick(kn_conductor *c);
/* Leaves the session and ends Link's thread. */
void kn_link_shutdown(kn_conductor *c);

/* --------------------------------------------------------- rtkit.c */

/* Asks rtkit to make thread `tid` of process `pid` SCHED_FIFO `prio`;
 * 0, or -errno with `why` (no bus, no rtkit, refused). Control thread. */
int kn_rtkit_realtime(pid_t pid, pid_t tid, int prio, char *why, size_t n);

/* ------------------------------------------------------ files (files.c) */

/* Opens a regular file without ever blocking; NULL with errno otherwise. */
FILE *kn_open_regular(const char *path);
/* A whole source file (malloc'd, at most KN_SOURCE_MAX); NULL with errno. */
char *kn_slurp(const char *path, size_t *len);
uint64_t kn_fnv1a(const char *p, size_t n);

/* ------------------------------------------------------------ levels */

/* Recomputes every deck's and the master's gain targets from the settings. */
void kn_levels_apply(kn_conductor *c, double ramp_ms);
void kn_levels_init(kn_conductor *c);
void kn_levels_reset_deck(kn_conductor *c, int slot);
int kn_levels_tick(kn_conductor *c);

/* ------------------------------------------------------ watch, history */

int kn_watch_open(void);
int kn_watch_fd(void);
void kn_watch_close(void);
int kn_watch_deck(kn_conductor *c, kn_deck *d);
void kn_unwatch_deck(kn_conductor *c, kn_deck *d);
void kn_watch_handle(kn_conductor *c);

typedef struct cJSON cJSON;
void kn_history_init(kn_conductor *c, const char *dir);
/* mkdir -p, mode 0700; 0 or -errno. */
int kn_mkdirs(const char *path);
/* Makes the directory the session's history goes in (mkdir -p, 0700) and
 * checks that a file can be written there; -1 with err saying why not
 * (`given`: it came from --history-dir). */
int kn_history_check(const kn_conductor *c, int given, char *err, size_t errlen);
int kn_history_count(const kn_conductor *c, const kn_deck *d);
/* The file a cartridge compiles: the pending copy of version `id`. */
int kn_history_pending(const kn_conductor *c, const kn_deck *d, uint32_t id, char *out, size_t n);
int kn_history_write(const kn_conductor *c, const kn_deck *d, uint32_t id, const char *src,
                     size_t len, char *path, size_t n);
void kn_history_discard(const kn_conductor *c, const kn_deck *d, uint32_t id);
int kn_history_commit(const kn_conductor *c, kn_deck *d, uint32_t id, double compile_ms);
int kn_history_file(const kn_conductor *c, const kn_deck *d, int v, char *out, size_t n);
cJSON *kn_history_list(const kn_conductor *c, const kn_deck *d);

/* ----------------------------------------------------------- control */

int kn_control_open(kn_conductor *c, char *err, size_t errlen);
void kn_conductor_describe(const kn_conductor *c, cJSON *into); /* status head, ready report */
int kn_control_fd(void);
void kn_control_handle(kn_conductor *c);
void kn_control_close(void);
/* Sets a parameter's target (clamped to its range) with a glide. */
void kn_param_store(kn_param_slot *s, double value, double ramp_ms);
kn_param_slot *kn_param_find(kn_deck *d, const char *name);
/* One request (JSON text) -> one reply (JSON text, malloc'd). Public for
 * the fuzz harness and OSC. */
char *kn_control_dispatch(kn_conductor *c, const char *req, size_t len);

/* ------------------------------------------------------------- learn */

/* MIDI learn (learn.c): bindings of controllers to parameters, by name. */
int kn_learn_arm(kn_conductor *c, const char *deck, const char *param, double timeout_s, int log,
                 char *err, size_t n);
void kn_learn_cancel(void);
/* from: a port's name (kn_midi_port_parse), channel 1..16 */
int kn_learn_bind(kn_conductor *c, const char *deck, const char *param, const char *from,
                  int channel, int cc, int log, char *err, size_t n);
int kn_learn_forget(const char *deck, const char *param, char *err, size_t n);
/* Every MIDI message, as it is delivered (frame: the timeline frame it
 * lands on, 0 if none): binds it if learning, moves what it is bound to. */
void kn_learn_midi(kn_conductor *c, int port, int status, int d1, int d2, uint64_t frame);
void kn_learn_tick(void);
cJSON *kn_learn_json(void); /* {bindings:[...], armed, learned, last} */

#endif

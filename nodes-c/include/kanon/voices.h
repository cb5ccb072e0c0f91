/*
 * kanon/voices.h - a voice allocator: which of N voices plays which note.
 *
 * It makes no sound. event() hands it the deck's events (note on and off,
 * the sustain pedal CC 64, all notes off CC 123, all sound off CC 120);
 * process() asks each voice for its note, velocity and gate, runs its own
 * oscillator and envelope for it, and reports the envelope's level back:
 *
 *   void event(kn_ctx *k, const kn_event *e) { kn_voices_event(&s->vc, e); }
 *   for (int v = 0; v < KN_VOICES_MAX; v++) {
 *       if (!kn_voices_active(&s->vc, v)) continue;
 *       if (kn_voices_started(&s->vc, v)) kn_adsr_retrigger(&s->env[v]);
 *       kn_adsr_gate(&s->env[v], kn_voices_gate(&s->vc, v));
 *       ... oscillator at kn_mtof(kn_voices_note(&s->vc, v)), envelope ...
 *       kn_voices_level(&s->vc, v, env[frames - 1]);  (frees a finished tail)
 *   }
 *
 * A voice is FREE, HELD (its key is down), SUSTAINED (its key is up, the
 * pedal down) or RELEASED (its release tail is sounding): the gate is 1
 * while HELD or SUSTAINED. A RELEASED voice stays allocated until the
 * level its caller reports falls below `threshold` (-80 dB by default) or
 * the caller frees it (kn_voices_free): the tail is never cut by a new
 * note while a voice is free.
 *
 * A note on takes the voice already playing that note on that channel
 * (restarting it), else a free voice, else steals: among the released
 * voices if there are any, else among all, the oldest (KN_STEAL_OLDEST)
 * or the one whose reported level is lowest (KN_STEAL_QUIETEST; ties go
 * to the oldest; a voice counts as loud as its velocity until its first
 * report). In KN_VOICES_MONO and KN_VOICES_LEGATO modes voice 0 plays the
 * last key pressed that is still down (or held by the pedal), returning
 * to the previous one when it is let go; MONO restarts the voice at every
 * change of note, LEGATO only when no key was down.
 *
 * The state is plain data (no pointers): keep it in kn_state() and it
 * survives swaps. Every call is real-time safe: no allocation, loops
 * bounded by KN_VOICES_MAX and KN_VOICES_KEYS.
 */
#ifndef KANON_NODES_VOICES_H
#define KANON_NODES_VOICES_H

#include <kanon.h>

#define KN_VOICES_MAX  32 /* voices in one kn_voices */
#define KN_VOICES_KEYS 16 /* keys remembered for MONO/LEGATO's last-note priority */

enum { KN_VOICE_FREE, KN_VOICE_HELD, KN_VOICE_SUSTAINED, KN_VOICE_RELEASED };
enum { KN_VOICES_POLY, KN_VOICES_MONO, KN_VOICES_LEGATO };
enum { KN_STEAL_OLDEST, KN_STEAL_QUIETEST };

typedef struct kn_voice {
    int state; /* KN_VOICE_* */
    int note, velocity, channel;
    int started;       /* (re)started since kn_voices_started last said so */
    float level;       /* the caller's last report */
    unsigned long age; /* the note-on count when it (re)started: smaller is older */
} kn_voice;

typedef struct kn_voices_key {
    int note, velocity, channel;
    int sustained; /* let go while the pedal was down */
} kn_voices_key;

typedef struct kn_voices {
    double rate;     /* unused (no time here): every init takes the rate */
    int voices;      /* voices in use, 1..KN_VOICES_MAX */
    int mode, steal; /* KN_VOICES_*, KN_STEAL_* */
    int pedal;       /* sustain pedal down */
    float threshold; /* a released voice reported below this is freed */
    unsigned long count;
    int keys; /* MONO/LEGATO: keys down (or sustained), the last pressed last */
    kn_voices_key key[KN_VOICES_KEYS];
    kn_voice v[KN_VOICES_MAX];
} kn_voices;

/* voices 1..KN_VOICES_MAX (clamped); MONO and LEGATO use voice 0 only. */
void kn_voices_init(kn_voices *s, double rate, int voices, int mode, int steal);
/* Changes voices, mode or steal at any time (from knobs, per block): a
 * change of mode lets every note go; voices above the new count are freed.
 * Nothing happens when nothing changed. */
void kn_voices_set(kn_voices *s, int voices, int mode, int steal);

/* The deck's event: note on and off, CC 64 (>= 64 down), CC 123 (all
 * notes off, as note-offs: the pedal still holds them), CC 120 (all sound
 * off: every voice freed at once). Returns the voice a note on took, else
 * -1; other events are ignored. */
int kn_voices_event(kn_voices *s, const kn_event *e);
int kn_voices_note_on(kn_voices *s, int note, int velocity, int channel);
void kn_voices_note_off(kn_voices *s, int note, int channel);
void kn_voices_pedal(kn_voices *s, int down);
void kn_voices_all_notes_off(kn_voices *s);

/* Voice v (0..KN_VOICES_MAX-1; out of range: a free voice). */
int kn_voices_state(const kn_voices *s, int v);  /* KN_VOICE_* */
int kn_voices_active(const kn_voices *s, int v); /* not free: compute it */
int kn_voices_gate(const kn_voices *s, int v);   /* 1 while held or sustained */
int kn_voices_note(const kn_voices *s, int v);
int kn_voices_velocity(const kn_voices *s, int v); /* 1..127 */
/* 1 once after each (re)start of voice v (the call clears it): restart its
 * envelope (kn_adsr_retrigger) so the attack begins at this very sample. */
int kn_voices_started(kn_voices *s, int v);
/* The voice's level now (its envelope's last value, once per block): what
 * KN_STEAL_QUIETEST compares, and what ends a release tail. */
void kn_voices_level(kn_voices *s, int v, float level);
void kn_voices_free(kn_voices *s, int v);
int kn_voices_playing(const kn_voices *s); /* voices not free */

#endif

/*
 * voices.c - the voice allocator. See kanon/voices.h.
 *
 * Each voice is a small state machine (FREE, HELD, SUSTAINED, RELEASED)
 * driven by the table NEXT: every change of state goes through it, so the
 * rules (a pedal holds a let-go key, a tail ends when it is silent, a new
 * note always wins) are read in one place. The allocator decides only
 * which voice: the sound, its envelope and its level are the caller's.
 *
 * MONO and LEGATO keep the keys that are down, oldest first (a bounded
 * stack: when it is full the oldest key is forgotten), and voice 0 plays
 * the top one. Real-time safe: no allocation; every loop is bounded by
 * KN_VOICES_MAX or KN_VOICES_KEYS.
 */
#include "knmath.h"

/* What happens to a voice. */
enum {
    IN_ON,        /* a note starts on it */
    IN_OFF,       /* its key is let go, the pedal up */
    IN_OFF_PEDAL, /* its key is let go, the pedal down */
    IN_PEDAL_UP,  /* the pedal is let go */
    IN_SILENT,    /* its reported level is below the threshold */
    IN_LETGO,     /* a change of mode: every note ends */
    IN_KILL,      /* freed by the caller, all sound off, fewer voices */
    IN_COUNT
};

#define F KN_VOICE_FREE
#define H KN_VOICE_HELD
#define S KN_VOICE_SUSTAINED
#define R KN_VOICE_RELEASED
static const signed char NEXT[4][IN_COUNT] = {
    /*        ON OFF OFF_PEDAL PEDAL_UP SILENT LETGO KILL */
    [F] = {H, F, F, F, F, F, F},
    [H] = {H, R, S, H, H, R, F},
    [S] = {H, S, S, R, S, R, F},
    [R] = {H, R, R, R, F, R, F},
};
#undef F
#undef H
#undef S
#undef R

static int clampi(int x, int lo, int hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

/* The state lives in user memory, kept across edits of the user's struct:
 * an impossible value reads as FREE, and counts are clamped, so that no
 * table index or loop can run out of bounds. */
static void step(kn_voice *v, int in) {
    v->state = NEXT[clampi(v->state, 0, 3) == v->state ? v->state : KN_VOICE_FREE][in];
}
static int nvoices(const kn_voices *s) {
    return clampi(s->voices, 1, KN_VOICES_MAX);
}
static int nkeys(kn_voices *s) {
    return s->keys = clampi(s->keys, 0, KN_VOICES_KEYS);
}

void kn_voices_init(kn_voices *s, double rate, int voices, int mode, int steal) {
    *s = (kn_voices){.rate = rate, .threshold = 1e-4f}; /* -80 dB */
    kn_voices_set(s, voices, mode, steal);
}

void kn_voices_set(kn_voices *s, int voices, int mode, int steal) {
    s->voices = clampi(voices, 1, KN_VOICES_MAX);
    s->steal = steal == KN_STEAL_QUIETEST ? KN_STEAL_QUIETEST : KN_STEAL_OLDEST;
    mode = clampi(mode, KN_VOICES_POLY, KN_VOICES_LEGATO);
    if (mode != s->mode) {
        for (int i = 0; i < KN_VOICES_MAX; i++) step(&s->v[i], IN_LETGO);
        s->keys = 0;
        s->mode = mode;
    }
    for (int i = s->voices; i < KN_VOICES_MAX; i++) step(&s->v[i], IN_KILL);
}

static void start(kn_voices *s, int i, int note, int velocity, int channel) {
    kn_voice *v = &s->v[i];
    v->note = note, v->velocity = velocity, v->channel = channel;
    v->age = ++s->count;
    v->level = (float)velocity / 127; /* its loudness until the first report */
    v->started = 1;
    step(v, IN_ON);
}

/* ---- POLY ---- */

/* Whether voice a is a better victim than voice b. */
static int rather(const kn_voices *s, const kn_voice *a, const kn_voice *b) {
    if (s->steal == KN_STEAL_QUIETEST && a->level != b->level) return a->level < b->level;
    return a->age < b->age;
}

/* The voice to take: free, else the best victim among the released
 * voices if any, else among all. */
static int pick(const kn_voices *s) {
    int released = 0, best = -1;
    for (int i = 0; i < nvoices(s); i++) {
        if (s->v[i].state == KN_VOICE_FREE) return i;
        released |= s->v[i].state == KN_VOICE_RELEASED;
    }
    for (int i = 0; i < nvoices(s); i++) {
        if (released && s->v[i].state != KN_VOICE_RELEASED) continue;
        if (best < 0 || rather(s, &s->v[i], &s->v[best])) best = i;
    }
    return best;
}

/* The voice sounding this note on this channel, or -1. */
static int sounding(const kn_voices *s, int note, int channel, int held_only) {
    for (int i = 0; i < nvoices(s); i++) {
        const kn_voice *v = &s->v[i];
        if (v->state != KN_VOICE_FREE && v->note == note && v->channel == channel &&
            (!held_only || v->state == KN_VOICE_HELD))
            return i;
    }
    return -1;
}

/* ---- MONO and LEGATO: voice 0 plays the top key ---- */

static int key_find(kn_voices *s, int note, int channel) {
    for (int i = 0; i < nkeys(s); i++)
        if (s->key[i].note == note && s->key[i].channel == channel) return i;
    return -1;
}

static void key_remove(kn_voices *s, int at) {
    for (int i = at; i + 1 < s->keys; i++) s->key[i] = s->key[i + 1];
    s->keys--;
}

/* After the keys changed: voice 0 plays the top key (restarting if asked,
 * or if it had ended), or is let go when none is left. */
static void mono_follow(kn_voices *s, int restart) {
    kn_voice *v = &s->v[0];
    if (!s->keys) {
        step(v, IN_OFF);
        return;
    }
    const kn_voices_key *top = &s->key[s->keys - 1];
    if (restart || v->state != KN_VOICE_HELD) {
        start(s, 0, top->note, top->velocity, top->channel);
        return;
    }
    v->note = top->note, v->velocity = top->velocity, v->channel = top->channel; /* legato */
}

static int mono_on(kn_voices *s, int note, int velocity, int channel) {
    int down = nkeys(s) > 0, at = key_find(s, note, channel);
    if (at >= 0) key_remove(s, at);
    if (s->keys == KN_VOICES_KEYS) key_remove(s, 0); /* forget the oldest */
    s->key[s->keys++] = (kn_voices_key){.note = note, .velocity = velocity, .channel = channel};
    mono_follow(s, s->mode == KN_VOICES_MONO || !down);
    return 0;
}

static void mono_off(kn_voices *s, int note, int channel) {
    int at = key_find(s, note, channel);
    if (at < 0) return;
    if (s->pedal) {
        s->key[at].sustained = 1;
        return;
    }
    int top = at == s->keys - 1;
    key_remove(s, at);
    if (top) mono_follow(s, s->mode == KN_VOICES_MONO);
}

/* The pedal is up, or all notes off with it up: drop the keys it held. */
static void mono_drop(kn_voices *s, int all) {
    int before = nkeys(s), kept = 0;
    const kn_voices_key old = s->keys ? s->key[s->keys - 1] : (kn_voices_key){0};
    for (int i = 0; i < before; i++)
        if (!all && !s->key[i].sustained) s->key[kept++] = s->key[i];
    s->keys = kept;
    if (!before) return;
    int same = kept && s->key[kept - 1].note == old.note && s->key[kept - 1].channel == old.channel;
    if (!same) mono_follow(s, s->mode == KN_VOICES_MONO);
}

/* ---- events ---- */

int kn_voices_note_on(kn_voices *s, int note, int velocity, int channel) {
    if (velocity <= 0) {
        kn_voices_note_off(s, note, channel);
        return -1;
    }
    velocity = clampi(velocity, 1, 127);
    if (s->mode != KN_VOICES_POLY) return mono_on(s, note, velocity, channel);
    int i = sounding(s, note, channel, 0);
    if (i < 0) i = pick(s);
    start(s, i, note, velocity, channel);
    return i;
}

void kn_voices_note_off(kn_voices *s, int note, int channel) {
    if (s->mode != KN_VOICES_POLY) {
        mono_off(s, note, channel);
        return;
    }
    int i = sounding(s, note, channel, 1);
    if (i >= 0) step(&s->v[i], s->pedal ? IN_OFF_PEDAL : IN_OFF);
}

void kn_voices_pedal(kn_voices *s, int down) {
    s->pedal = down != 0;
    if (s->pedal) return;
    if (s->mode != KN_VOICES_POLY) {
        mono_drop(s, 0);
        return;
    }
    for (int i = 0; i < nvoices(s); i++) step(&s->v[i], IN_PEDAL_UP);
}

void kn_voices_all_notes_off(kn_voices *s) {
    if (s->mode != KN_VOICES_POLY) {
        if (s->pedal)
            for (int i = 0; i < nkeys(s); i++) s->key[i].sustained = 1;
        else
            mono_drop(s, 1);
        return;
    }
    for (int i = 0; i < nvoices(s); i++)
        if (s->v[i].state == KN_VOICE_HELD) step(&s->v[i], s->pedal ? IN_OFF_PEDAL : IN_OFF);
}

static void all_sound_off(kn_voices *s) {
    for (int i = 0; i < KN_VOICES_MAX; i++) step(&s->v[i], IN_KILL);
    s->keys = 0;
}

int kn_voices_event(kn_voices *s, const kn_event *e) {
    switch (e->type) {
    case KN_EV_NOTE_ON: return kn_voices_note_on(s, e->note, e->velocity, e->channel);
    case KN_EV_NOTE_OFF: kn_voices_note_off(s, e->note, e->channel); return -1;
    case KN_EV_CC:
        if (e->control == 64) kn_voices_pedal(s, e->value >= 64);
        if (e->control == 123) kn_voices_all_notes_off(s);
        if (e->control == 120) all_sound_off(s);
        return -1;
    default: return -1;
    }
}

/* ---- per voice ---- */

static const kn_voice *voice(const kn_voices *s, int v) {
    static const kn_voice none; /* FREE */
    return v >= 0 && v < KN_VOICES_MAX ? &s->v[v] : &none;
}

int kn_voices_state(const kn_voices *s, int v) {
    return voice(s, v)->state;
}
int kn_voices_active(const kn_voices *s, int v) {
    return voice(s, v)->state != KN_VOICE_FREE;
}
int kn_voices_gate(const kn_voices *s, int v) {
    int st = voice(s, v)->state;
    return st == KN_VOICE_HELD || st == KN_VOICE_SUSTAINED;
}
int kn_voices_note(const kn_voices *s, int v) {
    return voice(s, v)->note;
}
int kn_voices_velocity(const kn_voices *s, int v) {
    return voice(s, v)->velocity;
}

int kn_voices_started(kn_voices *s, int v) {
    if (v < 0 || v >= KN_VOICES_MAX || !s->v[v].started) return 0;
    s->v[v].started = 0;
    return 1;
}

void kn_voices_level(kn_voices *s, int v, float level) {
    if (v < 0 || v >= KN_VOICES_MAX) return;
    s->v[v].level = level;
    if (!(level >= s->threshold)) step(&s->v[v], IN_SILENT); /* NaN counts as silent */
}

void kn_voices_free(kn_voices *s, int v) {
    if (v >= 0 && v < KN_VOICES_MAX) step(&s->v[v], IN_KILL);
}

int kn_voices_playing(const kn_voices *s) {
    int n = 0;
    for (int i = 0; i < KN_VOICES_MAX; i++) n += s->v[i].state != KN_VOICE_FREE;
    return n;
}

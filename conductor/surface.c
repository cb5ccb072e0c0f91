/*
 * surface.c - hardware-style control surfaces over OSC (`kanon map load`).
 *
 * A map (JSON, see docs/control-surfaces.md) names a controller's OSC
 * addresses: rotary knobs (with push), push buttons, a main knob, a page
 * knob and module switches, each with optional `value` and `display`
 * feedback addresses on the controller (sent to the map's reply host and
 * port). Pages bind the knobs, buttons and main knob to targets:
 *
 *   "freq"          a parameter of the selected module's deck
 *   "bass.cutoff"   a parameter of a named deck
 *   "gain" "pan" "mute" "solo", "bass.gain", "master.gain"   the mixer
 *
 * A knob's 0..1 maps onto the target's range, linearly or logarithmically;
 * its push resets the default. A button toggles (mute/solo, or a parameter
 * between its min and max), or, "momentary", goes to max on press and back
 * to min on release (a gate). The page knob picks the page and the module
 * switches pick the deck; both refresh every display, and each switch shows
 * its deck and the deck's state. Whatever changes a bound value (this
 * surface, the CLI, a glide) is sent back as value (0..1) and display text
 * ("cutoff 1.20 kHz") on the next tick.
 *
 * Layers. Every page has a normal and a shift layer; while the map's shift
 * button is held, each control acts through its shift binding, falling
 * back to its normal one when it has none.
 *
 * Declared bindings. A deck's code may put a knob on a control itself
 * (kn_bind(p, "knob 3"): the parameter slot's `bind`, kanon_shm.h). A
 * control takes, in this order: the page's binding for the layer, the
 * declared binding for the layer (the selected module's deck first, then
 * the other decks in slot order; within a deck the lowest slot), and the
 * same two for the normal layer. So a map overrides what the code declares,
 * and with no map at all a built-in surface (addresses /surface/...,
 * without feedback: it has no reply address) plays the declared bindings.
 *
 * MIDI controls. Any control of a map may be a MIDI controller's instead
 * of (or as well as) an OSC address: "midi": {"cc": N} or {"note": N},
 * with "channel" 1..16 and "from" (a MIDI input port) to narrow it. A CC
 * moves a knob, the main knob or the page knob over 0..127 as OSC's 0..1,
 * and presses a button, the shift or a module switch while it is above 0;
 * a note presses while it is down. Every MIDI message passes here
 * (kn_surface_midi, from the conductor's MIDI dispatch); feedback stays
 * OSC's.
 */
#include "conductor.h"

#include <errno.h>
#include "midi.h"
#include "osc.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <lo/lo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KNOBS   KN_BIND_MAX /* kn_bind's "knob N" and "button N" reach them all */
#define MAX_BUTTONS KN_BIND_MAX
#define MAX_PAGES   16
#define MAX_MODULES 16
#define ADDR        128

enum { MIDI_NONE, MIDI_CC, MIDI_NOTE };

typedef struct control {
    char in[ADDR], push[ADDR], value[ADDR], display[ADDR];
    int midi, midi_num, midi_ch, midi_port; /* MIDI_*; channel and port -1: any */
} control;

/* What a control is, for acting on it whichever way it moved. */
enum {
    CTL_KNOB,
    CTL_KNOB_PUSH,
    CTL_BUTTON,
    CTL_MAIN,
    CTL_MAIN_PUSH,
    CTL_SHIFT,
    CTL_PAGE,
    CTL_MODULE
};

typedef struct binding {
    char target[64]; /* "" = unbound */
    int log;         /* logarithmic scale */
    int momentary;   /* a button: max on press, min on release */
} binding;

enum { LAYER_NORMAL, LAYER_SHIFT, LAYERS };

typedef struct layer {
    binding knob[MAX_KNOBS], button[MAX_BUTTONS], main;
} layer;

typedef struct page {
    char name[32];
    layer layer[LAYERS];
} page;

typedef struct surface {
    int loaded;  /* a map (or the built-in surface) is in force */
    int builtin; /* the built-in surface: no map loaded */
    char name[64];
    struct sockaddr_in reply; /* port 0: no feedback */
    control knob[MAX_KNOBS], button[MAX_BUTTONS], main, page_knob, shift;
    int nknobs, nbuttons;
    control module[MAX_MODULES];
    char module_deck[MAX_MODULES][KN_NAME_MAX];
    int nmodules, module_sel;
    page pages[MAX_PAGES];
    int npages, page_sel;
    int shifted;               /* the shift button is held */
    binding held[MAX_BUTTONS]; /* what a held momentary button pressed */
    /* What each control last showed (knobs, buttons, main): its value and
     * its target, so that a binding that moves to another deck or goes
     * away (a deck stopped) is shown even when the value is the same. */
    struct shown {
        double value;
        char target[64]; /* "" = nothing (or "-") */
    } sent[MAX_KNOBS + MAX_BUTTONS + 1];
    char module_sent[MAX_MODULES][64]; /* last text sent to each module display */
    layer declared[LAYERS];            /* the decks' kn_bind, as last scanned */
} surface;

static surface S;

/* A resolved target: where its value lives and its range. */
typedef struct target {
    kn_deck *deck;
    kn_param_slot *slot;     /* a parameter, or NULL for the mixer */
    char field[KN_NAME_MAX]; /* mixer field: gain, pan, mute, solo */
    int master;
    char label[KN_NAME_MAX];
    double min, max, def, value;
} target;

/* ---------------------------------------------------------- resolving */

static const char *module_deck(kn_conductor *c) {
    if (S.nmodules) return S.module_deck[S.module_sel];
    for (int i = 0; i < KN_MAX_DECKS; i++) /* no modules: the first deck */
        if (c->deck[i].used && c->deck[i].name[0]) return c->deck[i].name;
    return "";
}

static int resolve(kn_conductor *c, const char *spec, target *t) {
    memset(t, 0, sizeof *t);
    if (!spec[0]) return -EINVAL;
    char deck[KN_NAME_MAX], name[KN_NAME_MAX];
    const char *dot = strchr(spec, '.');
    if (dot) {
        snprintf(deck, sizeof deck, "%.*s", (int)(dot - spec), spec);
        snprintf(name, sizeof name, "%s", dot + 1);
    } else {
        snprintf(deck, sizeof deck, "%s", module_deck(c));
        snprintf(name, sizeof name, "%s", spec);
    }
    /* the display names the deck only when the binding does */
    snprintf(t->label, sizeof t->label, "%.*s", (int)sizeof t->label - 1, dot ? spec : name);
    if (!strcmp(deck, "master")) {
        if (strcmp(name, "gain")) return -EINVAL;
        t->master = 1;
        snprintf(t->field, sizeof t->field, "gain");
        t->min = -60, t->max = 6, t->def = 0, t->value = c->master_db;
        return 0;
    }
    t->deck = kn_deck_find(c, deck);
    if (!t->deck) return -EINVAL;
    kn_deck *d = t->deck;
    if (!strcmp(name, "gain"))
        t->min = -60, t->max = 6, t->def = 0, t->value = d->gain_db;
    else if (!strcmp(name, "pan"))
        t->min = -1, t->max = 1, t->def = 0, t->value = d->pan;
    else if (!strcmp(name, "mute"))
        t->min = 0, t->max = 1, t->def = 0, t->value = d->mute;
    else if (!strcmp(name, "solo"))
        t->min = 0, t->max = 1, t->def = 0, t->value = d->solo;
    else {
        t->slot = kn_param_find(d, name);
        if (!t->slot) return -EINVAL;
        t->min = kn_bitsd(atomic_load(&t->slot->min));
        t->max = kn_bitsd(atomic_load(&t->slot->max));
        t->def = kn_bitsd(atomic_load(&t->slot->def));
        t->value = kn_bitsd(atomic_load(&t->slot->current));
        return isfinite(t->min) && isfinite(t->max) ? 0 : -1;
    }
    snprintf(t->field, sizeof t->field, "%s", name);
    return 0;
}

static double to_unit(const target *t, double v, int log_scale) {
    if (t->max <= t->min) return 0;
    if (log_scale && t->min > 0) return log(v / t->min) / log(t->max / t->min);
    return (v - t->min) / (t->max - t->min);
}

static double from_unit(const target *t, double x, int log_scale) {
    x = x < 0 ? 0 : x > 1 ? 1 : x;
    if (log_scale && t->min > 0) return t->min * pow(t->max / t->min, x);
    return t->min + x * (t->max - t->min);
}

static void apply(kn_conductor *c, const target *t, double v) {
    if (t->slot) {
        kn_param_store(t->slot, v, 0);
        return;
    }
    kn_osc_set(t->master ? "master" : t->deck->name, t->field, v);
    (void)c;
}

/* "cutoff 1.20 kHz", "gain -6.0 dB", "mute on", "q 0.707" */
static void display_text(const target *t, char *out, size_t n) {
    double v = t->value;
    if (!strcmp(t->field, "gain"))
        snprintf(out, n, "%s %.1f dB", t->label, v);
    else if (!strcmp(t->field, "mute") || !strcmp(t->field, "solo"))
        snprintf(out, n, "%s %s", t->label, v != 0 ? "on" : "off");
    else if (t->slot && t->min > 0 && t->max >= 1000) /* a frequency range */
        v >= 1000 ? snprintf(out, n, "%s %.2f kHz", t->label, v / 1000)
                  : snprintf(out, n, "%s %.0f Hz", t->label, v);
    else
        snprintf(out, n, "%s %.3g", t->label, v);
}

/* ------------------------------------------------------------ bindings */

/* The control of `kind` (KN_BIND_*) number i (from 0) in a layer. */
static binding *layer_get(layer *l, int kind, int i) {
    return kind == KN_BIND_KNOB ? &l->knob[i] : kind == KN_BIND_BUTTON ? &l->button[i] : &l->main;
}

/* Whether the deck's producing cartridge (or its successor, which
 * declares while the producer plays on) declared the slot: a knob of an
 * older version, or one a preset made, keeps no binding. */
static int declared_now(const kn_deck *d, const kn_param_slot *sl) {
    uint32_t by = atomic_load_explicit(&sl->declared_by, memory_order_relaxed);
    return by && (by == d->cur.id || by == d->next.id);
}

/* Adds one deck's kn_bind bindings to the table, where it is still free. */
static void declared_add(kn_deck *d) {
    uint32_t n = atomic_load_explicit(&d->params->count, memory_order_acquire);
    for (uint32_t i = 0; i < n && i < KN_MAX_PARAMS; i++) {
        kn_param_slot *sl = &d->params->slot[i];
        uint32_t code = atomic_load_explicit(&sl->bind, memory_order_relaxed);
        int kind = (int)KN_BIND_KIND(code), num = (int)KN_BIND_NUM(code);
        if (!code || !kind || !declared_now(d, sl)) continue;
        /* never trusted: a number outside the surface is ignored */
        if (kind == KN_BIND_MAIN ? num != 0 : num < 1 || num > KN_BIND_MAX) continue;
        binding *b = layer_get(&S.declared[code & KN_BIND_SHIFT ? LAYER_SHIFT : LAYER_NORMAL], kind,
                               kind == KN_BIND_MAIN ? 0 : num - 1);
        if (b->target[0]) continue; /* an earlier deck or slot has it */
        char name[KN_NAME_MAX];
        memcpy(name, sl->name, sizeof name); /* one read of shared bytes */
        name[KN_NAME_MAX - 1] = 0;
        if (!name[0]) continue;
        snprintf(b->target, sizeof b->target, "%s.%s", d->name, name);
        b->log = !!(code & KN_BIND_LOG);
        b->momentary = !!(code & KN_BIND_MOMENTARY);
    }
}

/* Rebuilds S.declared from every deck's slots: the selected module's deck
 * first, so it wins a control that several decks bind. Bounded by the
 * declared knobs (at most KN_MAX_DECKS * KN_MAX_PARAMS slot reads). */
static void declared_scan(kn_conductor *c) {
    memset(S.declared, 0, sizeof S.declared);
    kn_deck *sel = kn_deck_find(c, module_deck(c));
    if (sel && sel->params) declared_add(sel);
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (d != sel && d->used && d->name[0] && d->params) declared_add(d);
    }
}

/* What control `kind` number i does now: the page's binding for the
 * current layer, else the declared one, then the same for the normal
 * layer. NULL: unbound. */
static const binding *binding_for(int kind, int i) {
    page *p = &S.pages[S.page_sel];
    for (int l = S.shifted ? LAYER_SHIFT : LAYER_NORMAL; l >= 0; l--) {
        const binding *b = layer_get(&p->layer[l], kind, i);
        if (b->target[0]) return b;
        b = layer_get(&S.declared[l], kind, i);
        if (b->target[0]) return b;
    }
    return NULL;
}

/* kn_bind's words for a slot's code ("shift knob 3 log"); "" for none or
 * a code that names no control. */
void kn_surface_bind_name(uint32_t code, char *out, size_t n) {
    int kind = (int)KN_BIND_KIND(code), num = (int)KN_BIND_NUM(code);
    static const char *const kinds[] = {"", "knob", "button", "main"};
    if (!code || !kind || (kind == KN_BIND_MAIN ? num != 0 : num < 1 || num > KN_BIND_MAX)) {
        snprintf(out, n, "%s", "");
        return;
    }
    char number[8] = "";
    if (kind != KN_BIND_MAIN) snprintf(number, sizeof number, " %d", num);
    snprintf(out, n, "%s%s%s%s%s", code & KN_BIND_SHIFT ? "shift " : "", kinds[kind], number,
             code & KN_BIND_LOG ? " log" : "", code & KN_BIND_MOMENTARY ? " momentary" : "");
}

/* ------------------------------------------------------------ feedback */

static void send_float(const char *addr, double v) {
    if (!addr[0] || !S.reply.sin_port) return;
    lo_message m = lo_message_new();
    lo_message_add_float(m, (float)v);
    kn_osc_send(&S.reply, addr, m);
}

static void send_text(const char *addr, const char *s) {
    if (!addr[0] || !S.reply.sin_port) return;
    lo_message m = lo_message_new();
    lo_message_add_string(m, s);
    kn_osc_send(&S.reply, addr, m);
}

/* Sends one control's value and display if it or its target changed (or
 * if forced); "-" when it has no target or the target does not resolve. */
static void refresh_control(kn_conductor *c, const control *ctl, const binding *b,
                            struct shown *sent, int force) {
    target t;
    if (!b || resolve(c, b->target, &t)) {
        if (force || sent->target[0]) send_text(ctl->display, "-");
        sent->value = NAN;
        sent->target[0] = 0;
        return;
    }
    if (!force && t.value == sent->value && !strcmp(b->target, sent->target)) return;
    sent->value = t.value;
    snprintf(sent->target, sizeof sent->target, "%s", b->target);
    send_float(ctl->value, to_unit(&t, t.value, b->log));
    char text[96];
    display_text(&t, text, sizeof text);
    send_text(ctl->display, text);
}

/* "pad playing", "pad muted", "pad off" (no such deck): a module switch's
 * display; its value is 1 while it is the selected one. */
static void refresh_module(kn_conductor *c, int i, int force) {
    char text[64];
    kn_deck *d = kn_deck_find(c, S.module_deck[i]);
    const char *st = !d ? "off" : d->mute && d->hs == KN_HS_PLAYING ? "muted" : kn_hs_name(d->hs);
    snprintf(text, sizeof text, "%s %s", S.module_deck[i], st);
    if (!force && !strcmp(text, S.module_sent[i])) return;
    snprintf(S.module_sent[i], sizeof S.module_sent[i], "%s", text);
    send_float(S.module[i].value, i == S.module_sel);
    send_text(S.module[i].display, text);
}

static void refresh_all(kn_conductor *c, int force) {
    if (!S.loaded || !S.npages || !S.reply.sin_port) return;
    declared_scan(c);
    for (int i = 0; i < S.nknobs; i++)
        refresh_control(c, &S.knob[i], binding_for(KN_BIND_KNOB, i), &S.sent[i], force);
    for (int i = 0; i < S.nbuttons; i++)
        refresh_control(c, &S.button[i], binding_for(KN_BIND_BUTTON, i), &S.sent[MAX_KNOBS + i],
                        force);
    refresh_control(c, &S.main, binding_for(KN_BIND_MAIN, 0), &S.sent[MAX_KNOBS + MAX_BUTTONS],
                    force);
    for (int i = 0; i < S.nmodules; i++) refresh_module(c, i, force);
    if (force) {
        page *p = &S.pages[S.page_sel];
        char text[96];
        snprintf(text, sizeof text, "%s%s%s", p->name, S.nmodules ? " / " : "",
                 S.nmodules ? S.module_deck[S.module_sel] : "");
        send_text(S.page_knob.display, text);
        send_float(S.shift.value, S.shifted);
        send_text(S.shift.display, S.shifted ? "shift" : "");
    }
}

void kn_surface_tick(kn_conductor *c) {
    refresh_all(c, 0);
}

/* ------------------------------------------------------------- input */

static int num(const char *types, lo_arg **argv, int argc, double *v) {
    if (argc < 1) return -EINVAL;
    if (types[0] == 'f')
        *v = kn_arg_f(argv[0]);
    else if (types[0] == 'i')
        *v = kn_arg_i(argv[0]);
    else if (types[0] == 'd')
        *v = kn_arg_d(argv[0]);
    else
        return -EINVAL;
    return isfinite(*v) ? 0 : -1;
}

static void turn(kn_conductor *c, const binding *b, double x) {
    target t;
    if (b && !resolve(c, b->target, &t)) apply(c, &t, from_unit(&t, x, b->log));
}

/* What a press or release does to its target. */
enum press_to { TO_DEFAULT, TO_TOGGLE, TO_MAX, TO_MIN };

static void press(kn_conductor *c, const binding *b, enum press_to to) {
    target t;
    if (!b || resolve(c, b->target, &t)) return;
    double v = to == TO_DEFAULT ? t.def
               : to == TO_MAX   ? t.max
               : to == TO_MIN   ? t.min
                                : (t.value > (t.min + t.max) / 2 ? t.min : t.max);
    apply(c, &t, v);
}

/* What a control that just moved is bound to: the declarations as they
 * stand now (scanned only for a control of this surface: not for every
 * OSC message that passes by). */
static const binding *bound(kn_conductor *c, int kind, int i) {
    declared_scan(c);
    return binding_for(kind, i);
}

/* Button i: a toggle acts on press; a momentary one goes to max on press
 * and back to min on release, on the target it pressed (a page or layer
 * change in between does not strand a gate open). */
static void button(kn_conductor *c, int i, int down) {
    if (!down) {
        if (S.held[i].target[0]) press(c, &S.held[i], TO_MIN);
        S.held[i].target[0] = 0;
        return;
    }
    const binding *b = bound(c, KN_BIND_BUTTON, i);
    if (b && b->momentary) S.held[i] = *b;
    press(c, b, b && b->momentary ? TO_MAX : TO_TOGGLE);
}

/* The built-in surface, in force while no map is loaded: every control at
 * /surface/..., one page with no bindings of its own (so the decks'
 * kn_bind bindings play), no feedback. */
static void builtin_init(void) {
    memset(&S, 0, sizeof S);
    S.loaded = S.builtin = 1;
    snprintf(S.name, sizeof S.name, "built-in");
    S.nknobs = MAX_KNOBS;
    S.nbuttons = MAX_BUTTONS;
    for (int i = 0; i < MAX_KNOBS; i++) {
        snprintf(S.knob[i].in, ADDR, "/surface/knob/%d", i + 1);
        snprintf(S.knob[i].push, ADDR, "/surface/knob/%d/push", i + 1);
    }
    for (int i = 0; i < MAX_BUTTONS; i++)
        snprintf(S.button[i].in, ADDR, "/surface/button/%d", i + 1);
    snprintf(S.main.in, ADDR, "/surface/main");
    snprintf(S.main.push, ADDR, "/surface/main/push");
    snprintf(S.shift.in, ADDR, "/surface/shift");
    S.npages = 1;
    snprintf(S.pages[0].name, sizeof S.pages[0].name, "declared");
}

/* One control moved: a number (isnum, v: 0..1 for a knob, or a page's
 * index with `page_index`) or a press (down) or release. */
static void act(kn_conductor *c, int what, int i, int isnum, double v, int down, int page_index) {
    switch (what) {
    case CTL_KNOB:
        if (isnum) turn(c, bound(c, KN_BIND_KNOB, i), v);
        break;
    case CTL_KNOB_PUSH:
        if (down) press(c, bound(c, KN_BIND_KNOB, i), TO_DEFAULT);
        break;
    case CTL_BUTTON: button(c, i, down); break;
    case CTL_MAIN:
        if (isnum) turn(c, bound(c, KN_BIND_MAIN, 0), v);
        break;
    case CTL_MAIN_PUSH:
        if (down) press(c, bound(c, KN_BIND_MAIN, 0), TO_DEFAULT); /* resets the default */
        break;
    case CTL_SHIFT: {
        int held = isnum ? v != 0 : !S.shifted; /* held while down; no number: a latch */
        if (held != S.shifted) {
            S.shifted = held;
            refresh_all(c, 1);
        }
        break;
    }
    case CTL_PAGE:
        if (isnum) {
            double x = page_index ? v : floor(v * S.npages); /* clamp before any cast */
            S.page_sel = x < 0 ? 0 : x >= S.npages ? S.npages - 1 : (int)x;
            refresh_all(c, 1);
        }
        break;
    case CTL_MODULE:
        if (down) {
            S.module_sel = i;
            refresh_all(c, 1);
        }
        break;
    }
}

int kn_surface_handle(kn_conductor *c, const char *path, const char *types, lo_arg **argv,
                      int argc) {
    if (!S.loaded) builtin_init();
    if (S.builtin && strncmp(path, "/surface/", 9)) return 0; /* the usual case: not ours */
    if (!S.npages) return 0;
    double v = 0;
    int isnum = !num(types, argv, argc, &v), pidx = isnum && types[0] == 'i';
    int down = !isnum || v != 0; /* a 0 is a release; no number, a press */
#define ON(addr) ((addr)[0] && !strcmp(path, (addr)))
    for (int i = 0; i < S.nknobs; i++) {
        if (ON(S.knob[i].in)) return act(c, CTL_KNOB, i, isnum, v, down, 0), 1;
        if (ON(S.knob[i].push)) return act(c, CTL_KNOB_PUSH, i, isnum, v, down, 0), 1;
    }
    for (int i = 0; i < S.nbuttons; i++)
        if (ON(S.button[i].in)) return act(c, CTL_BUTTON, i, isnum, v, down, 0), 1;
    if (ON(S.main.in)) return act(c, CTL_MAIN, 0, isnum, v, down, 0), 1;
    if (ON(S.main.push)) return act(c, CTL_MAIN_PUSH, 0, isnum, v, down, 0), 1;
    if (ON(S.shift.in)) return act(c, CTL_SHIFT, 0, isnum, v, down, 0), 1;
    if (ON(S.page_knob.in)) return act(c, CTL_PAGE, 0, isnum, v, down, pidx), 1;
    for (int i = 0; i < S.nmodules; i++)
        if (ON(S.module[i].in)) return act(c, CTL_MODULE, i, isnum, v, down, 0), 1;
#undef ON
    return 0;
}

/* Whether a MIDI message moves control `ctl`: *v its 0..1 (a CC), *down
 * pressed or not. */
static int midi_match(const control *ctl, int port, int st, int d1, int d2, double *v, int *down) {
    int kind = st & 0xf0, ch = st & 0x0f;
    if (!ctl->midi || (ctl->midi_ch >= 0 && ctl->midi_ch != ch) ||
        (ctl->midi_port >= 0 && ctl->midi_port != port) || d1 != ctl->midi_num)
        return 0;
    if (ctl->midi == MIDI_CC && kind == 0xb0) {
        *v = d2 / 127.0;
        *down = d2 > 0;
        return 1;
    }
    if (ctl->midi == MIDI_NOTE && (kind == 0x90 || kind == 0x80)) {
        *down = kind == 0x90 && d2 > 0;
        *v = *down;
        return 1;
    }
    return 0;
}

int kn_surface_midi(kn_conductor *c, int port, int st, int d1, int d2) {
    if (!S.loaded || S.builtin || !S.npages) return 0;
    double v = 0;
    int down = 0, hit = 0;
#define MIDI(ctl, what, i)                                                                         \
    if (midi_match(&(ctl), port, st, d1, d2, &v, &down)) {                                         \
        act(c, what, i, (ctl).midi == MIDI_CC, v, down, 0);                                        \
        hit = 1;                                                                                   \
    }
    for (int i = 0; i < S.nknobs; i++) MIDI(S.knob[i], CTL_KNOB, i)
    for (int i = 0; i < S.nbuttons; i++) MIDI(S.button[i], CTL_BUTTON, i)
    MIDI(S.main, CTL_MAIN, 0)
    MIDI(S.shift, CTL_SHIFT, 0)
    MIDI(S.page_knob, CTL_PAGE, 0)
    for (int i = 0; i < S.nmodules; i++) MIDI(S.module[i], CTL_MODULE, i)
#undef MIDI
    return hit;
}

/* --------------------------------------------------------------- load */

static int copy_str(const cJSON *o, const char *key, char *out, size_t n) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    if (!s) return 0;
    if (strlen(s) >= n) return -EINVAL;
    snprintf(out, n, "%s", s);
    return 1;
}

/* A control's "midi": {"cc": N | "note": N, "channel": 1..16, "from": PORT}. */
static int load_midi(kn_conductor *c, const cJSON *o, control *ctl, const char *what, char *err,
                     size_t n) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "midi");
    ctl->midi_ch = ctl->midi_port = -1;
    if (!m) return 0;
    const cJSON *cc = cJSON_GetObjectItemCaseSensitive(m, "cc");
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(m, "note");
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(m, "channel");
    const char *from = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "from"));
    const cJSON *num = cc ? cc : note;
    if (!cJSON_IsObject(m) || !!cc == !!note || !cJSON_IsNumber(num) || num->valueint < 0 ||
        num->valueint > 127 || num->valuedouble != num->valueint ||
        (ch && (!cJSON_IsNumber(ch) || ch->valueint < 1 || ch->valueint > 16))) {
        snprintf(err, n,
                 "%s: \"midi\" is {\"cc\": 0..127} or {\"note\": 0..127}, with \"channel\" "
                 "1..16 and \"from\" (a MIDI input port) if it must be only those",
                 what);
        return -EINVAL;
    }
    if (from && kn_midi_port_parse(from, kn_midi_ports(c), &ctl->midi_port, err, n)) return -EINVAL;
    ctl->midi = cc ? MIDI_CC : MIDI_NOTE;
    ctl->midi_num = num->valueint;
    if (ch) ctl->midi_ch = ch->valueint - 1;
    return 0;
}

static int load_control(kn_conductor *c, const cJSON *o, control *ctl, const char *what, char *err,
                        size_t n) {
    if (!cJSON_IsObject(o) || load_midi(c, o, ctl, what, err, n)) {
        if (!cJSON_IsObject(o)) snprintf(err, n, "%s: each is an object {\"in\": ...}", what);
        return -EINVAL;
    }
    int has_in = copy_str(o, "in", ctl->in, ADDR);
    if (has_in < 0 || (has_in && ctl->in[0] != '/') || (!has_in && !ctl->midi)) {
        snprintf(err, n,
                 "%s needs \"in\": an OSC address starting with /, or \"midi\": a MIDI "
                 "controller",
                 what);
        return -EINVAL;
    }
    if (copy_str(o, "push", ctl->push, ADDR) < 0 || copy_str(o, "value", ctl->value, ADDR) < 0 ||
        copy_str(o, "display", ctl->display, ADDR) < 0) {
        snprintf(err, n, "%s: an address is too long", what);
        return -EINVAL;
    }
    return 0;
}

static int load_binding(const cJSON *o, binding *b) {
    if (!o || cJSON_IsNull(o)) return 0;
    if (cJSON_IsString(o)) { /* shorthand: "freq" means {"target": "freq"} */
        if (strlen(o->valuestring) >= sizeof b->target) return -EINVAL;
        snprintf(b->target, sizeof b->target, "%s", o->valuestring);
        return 0;
    }
    if (copy_str(o, "target", b->target, sizeof b->target) != 1) return -EINVAL;
    const char *sc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "scale"));
    b->log = sc && !strcmp(sc, "log");
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(o, "mode");
    const char *md = cJSON_GetStringValue(mode);
    if (mode && (!md || (strcmp(md, "toggle") && strcmp(md, "momentary")))) return -EINVAL;
    b->momentary = md && !strcmp(md, "momentary");
    return 0;
}

static int load_controls(kn_conductor *c, const cJSON *arr, control *out, int max, const char *what,
                         char *err, size_t n) {
    int k = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr) {
        if (k == max) {
            snprintf(err, n, "at most %d %s", max, what);
            return -EINVAL;
        }
        if (load_control(c, o, &out[k], what, err, n)) return -EINVAL;
        k++;
    }
    return k;
}

static int load_layer(const cJSON *o, layer *l) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "knobs"), *b;
    int k = 0;
    cJSON_ArrayForEach(b, arr) if (k < MAX_KNOBS && load_binding(b, &l->knob[k++])) return -EINVAL;
    k = 0;
    arr = cJSON_GetObjectItemCaseSensitive(o, "buttons");
    cJSON_ArrayForEach(b,
                       arr) if (k < MAX_BUTTONS && load_binding(b, &l->button[k++])) return -EINVAL;
    return load_binding(cJSON_GetObjectItemCaseSensitive(o, "main"), &l->main);
}

static int load_page(const cJSON *o, page *p, char *err, size_t n) {
    copy_str(o, "name", p->name, sizeof p->name);
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(o, "shift");
    if (sh && !cJSON_IsObject(sh)) {
        snprintf(err, n, "page '%s': \"shift\" is an object like a page: {\"knobs\": [...], ...}",
                 p->name);
        return -EINVAL;
    }
    if (load_layer(o, &p->layer[LAYER_NORMAL]) || (sh && load_layer(sh, &p->layer[LAYER_SHIFT]))) {
        snprintf(err, n,
                 "page '%s': a binding needs \"target\" (e.g. \"freq\", \"bass.cutoff\", "
                 "\"master.gain\"), and its \"mode\" is \"toggle\" or \"momentary\"",
                 p->name);
        return -EINVAL;
    }
    return 0;
}

/* The map in force as it was loaded (for `map`, session files): its
 * JSON and the file it came from. */
static cJSON *loaded_json;
static char loaded_path[4096];

cJSON *kn_surface_json(void) {
    if (!loaded_json) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", loaded_path);
    cJSON_AddItemToObject(o, "content", cJSON_Duplicate(loaded_json, 1));
    return o;
}

int kn_surface_load(kn_conductor *c, const char *path, char *err, size_t n) {
    return kn_surface_load_as(c, path, path, 0, err, n);
}

int kn_surface_load_as(kn_conductor *c, const char *path, const char *origin, int check_only,
                       char *err, size_t n) {
    FILE *f = kn_open_regular(path); /* never a FIFO: the event loop must not block */
    if (!f) {
        snprintf(err, n, "cannot read %s: %m", path);
        return -EINVAL;
    }
    static char text[1 << 18];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = 0;
    cJSON *m = cJSON_Parse(text);
    if (!m) {
        snprintf(err, n, "%s is not valid JSON (near byte %ld)", path,
                 (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - text : 0));
        return -EINVAL;
    }
    surface s;
    memset(&s, 0, sizeof s);
    int rc = -1;
    const cJSON *reply = cJSON_GetObjectItemCaseSensitive(m, "reply");
    const char *host = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply, "host"));
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(reply, "port");
    s.reply.sin_family = AF_INET;
    if (!cJSON_IsNumber(port) || port->valueint <= 0 || port->valueint > 65535 ||
        inet_pton(AF_INET, host ? host : "127.0.0.1", &s.reply.sin_addr) != 1) {
        snprintf(err, n, "\"reply\" needs {\"host\": IPv4 address, \"port\": 1..65535}");
        goto out;
    }
    s.reply.sin_port = htons((uint16_t)port->valueint);
    copy_str(m, "name", s.name, sizeof s.name);
    if ((s.nknobs = load_controls(c, cJSON_GetObjectItemCaseSensitive(m, "knobs"), s.knob,
                                  MAX_KNOBS, "knobs", err, n)) < 0 ||
        (s.nbuttons = load_controls(c, cJSON_GetObjectItemCaseSensitive(m, "buttons"), s.button,
                                    MAX_BUTTONS, "buttons", err, n)) < 0)
        goto out;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(m, "main");
    if (o && load_control(c, o, &s.main, "main", err, n)) goto out;
    o = cJSON_GetObjectItemCaseSensitive(m, "page");
    if (o && load_control(c, o, &s.page_knob, "page", err, n)) goto out;
    o = cJSON_GetObjectItemCaseSensitive(m, "shift");
    if (o && load_control(c, o, &s.shift, "shift", err, n)) goto out;
    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(m, "modules");
    cJSON_ArrayForEach(o, mods) {
        if (s.nmodules == MAX_MODULES ||
            load_control(c, o, &s.module[s.nmodules], "modules", err, n))
            goto out;
        if (copy_str(o, "deck", s.module_deck[s.nmodules], KN_NAME_MAX) != 1) {
            snprintf(err, n, "each module needs \"deck\": the deck it selects");
            goto out;
        }
        s.nmodules++;
    }
    const cJSON *pages = cJSON_GetObjectItemCaseSensitive(m, "pages");
    cJSON_ArrayForEach(o, pages) {
        if (s.npages == MAX_PAGES) {
            snprintf(err, n, "at most %d pages", MAX_PAGES);
            goto out;
        }
        if (load_page(o, &s.pages[s.npages++], err, n)) goto out;
    }
    if (!s.npages) {
        snprintf(err, n, "the map has no \"pages\"");
        goto out;
    }
    rc = 0;
    if (check_only) goto out;
    s.loaded = 1;
    S = s;
    cJSON_Delete(loaded_json);
    loaded_json = m;
    m = NULL;
    snprintf(loaded_path, sizeof loaded_path, "%s",
             origin && strlen(origin) < 4096 ? origin : path);
    for (size_t i = 0; i < sizeof S.sent / sizeof S.sent[0]; i++) S.sent[i].value = NAN;
    refresh_all(c, 1);
    rc = 0;
out:
    cJSON_Delete(m);
    return rc;
}

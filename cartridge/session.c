/*
 * session.c - `kanon render SESSION.json`: a whole session (decks, their
 * parameters and mixer strips, routes, tempo) rendered offline, in one
 * process, one block at a time and one deck after another.
 *
 * It equals a live recording of the same session sample for sample,
 * because every step is the one the live path takes, in the same order:
 *   - each deck renders its block through kn_render_frames, as its
 *     cartridge does; its inputs are summed by kn_route_mix (shm/route.h)
 *     from its sources' outputs of the same timeline frames (live: read
 *     from their rings; here: from each deck's history), sources first;
 *   - latency compensation is kn_route_compensate, as the conductor's;
 *   - the master is the conductor's mixer: each deck's fader glides
 *     (shm/mixmath.h), its master route's gain and delay, the sum in slot
 *     order (a session loaded into an empty conductor fills slots in the
 *     order of its decks), NaN scrubbed, the master gain, the limiter.
 * Live, values set before a deck's first sample take effect from that
 * sample (no glide), which is what the render does from frame 0.
 *
 * Real-time rules do not apply (nothing here is heard), but the per-block
 * work allocates nothing either: the buffers are made before the first.
 */
#include "cartridge.h"
#include "segment.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HIST (1u << 14) /* frames of each deck's history: >= KN_ROUTE_DELAY_MAX + a block */
_Static_assert(HIST >= KN_ROUTE_DELAY_MAX + 8192, "a delayed route reads the history");

typedef struct sdeck {
    char name[KN_NAME_MAX];
    char file[4096];
    char *source; /* the version the session saved (NULL: the file as it is) */
    kn_program prog;
    kn_cart c;
    kn_state_seg *state;
    kn_param_seg *params;
    double gain_db, pan;
    int mute, solo, to_master, master_pre;
    float fader[3], master_gain;
    kn_glide g[3], mg;
    float *hist;  /* HIST frames, interleaved: its output by frame */
    float *delay; /* its master delay line */
    uint32_t dpos;
    int rendered; /* a block is done: routes added later would glide in */
} sdeck;

typedef struct session {
    sdeck deck[KN_MAX_DECKS];
    int n, ch, block, limiter;
    double rate, master_db;
    kn_route_table t;
    kn_route_run run[KN_ROUTES_MAX];
    uint32_t master_delay[KN_MAX_DECKS];
    int order[KN_MAX_DECKS]; /* sources before their consumers */
    float *scratch;
    uint32_t ramp, fade;
    /* --input: a file played as the device input (source KN_SRC_IN), by
     * frame as the decks' outputs; past its end, silence */
    SNDFILE *in_sf;
    int in_ch;
    float *in_hist; /* HIST frames, in_ch wide */
    float in_fader[3];
} session;


static session S;

static int fail(char *err, size_t n, const char *fmt, const char *a, const char *b) {
    snprintf(err, n, fmt, a, b);
    return -1;
}

static int deck_index(const char *name) {
    for (int i = 0; i < S.n; i++)
        if (!strcmp(S.deck[i].name, name)) return i;
    return -1;
}

static double jnum(const cJSON *o, const char *k, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static int jbool(const cJSON *o, const char *k) {
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* The session's decks, mixer, routes and tempo; what a deck's code is
 * comes later (compile). */
static int parse(const char *path, const cJSON *j, kn_tempo_map *tempo, char *err, size_t n) {
    const cJSON *decks = cJSON_GetObjectItemCaseSensitive(j, "decks"), *d;
    if (!cJSON_IsArray(decks) || cJSON_GetArraySize(decks) < 1)
        return fail(err, n, "%s: error: no \"decks\" array%s", path, "");
    if (cJSON_GetArraySize(decks) > KN_MAX_DECKS)
        return fail(err, n, "%s: error: more than 16 decks%s", path, "");
    cJSON_ArrayForEach(d, decks) {
        sdeck *x = &S.deck[S.n];
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "name"));
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "file"));
        char why[128];
        if (!name || kn_deck_name_check(name, why, sizeof why))
            return fail(err, n, "%s: error: a deck's \"name\": %s", path, name ? why : "missing");
        if (deck_index(name) >= 0) return fail(err, n, "%s: error: deck %s twice", path, name);
        const char *src = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "source"));
        if (!file || file[0] != '/' || (!src && access(file, R_OK)))
            return fail(err, n,
                        "%s: error: deck %s: its \"file\" (an absolute path) cannot be read", path,
                        name);
        snprintf(x->name, sizeof x->name, "%s", name);
        snprintf(x->file, sizeof x->file, "%s", file);
        x->source = src ? strdup(src) : NULL;
        const cJSON *mix = cJSON_GetObjectItemCaseSensitive(d, "mixer");
        x->gain_db = jnum(mix, "gain_db", 0);
        x->pan = jnum(mix, "pan", 0);
        x->mute = jbool(mix, "mute");
        x->solo = jbool(mix, "solo");
        x->to_master = 1;
        x->master_gain = 1;
        S.n++;
    }
    const cJSON *master = cJSON_GetObjectItemCaseSensitive(j, "master");
    S.master_db = jnum(master, "gain_db", 0);
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(master, "limiter");
    S.limiter = lim ? cJSON_IsTrue(lim) : 1;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "tempo");
    tempo->seg[0].bpm = tempo->seg[0].bpm_to = jnum(t, "bpm", KN_BPM_DEFAULT);
    tempo->seg[0].bar = (uint32_t)jnum(t, "bar", KN_BAR_DEFAULT);
    if (!kn_tempo_valid(tempo))
        return fail(err, n, "%s: error: \"tempo\" out of range%s", path, "");
    /* Routes: listed, the master ones included (a deck without one is not
     * on the master); not listed at all, every deck is on the master. */
    const cJSON *routes = cJSON_GetObjectItemCaseSensitive(j, "routes"), *r;
    if (routes) {
        for (int i = 0; i < S.n; i++) S.deck[i].to_master = 0;
        cJSON_ArrayForEach(r, routes) {
            const char *src = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "src"));
            const char *dst = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "dst"));
            const char *port = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "port"));
            int first = 0, count = 0;
            int s = src ? deck_index(src) : -1;
            if (src && s < 0 && kn_route_parse_input(src, &first, &count)) {
                if (!S.in_sf)
                    return fail(err, n,
                                "%s: error: a route comes from the audio input (%s): give the "
                                "render one with --input IN.wav",
                                path, src);
                if (count < 0 || first + (count ? count : S.in_ch) > S.in_ch)
                    return fail(err, n,
                                "%s: error: route source '%s': the --input file has "
                                "fewer channels",
                                path, src);
                s = KN_SRC_IN;
            }
            if (s < 0)
                return fail(err, n, "%s: error: a route's source '%s' is not a deck of the session",
                            path, src ? src : "(missing)");
            float g = (float)pow(10, jnum(r, "gain_db", 0) / 20);
            if (dst && !strcmp(dst, "master") && s == KN_SRC_IN)
                return fail(err, n,
                            "%s: error: the audio input reaches the master only through "
                            "a deck (%s -> master)",
                            path, src);
            if (dst && !strcmp(dst, "master")) {
                S.deck[s].to_master = 1;
                S.deck[s].master_gain = g;
                S.deck[s].master_pre = jbool(r, "pre");
                continue;
            }
            int d = dst ? deck_index(dst) : -1;
            if (d < 0)
                return fail(err, n, "%s: error: a route's destination '%s' is not a deck here",
                            path, dst ? dst : "(missing)");
            if (S.t.count >= KN_ROUTES_MAX)
                return fail(err, n, "%s: error: too many routes%s", path, "");
            kn_route_rec *o = &S.t.route[S.t.count++];
            o->src = (uint32_t)s;
            o->dst = (uint32_t)d;
            o->pre = (uint32_t)jbool(r, "pre");
            memcpy(&o->gain, &g, sizeof g);
            o->in_first = (uint32_t)first;
            o->in_count = s == KN_SRC_IN ? (uint32_t)(count ? count : S.in_ch) : 1;
            snprintf(o->port, sizeof o->port, "%s", port && port[0] ? port : KN_PORT_IN);
        }
    }
    return 0;
}

/* Sources before consumers (Kahn); -1 if the routes loop. */
static int sort_decks(void) {
    int indeg[KN_MAX_DECKS] = {0}, k = 0;
    for (uint32_t i = 0; i < S.t.count; i++) /* the input is no deck: always there first */
        if (S.t.route[i].src != KN_SRC_IN) indeg[S.t.route[i].dst]++;
    for (int pass = 0; pass < S.n; pass++)
        for (int d = 0; d < S.n; d++) {
            if (indeg[d] != 0) continue;
            indeg[d] = -1;
            S.order[k++] = d;
            for (uint32_t i = 0; i < S.t.count; i++)
                if ((int)S.t.route[i].src == d) indeg[S.t.route[i].dst]--;
        }
    return k == S.n ? 0 : -1;
}

/* kn_cart.fill: a deck's inputs, from its sources' histories. */
static void fill(kn_cart *c, uint64_t now, int n) {
    sdeck *x = c->fill_ctx;
    int self = (int)(x - S.deck);
    for (uint32_t i = 0; i < S.t.count; i++) {
        const kn_route_rec *r = &S.t.route[i];
        if ((int)r->dst != self) continue;
        int p = kn_port_find(c, r->port);
        if (p < 0) continue;
        int input = r->src == KN_SRC_IN, sch = input ? S.in_ch : S.ch;
        const float *hist = input ? S.in_hist : S.deck[r->src].hist;
        int64_t q = (int64_t)(now - r->delay) - c->epoch; /* every deck shares the epoch */
        int have = now < r->delay || q < 0 ? 0 : n;
        for (int f = 0; f < have; f++)
            memcpy(S.scratch + (size_t)f * (size_t)sch,
                   hist + (size_t)(((uint64_t)q + (uint64_t)f) & (HIST - 1)) * (size_t)sch,
                   (size_t)sch * sizeof(float));
        kn_route_mix(&S.run[i], r, !x->rendered, S.scratch, sch, have, n,
                     (float *const *)c->port_buf[p], S.ch,
                     input ? S.in_fader : S.deck[r->src].fader, S.ramp, S.ramp, (int)S.fade);
    }
    x->rendered = 1;
}

/* The mixer's work on one deck's block (conductor/mixer.c deck_gain_sum):
 * x holds n frames, interleaved. */
static void mix_deck(sdeck *x, float *xs, float *master, int n, uint32_t delay) {
    int ch = S.ch;
    int faded = 0;
    for (int k = 0; k < 3; k++) faded |= kn_glide_aim(&x->g[k], x->fader[k], S.ramp);
    if (faded) {
        for (int i = 0; i < n; i++) {
            float gl = kn_glide_tick(&x->g[0]), gr = kn_glide_tick(&x->g[1]);
            float go = kn_glide_tick(&x->g[2]);
            if (x->master_pre) continue;
            for (int c = 0; c < ch; c++) xs[i * ch + c] *= c == 0 ? gl : c == 1 ? gr : go;
        }
    }
    float mg = x->to_master ? x->master_gain : 0;
    if (!kn_glide_aim(&x->mg, mg, S.fade * 10)) {
    } else if (x->mg.g == 0 && x->mg.to == 0) {
        return;
    } else {
        for (int i = 0; i < n; i++) {
            float g = kn_glide_tick(&x->mg);
            for (int c = 0; c < ch; c++) xs[i * ch + c] *= g;
        }
    }
    if (delay) {
        uint32_t len = KN_ROUTE_DELAY_MAX + 8192;
        for (int i = 0; i < n; i++) {
            float *w = x->delay + (size_t)x->dpos * (size_t)ch;
            const float *rd = x->delay + (size_t)((x->dpos + len - delay) % len) * (size_t)ch;
            for (int c = 0; c < ch; c++) {
                float v = xs[i * ch + c];
                w[c] = v;
                xs[i * ch + c] = rd[c];
            }
            x->dpos = (x->dpos + 1) % len;
        }
    }
    for (int i = 0; i < n * ch; i++) master[i] += xs[i];
}

static int setup_decks(const kn_session_opts *o, const kn_tempo_map *tempo, int64_t epoch,
                       char *err, size_t n) {
    size_t state_bytes = (size_t)(o->state_mb * 1048576);
    for (int i = 0; i < S.n; i++) {
        sdeck *x = &S.deck[i];
        x->state = calloc(1, state_bytes);
        x->params = calloc(1, sizeof *x->params);
        x->hist = calloc((size_t)HIST * (size_t)S.ch, sizeof(float));
        x->delay = calloc((size_t)(KN_ROUTE_DELAY_MAX + 8192) * (size_t)S.ch, sizeof(float));
        if (!x->state || !x->params || !x->hist || !x->delay ||
            kn_cart_init(&x->c, S.rate, S.ch, S.block))
            return fail(err, n, "kanon render: error: out of memory%s%s", "", "");
        kn_state_format(x->state, state_bytes, KN_SEG_STATE);
        kn_param_format(x->params);
        x->c.id = 1;
        x->c.display = x->name;
        x->c.tempo = *tempo;
        x->c.epoch = epoch;
        x->c.state_cap = state_bytes;
        x->c.state_option = "kanon render --state-mb";
        x->c.fill = fill;
        x->c.fill_ctx = x;
    }
    return 0;
}

/* Parameters from the session, before setup() declares them (as `kanon
 * render --set`): every knob starts at its value. */
static int preset_params(const cJSON *decks, const char *path, char *err, size_t n) {
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, decks) {
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(d, "params"), *p;
        cJSON_ArrayForEach(p, ps) {
            double v = cJSON_IsNumber(p) ? p->valuedouble : jnum(p, "value", NAN);
            if (!isfinite(v) || kn_param_preset(S.deck[i].params, p->string, v))
                return fail(err, n, "%s: error: parameter %s is not a number", path,
                            p->string ? p->string : "?");
        }
        i++;
    }
    return 0;
}

static int render_blocks(const char *out, double seconds, char *err, size_t n) {
    uint64_t total = (uint64_t)llround(seconds * S.rate), done = 0;
    SF_INFO info = {
        .samplerate = (int)S.rate, .channels = S.ch, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf = sf_open(out, SFM_WRITE, &info);
    if (!sf)
        return fail(err, n, "kanon render: error: cannot write %s: %s", out, sf_strerror(NULL));
    sf_command(sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
    float *master = calloc((size_t)S.block * (size_t)S.ch, sizeof(float));
    float *xs = calloc((size_t)S.block * (size_t)S.ch, sizeof(float));
    kn_glide mgl = {1, 0, 1};
    kn_glide_snap(&mgl, (float)pow(10, S.master_db / 20));
    kn_limiter_state lim;
    kn_limiter_init(&lim, S.rate);
    int rc = master && xs ? 0 : -1;
    while (!rc && done < total) {
        int bn = S.block;
        if (S.in_sf) { /* the input's frames of this block (silence past its end) */
            static float buf[8192 * KN_MAX_CHANNELS];
            sf_count_t got = sf_readf_float(S.in_sf, buf, bn);
            if (got < 0) got = 0;
            memset(buf + got * S.in_ch, 0, (size_t)(bn - got) * (size_t)S.in_ch * sizeof(float));
            for (int i = 0; i < bn; i++)
                memcpy(S.in_hist + (size_t)((done + (uint64_t)i) & (HIST - 1)) * (size_t)S.in_ch,
                       buf + (size_t)i * (size_t)S.in_ch, (size_t)S.in_ch * sizeof(float));
        }
        for (int k = 0; k < S.n; k++) { /* sources first */
            sdeck *x = &S.deck[S.order[k]];
            kn_render_frames(&x->c, &x->prog, done, bn);
            for (int i = 0; i < bn; i++)
                for (int c = 0; c < S.ch; c++) {
                    float v = x->c.out[c][i];
                    x->hist[(size_t)((done + (uint64_t)i) & (HIST - 1)) * (size_t)S.ch +
                            (size_t)c] = isfinite(v) ? v : 0.0f;
                }
        }
        memset(master, 0, (size_t)bn * (size_t)S.ch * sizeof(float));
        for (int d = 0; d < S.n; d++) { /* slot order, as the mixer */
            sdeck *x = &S.deck[d];
            for (int i = 0; i < bn; i++)
                memcpy(xs + (size_t)i * (size_t)S.ch,
                       x->hist + (size_t)((done + (uint64_t)i) & (HIST - 1)) * (size_t)S.ch,
                       (size_t)S.ch * sizeof(float));
            mix_deck(x, xs, master, bn, S.master_delay[d]);
        }
        kn_scrub(master, bn * S.ch);
        if (kn_glide_aim(&mgl, mgl.to, 1))
            for (int i = 0; i < bn; i++) {
                float g = kn_glide_tick(&mgl);
                for (int c = 0; c < S.ch; c++) master[i * S.ch + c] *= g;
            }
        if (S.limiter) kn_limiter_run(&lim, master, bn, S.ch);
        int w = total - done < (uint64_t)bn ? (int)(total - done) : bn;
        if (sf_writef_float(sf, master, w) != w) {
            snprintf(err, n, "kanon render: error: writing %s failed: %s", out, sf_strerror(sf));
            rc = -1;
        }
        done += (uint64_t)w;
    }
    free(master);
    free(xs);
    if (sf_close(sf) && !rc) rc = fail(err, n, "kanon render: error: closing %s failed%s", out, "");
    return rc;
}

/* The deck's saved version (its source text, through a memfd), else its
 * file; messages and includes as for the file. */
static int compile_deck(sdeck *x, char *err, size_t n) {
    char dir[4096], path[64];
    snprintf(dir, sizeof dir, "%s", x->file);
    *strrchr(dir, '/') = 0;
    if (!x->source) return kn_compile(&x->prog, x->file, x->file, dir[0] ? dir : "/", err, n);
    int fd = memfd_create("kanon.session.source", MFD_CLOEXEC);
    size_t len = strlen(x->source);
    if (fd < 0 || write(fd, x->source, len) != (ssize_t)len) {
        if (fd >= 0) close(fd);
        return fail(err, n, "kanon render: error: deck %s: cannot hold its source: %s", x->name,
                    strerror(errno));
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rc = kn_compile(&x->prog, path, x->file, dir[0] ? dir : "/", err, n);
    close(fd);
    return rc;
}

int kn_session_render(const kn_session_opts *o) {
    char err[8192], out[8192];
    /* the decks' setup() runs in their own directories: OUT means the caller's */
    if (o->out[0] == '/' || !getcwd(out, sizeof out - strlen(o->out) - 2))
        snprintf(out, sizeof out, "%s", o->out);
    else
        strcat(strcat(out, "/"), o->out);
    memset(&S, 0, sizeof S);
    S.rate = o->rate;
    S.ch = o->channels;
    S.block = o->block;
    FILE *f = fopen(o->path, "r");
    char *text = NULL;
    size_t len = 0;
    if (f) {
        text = malloc(1 << 20);
        len = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
        fclose(f);
    }
    if (!text) {
        fprintf(stderr, "kanon render: error: cannot read %s: %s\n", o->path, strerror(errno));
        free(text);
        return 2;
    }
    text[len] = 0;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(j)) {
        fprintf(stderr, "kanon render: error: %s is not a JSON object (a kanon session)\n",
                o->path);
        cJSON_Delete(j);
        return 2;
    }
    const cJSON *audio = cJSON_GetObjectItemCaseSensitive(j, "audio");
    S.rate = jnum(audio, "rate", S.rate);
    S.ch = (int)jnum(audio, "channels", S.ch);
    S.block = (int)jnum(audio, "block", S.block);
    if (o->input) { /* before the routes: they may come from it */
        SF_INFO fi = {0};
        S.in_sf = sf_open(o->input, SFM_READ, &fi);
        const char *why = !S.in_sf                        ? sf_strerror(NULL)
                          : fi.samplerate != (int)S.rate  ? "its rate is not the session's"
                          : fi.channels > KN_MAX_CHANNELS ? "it has more than 8 channels"
                                                          : NULL;
        if (why) {
            fprintf(stderr, "kanon render: error: --input %s: %s (kanon does not resample)\n",
                    o->input, why);
            cJSON_Delete(j);
            return 2;
        }
        S.in_ch = fi.channels;
        S.in_hist = calloc((size_t)HIST * (size_t)S.in_ch, sizeof(float));
        S.in_fader[0] = S.in_fader[1] = S.in_fader[2] = 1; /* as live: the input has no fader */
    }
    kn_tempo_map tempo;
    kn_tempo_init(&tempo);
    err[0] = 0;
    if (S.ch < 1 || S.ch > KN_MAX_CHANNELS || S.block < 1 || S.block > 8192 || !(S.rate >= 8000) ||
        parse(o->path, j, &tempo, err, sizeof err) ||
        (sort_decks() && !snprintf(err, sizeof err, "%s: error: its routes loop", o->path))) {
        if (!err[0])
            snprintf(err, sizeof err, "%s: error: rate, channels, block or routes bad", o->path);
        fprintf(stderr, "%s\n", err);
        cJSON_Delete(j);
        return 2;
    }
    S.ramp = (uint32_t)(S.rate * KN_ROUTE_RAMP_MS / 1000);
    S.fade = (uint32_t)(S.rate / 1000) ? (uint32_t)(S.rate / 1000) : 1;
    S.scratch =
        calloc((size_t)S.block * KN_MAX_CHANNELS, sizeof(float)); /* the input's width too */
    int64_t epoch = (int64_t)kn_tempo_beat_frame(&tempo, S.rate, o->start);
    if (!S.scratch || setup_decks(o, &tempo, epoch, err, sizeof err) ||
        preset_params(cJSON_GetObjectItemCaseSensitive(j, "decks"), o->path, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        cJSON_Delete(j);
        return 2;
    }
    cJSON_Delete(j);
    int any_solo = 0;
    for (int i = 0; i < S.n; i++) any_solo |= S.deck[i].solo;
    for (int i = 0; i < S.n; i++) {
        sdeck *x = &S.deck[i];
        kn_fader_gains(x->gain_db, x->mute || (any_solo && !x->solo), x->pan, S.ch, x->fader);
        for (int k = 0; k < 3; k++) kn_glide_snap(&x->g[k], x->fader[k]);
        kn_glide_snap(&x->mg, x->to_master ? x->master_gain : 0);
    }
    /* as a single render: compiles under limits, then the sandbox, then
     * any user code (setup) */
    size_t mem = (size_t)(o->mem_mb * 1048576);
    size_t need = (size_t)S.n * (size_t)(o->state_mb * 1048576) + ((size_t)512 << 20);
    if (mem < need) mem = need;
    kn_sandbox_fpu();
    kn_sandbox_compile_limits(o->compile_seconds * S.n, mem);
    for (int i = 0; i < S.n; i++)
        if (compile_deck(&S.deck[i], err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
    kn_sandbox_run_limits(mem);
    char why[256];
    if (kn_sandbox_enter(o->hide, o->nhide, -1, why, sizeof why))
        fprintf(stderr, "kanon render: note: sandbox incomplete: %s\n", why);
    for (int i = 0; i < S.n; i++) {
        sdeck *x = &S.deck[i];
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", x->file);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        if (slash && chdir(dir[0] ? dir : "/"))
            perror("kanon render: cannot enter a deck's directory");
        kn_cart_bind(&x->c, &x->prog, x->state, (size_t)(o->state_mb * 1048576), x->params);
    }
    uint32_t lat[KN_SRCS] = {0};
    int to_master[KN_MAX_DECKS] = {0};
    for (int i = 0; i < S.n; i++) {
        int l = S.deck[i].c.ctx.latency;
        lat[i] = l < 0 ? 0 : l > KN_LATENCY_MAX ? KN_LATENCY_MAX : (uint32_t)l;
        to_master[i] = S.deck[i].to_master;
    }
    kn_route_compensate(&S.t, lat, to_master, S.master_delay);
    if (render_blocks(out, o->seconds, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (o->quiet) /* --json */
        printf("{\"ok\":true,\"session\":\"%s\",\"output\":\"%s\",\"decks\":%d,\"routes\":%u,"
               "\"seconds\":%.17g,\"rate\":%.17g,\"channels\":%d,\"block\":%d}\n",
               o->path, o->out, S.n, S.t.count, o->seconds, S.rate, S.ch, S.block);
    else
        printf("rendered %s: %d decks, %u routes, %.3f s\n", o->out, S.n, S.t.count, o->seconds);
    for (int i = 0; i < S.n; i++) {
        kn_program_free(&S.deck[i].prog);
        kn_cart_free(&S.deck[i].c);
        free(S.deck[i].state);
        free(S.deck[i].params);
        free(S.deck[i].hist);
        free(S.deck[i].delay);
        free(S.deck[i].source);
    }
    free(S.scratch);
    free(S.in_hist);
    if (S.in_sf) sf_close(S.in_sf);
    return 0;
}

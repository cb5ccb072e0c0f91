/*
 * session.c - `kanon session save F.json` and `kanon session load F.json`.
 *
 * A session file (docs/cli.md#sessions) holds what a set of decks needs
 * to sound again: each deck's name, file and the text of the version that
 * plays (inline, "source": the file may have changed since), its
 * parameters, fade, quantization and mixer strip; the master; the routes;
 * the tempo; the control-surface map. `save` asks the conductor for all of
 * it (status, mix, params, history, routes, map) and writes the file
 * atomically.
 *
 * `load` validates the whole file first: any unknown field, missing file,
 * bad name or number stops it with the place named ("s.json: decks[2].file:
 * /x/y.c does not exist") before anything changes. Then every deck that is
 * new or changed is played *held* (conductor/session.c): each compiles
 * and test-renders, and waits. If any fails, the held versions are
 * discarded and nothing that plays has changed. Once all are ready, one
 * `start` releases them together on one beat B (the next bar line far
 * enough ahead): every new deck's first sample falls on B's frame, every
 * changed deck takes over there (crossfading over its fade), and the decks
 * the session does not name stop there. Parameters of new decks are in
 * place before their first sample (presets); those of decks that already
 * play change on B (timed sets). The tempo changes before B. Mixer
 * settings, quantization and routes are sent before `start` into an empty
 * conductor (exact from the first sample), else right after it (for new
 * decks still before their first sample); the map last.
 */
#include "cli.h"
#include "contract.h"
#include "input.h"
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ the file */

typedef struct sdeck {
    char name[KN_NAME_MAX];
    char file[PATH_MAX]; /* absolute */
    const char *display; /* as the session names it */
    const char *source;  /* the version's text, or NULL: the file as it is */
    double fade_ms, quant;
    int watch, has_quant;
    const cJSON *params; /* object or NULL */
    int has_mixer[4];    /* gain_db, mute, solo, pan */
    double gain_db, pan;
    int mute, solo;
    /* while loading */
    int exists, unchanged, created, held;
    double id;
    cJSON *pending; /* parameters its playing code did not declare: set after the takeover */
} sdeck;

typedef struct session {
    kn_swhere w;
    cJSON *root;
    char dir[PATH_MAX]; /* the session file's directory: relative "file"s start there */
    int has_tempo, has_bar;
    double bpm, bar;
    int has_master_gain, has_limiter, limiter;
    double master_db;
    int has_audio;
    double rate, channels, block;
    sdeck deck[KN_MAX_DECKS];
    int ndecks;
    char names[KN_MAX_DECKS][KN_NAME_MAX];
    int has_routes;
    kn_sroute routes[KN_SESSION_ROUTES];
    int nroutes;
    const cJSON *midi;  /* MIDI routes (session_midi.c), or NULL */
    const cJSON *learn; /* MIDI learn's bindings (session_midi.c), or NULL */
    int has_map;
    const char *map_path;     /* as given, or NULL */
    char map_abs[PATH_MAX];   /* absolute, "" if none */
    const cJSON *map_content; /* or NULL: read map_path */
} session;

int kn_session_known(const char *key, const char *const *keys) {
    for (int i = 0; keys[i]; i++)
        if (!strcmp(key, keys[i])) return 1;
    return 0;
}

int kn_session_fail(const kn_swhere *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kanon session: error: %s: ", w->file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return KN_EXIT_ERR;
}

/* A JSON value as it was written, shortened: for "(got ...)". */
static const char *got(const cJSON *v, char buf[64]) {
    char *s = cJSON_PrintUnformatted(v);
    if (!s) return "?";
    snprintf(buf, 64, strlen(s) > 40 ? "%.40s..." : "%s", s);
    free(s);
    return buf;
}

/* hint: what the object may hold, "a deck has name, file, ..." */
static int unknown_fields(const kn_swhere *w, const cJSON *o, const char *where,
                          const char *const *keys, const char *hint) {
    const cJSON *f;
    cJSON_ArrayForEach(f, o) {
        int ok = 0;
        for (int i = 0; keys[i] && !ok; i++) ok = !strcmp(f->string, keys[i]);
        if (!ok)
            return kn_session_fail(w, "%s%s%s: unknown field (%s)", where, where[0] ? "." : "",
                                   f->string, hint);
    }
    return 0;
}

/* key of o: absent (*has 0), or a number in lo..hi (whole if asked). */
static int num(const kn_swhere *w, const cJSON *o, const char *where, const char *key, double lo,
               double hi, int whole, const char *what, double *out, int *has) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    char g[64];
    if (has) *has = v != NULL;
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        (whole && v->valuedouble != floor(v->valuedouble)))
        return kn_session_fail(w, "%s.%s: must be %s%s, %g..%g (got %s)", where, key,
                               whole ? "a whole number of " : "a number of ", what, lo, hi,
                               got(v, g));
    *out = v->valuedouble;
    return 0;
}

static int boolean(const kn_swhere *w, const cJSON *o, const char *where, const char *key, int *out,
                   int *has) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    char g[64];
    if (has) *has = v != NULL;
    if (!v) return 0;
    if (!cJSON_IsBool(v))
        return kn_session_fail(w, "%s.%s: must be true or false (got %s)", where, key, got(v, g));
    *out = cJSON_IsTrue(v);
    return 0;
}

static int object(const kn_swhere *w, const cJSON *v, const char *where) {
    char g[64];
    if (cJSON_IsObject(v)) return 0;
    return kn_session_fail(w, "%s: must be an object {...} (got %s)", where, got(v, g));
}

/* A file the session names: absolute, or relative to the session's
 * directory; it must be a readable regular file. */
static int named_file(const session *s, const char *where, const char *given, char out[PATH_MAX]) {
    char joined[PATH_MAX * 2];
    if (given[0] == '/')
        snprintf(joined, sizeof joined, "%s", given);
    else
        snprintf(joined, sizeof joined, "%s/%s", s->dir, given);
    struct stat st;
    if (stat(joined, &st)) {
        if (errno == ENOENT) return kn_session_fail(&s->w, "%s: %s does not exist", where, joined);
        return kn_session_fail(&s->w, "%s: %s: %s", where, joined, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return kn_session_fail(&s->w, "%s: %s is not a regular file", where, joined);
    if (access(joined, R_OK))
        return kn_session_fail(&s->w, "%s: %s cannot be read: %s", where, joined, strerror(errno));
    if (!realpath(joined, out))
        return kn_session_fail(&s->w, "%s: %s: %s", where, joined, strerror(errno));
    return 0;
}

/* A whole file (malloc'd, NUL-terminated), at most max bytes; NULL with errno. */
static char *read_file(const char *path, size_t max, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(max + 2);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad || n > max) {
        free(buf);
        errno = !buf ? ENOMEM : bad ? EIO : EFBIG;
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static const char *const top_keys[] = {"kanon_session", "saved", "audio",  "tempo",
                                       "master",        "decks", "routes", "map",
                                       "midi",          "learn", NULL};
#define TOP_LIST                                                                                   \
    "a session has kanon_session, saved, audio, tempo, master, decks, routes, map, midi, learn"
static const char *const deck_keys[] = {"name",  "file",   "source", "fade_ms", "watch",
                                        "quant", "params", "mixer",  NULL};
#define DECK_LIST "a deck has name, file, source, fade_ms, watch, quant, params, mixer"
static const char *const mixer_keys[] = {"gain_db", "mute", "solo", "pan", NULL};
static const char *const tempo_keys[] = {"bpm", "bar", NULL};
static const char *const master_keys[] = {"gain_db", "limiter", NULL};
static const char *const audio_keys[] = {"rate", "channels", "block", NULL};
static const char *const map_keys[] = {"path", "content", NULL};

static int parse_deck(session *s, const cJSON *o, int i) {
    sdeck *d = &s->deck[i];
    char where[32], sub[64], bad[256], g[64];
    snprintf(where, sizeof where, "decks[%d]", i);
    if (object(&s->w, o, where) || unknown_fields(&s->w, o, where, deck_keys, DECK_LIST))
        return KN_EXIT_ERR;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (!cJSON_IsString(name))
        return kn_session_fail(&s->w, "%s.name: %s (the deck's name, 1-31 of [A-Za-z0-9_-])", where,
                               name ? "must be a string" : "missing");
    if (kn_deck_name_check(name->valuestring, bad, sizeof bad))
        return kn_session_fail(&s->w, "%s.name: %s", where, bad);
    snprintf(d->name, sizeof d->name, "%s", name->valuestring);
    for (int k = 0; k < i; k++)
        if (!strcmp(s->deck[k].name, d->name))
            return kn_session_fail(&s->w, "%s.name: deck '%s' is named twice (decks[%d] too)",
                                   where, d->name, k);
    snprintf(where, sizeof where, "decks[%d] (%s)", i, d->name);
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(o, "file");
    snprintf(sub, sizeof sub, "decks[%d].file", i);
    if (!cJSON_IsString(file) || !file->valuestring[0])
        return kn_session_fail(&s->w, "%s: %s (the deck's .c or .dsp file)", sub,
                               file ? "must be a file name" : "missing");
    if (named_file(s, sub, file->valuestring, d->file)) return KN_EXIT_ERR;
    d->display = file->valuestring;
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "source");
    if (src && (!cJSON_IsString(src) || strlen(src->valuestring) > KN_SOURCE_MAX))
        return kn_session_fail(&s->w,
                               "decks[%d].source: must be the version's text (a string of "
                               "at most %u bytes)",
                               i, KN_SOURCE_MAX);
    d->source = src ? src->valuestring : NULL;
    snprintf(sub, sizeof sub, "decks[%d]", i);
    d->fade_ms = 20;
    d->watch = 1;
    if (num(&s->w, o, sub, "fade_ms", 0, 1000, 0, "milliseconds", &d->fade_ms, NULL) ||
        num(&s->w, o, sub, "quant", 0, KN_QUANT_MAX, 0, "beats", &d->quant, &d->has_quant) ||
        boolean(&s->w, o, sub, "watch", &d->watch, NULL))
        return KN_EXIT_ERR;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "params"), *p;
    snprintf(sub, sizeof sub, "decks[%d].params", i);
    if (params && object(&s->w, params, sub)) return KN_EXIT_ERR;
    int np = 0;
    cJSON_ArrayForEach(p, params) {
        size_t len = strlen(p->string);
        if (!len || len >= KN_NAME_MAX)
            return kn_session_fail(&s->w, "%s: '%.40s': a parameter's name is 1-%d characters", sub,
                                   p->string, KN_NAME_MAX - 1);
        if (!cJSON_IsNumber(p) || !isfinite(p->valuedouble))
            return kn_session_fail(&s->w, "%s.%s: must be a finite number (got %s)", sub, p->string,
                                   got(p, g));
        if (++np > KN_MAX_PARAMS)
            return kn_session_fail(&s->w, "%s: at most %d parameters", sub, KN_MAX_PARAMS);
    }
    d->params = params;
    const cJSON *mix = cJSON_GetObjectItemCaseSensitive(o, "mixer");
    snprintf(sub, sizeof sub, "decks[%d].mixer", i);
    if (mix &&
        (object(&s->w, mix, sub) ||
         unknown_fields(&s->w, mix, sub, mixer_keys, "a mixer has gain_db, mute, solo, pan") ||
         num(&s->w, mix, sub, "gain_db", -120, 24, 0, "dB", &d->gain_db, &d->has_mixer[0]) ||
         boolean(&s->w, mix, sub, "mute", &d->mute, &d->has_mixer[1]) ||
         boolean(&s->w, mix, sub, "solo", &d->solo, &d->has_mixer[2]) ||
         num(&s->w, mix, sub, "pan", -1, 1, 0, "(-1 left .. 1 right)", &d->pan, &d->has_mixer[3])))
        return KN_EXIT_ERR;
    return 0;
}

/* Reads and checks all of `path`: 0, or KN_EXIT_ERR with the reason said. */
static int session_read(const char *path, session *s) {
    memset(s, 0, sizeof *s);
    s->w.file = path;
    char g[64], abs[PATH_MAX];
    size_t len;
    char *text = read_file(path, 64u << 20, &len);
    if (!text)
        return kn_session_fail(&s->w, "cannot read it: %s",
                               errno == EFBIG ? "larger than 64 MiB" : strerror(errno));
    if (!realpath(path, abs)) {
        free(text);
        return kn_session_fail(&s->w, "%s", strerror(errno));
    }
    snprintf(s->dir, sizeof s->dir, "%s", dirname(abs));
    s->root = cJSON_ParseWithLength(text, len);
    if (!s->root) {
        const char *at = cJSON_GetErrorPtr();
        int line = 1;
        for (const char *p = text; at && p < at && *p; p++) line += *p == '\n';
        free(text);
        return kn_session_fail(&s->w, "not valid JSON (line %d)", line);
    }
    free(text);
    const cJSON *r = s->root;
    if (!cJSON_IsObject(r))
        return kn_session_fail(&s->w, "not a kanon session (not a JSON object)");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "kanon_session");
    if (!v)
        return kn_session_fail(&s->w, "not a kanon session (\"kanon_session\": %d is missing)",
                               KN_SESSION_VERSION);
    if (!cJSON_IsNumber(v) || v->valuedouble != KN_SESSION_VERSION)
        return kn_session_fail(&s->w,
                               "kanon_session: version %s is not one this kanon reads (it reads "
                               "%d)",
                               got(v, g), KN_SESSION_VERSION);
    if (unknown_fields(&s->w, r, "", top_keys, TOP_LIST)) return KN_EXIT_ERR;
    const cJSON *saved = cJSON_GetObjectItemCaseSensitive(r, "saved");
    if (saved && !cJSON_IsString(saved))
        return kn_session_fail(&s->w, "saved: must be a string (when it was saved)");
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(r, "audio");
    if (o && (object(&s->w, o, "audio") ||
              unknown_fields(&s->w, o, "audio", audio_keys, "audio has rate, channels, block") ||
              num(&s->w, o, "audio", "rate", 8000, 384000, 1, "Hz", &s->rate, NULL) ||
              num(&s->w, o, "audio", "channels", 1, 8, 1, "channels", &s->channels, NULL) ||
              num(&s->w, o, "audio", "block", 1, 8192, 1, "frames", &s->block, NULL)))
        return KN_EXIT_ERR;
    s->has_audio = o != NULL;
    o = cJSON_GetObjectItemCaseSensitive(r, "tempo");
    if (o && (object(&s->w, o, "tempo") ||
              unknown_fields(&s->w, o, "tempo", tempo_keys, "tempo has bpm, bar") ||
              num(&s->w, o, "tempo", "bpm", 1, 1000, 0, "bpm", &s->bpm, &s->has_tempo) ||
              num(&s->w, o, "tempo", "bar", 1, 64, 1, "beats", &s->bar, &s->has_bar)))
        return KN_EXIT_ERR;
    o = cJSON_GetObjectItemCaseSensitive(r, "master");
    if (o && (object(&s->w, o, "master") ||
              unknown_fields(&s->w, o, "master", master_keys, "master has gain_db, limiter") ||
              num(&s->w, o, "master", "gain_db", -120, 24, 0, "dB", &s->master_db,
                  &s->has_master_gain) ||
              boolean(&s->w, o, "master", "limiter", &s->limiter, &s->has_limiter)))
        return KN_EXIT_ERR;
    const cJSON *decks = cJSON_GetObjectItemCaseSensitive(r, "decks"), *d;
    if (!cJSON_IsArray(decks))
        return kn_session_fail(&s->w, "decks: %s (an array of decks, [] for none)",
                               decks ? "must be an array" : "missing");
    if (cJSON_GetArraySize(decks) > KN_MAX_DECKS)
        return kn_session_fail(&s->w, "decks: %d decks; a conductor plays at most %d",
                               cJSON_GetArraySize(decks), KN_MAX_DECKS);
    cJSON_ArrayForEach(d, decks) {
        if (parse_deck(s, d, s->ndecks)) return KN_EXIT_ERR;
        memcpy(s->names[s->ndecks], s->deck[s->ndecks].name, KN_NAME_MAX);
        s->ndecks++;
    }
    o = cJSON_GetObjectItemCaseSensitive(r, "routes");
    s->has_routes = o != NULL;
    if (o && kn_sroutes_parse(&s->w, o, s->names, s->ndecks, s->routes, &s->nroutes))
        return KN_EXIT_ERR;
    if (!o) s->nroutes = kn_sroutes_default(s->names, s->ndecks, s->routes);
    s->midi = cJSON_GetObjectItemCaseSensitive(r, "midi");
    if (s->midi && kn_smidi_parse(&s->w, s->midi)) return KN_EXIT_ERR;
    s->learn = cJSON_GetObjectItemCaseSensitive(r, "learn");
    if (s->learn && kn_slearn_parse(&s->w, s->learn)) return KN_EXIT_ERR;
    o = cJSON_GetObjectItemCaseSensitive(r, "map");
    if (o && !cJSON_IsNull(o)) {
        if (object(&s->w, o, "map") ||
            unknown_fields(&s->w, o, "map", map_keys, "a map has path, content; or it is null"))
            return KN_EXIT_ERR;
        const cJSON *mp = cJSON_GetObjectItemCaseSensitive(o, "path");
        const cJSON *mc = cJSON_GetObjectItemCaseSensitive(o, "content");
        if (mp && (!cJSON_IsString(mp) || !mp->valuestring[0]))
            return kn_session_fail(&s->w, "map.path: must be a file name");
        if (mc && !cJSON_IsObject(mc))
            return kn_session_fail(&s->w, "map.content: must be the map, an object {...}");
        if (!mp && !mc)
            return kn_session_fail(&s->w, "map: give \"path\" or \"content\" (or null: no map)");
        s->map_path = mp ? mp->valuestring : NULL;
        s->map_content = mc;
        if (!mc && named_file(s, "map.path", s->map_path, s->map_abs)) return KN_EXIT_ERR;
        if (mc && s->map_path) { /* where it came from: absolute, whether it still exists or not */
            if (s->map_path[0] == '/')
                snprintf(s->map_abs, sizeof s->map_abs, "%s", s->map_path);
            else if (snprintf(s->map_abs, sizeof s->map_abs, "%s/%s", s->dir, s->map_path) >=
                     (int)sizeof s->map_abs)
                return kn_session_fail(&s->w, "map.path: too long");
        }
        s->has_map = 1;
    }
    return 0;
}

/* ------------------------------------------------------ the conductor */

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* A request whose refusal is an error of the session: the reply, or NULL
 * with *st set (2: no conductor, said; 1: refused, said with `what`). */
static cJSON *ask(cJSON *q, const char *what, int *st) {
    cJSON *r = kn_request(q);
    if (!r) {
        *st = KN_EXIT_NOCONDUCTOR;
        return NULL;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"))) return r;
    fprintf(stderr, "kanon session: error: %s: %s\n", what, kn_jstr(r, "error"));
    cJSON_Delete(r);
    *st = KN_EXIT_ERR;
    return NULL;
}

static cJSON *deck_req(const char *cmd, const char *deck) {
    cJSON *q = kn_cmd(cmd);
    cJSON_AddStringToObject(q, "deck", deck);
    return q;
}

static const cJSON *find_named(const cJSON *arr, const char *name) {
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) if (!strcmp(kn_jstr(e, "name"), name)) return e;
    return NULL;
}

/* The text of the version the deck plays now (malloc'd), from its
 * history; NULL if none plays yet (or it cannot be read: *why says). */
static char *current_source(const char *deck, char *why, size_t n) {
    int st = 0;
    cJSON *h = ask(deck_req("history", deck), deck, &st);
    why[0] = 0;
    if (!h) {
        snprintf(why, n, "its history could not be read");
        return NULL;
    }
    double cur = kn_jnum(h, "current");
    const cJSON *v;
    char *src = NULL;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(h, "versions")) {
        if (kn_jnum(v, "version") != cur) continue;
        size_t len;
        src = read_file(kn_jstr(v, "file"), KN_SOURCE_MAX, &len);
        if (!src)
            snprintf(why, n, "cannot read its version %g (%s): %s", cur, kn_jstr(v, "file"),
                     strerror(errno));
        else if (strlen(src) != len) {
            snprintf(why, n, "its version %g holds NUL bytes: not text", cur);
            free(src);
            src = NULL;
        }
    }
    if (!src && !why[0]) snprintf(why, n, "no version of it plays yet");
    cJSON_Delete(h);
    return src;
}

/* ------------------------------------------------------------------ save */

/* Why the session must not be written to `path`, or NULL. */
static const char *save_refusal(const char *path, const cJSON *decks, char *buf, size_t n) {
    const cJSON *d;
    cJSON_ArrayForEach(d, decks) if (kn_same_file(kn_jstr(d, "path"), path)) {
        snprintf(buf, n, "is the source of deck '%s'", kn_jstr(d, "name"));
        return buf;
    }
    struct stat st;
    if (stat(path, &st)) return NULL;
    if (!S_ISREG(st.st_mode)) return "is not a regular file";
    if (st.st_size == 0) return NULL;
    char *text = read_file(path, 64u << 20, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    int ours = cJSON_GetObjectItemCaseSensitive(j, "kanon_session") != NULL;
    cJSON_Delete(j);
    free(text);
    return ours ? NULL : "exists and is not a kanon session";
}

/* Writes text to path through a temporary file beside it, renamed over it
 * once complete: a crash leaves the old file or the new one, never half. */
static int write_atomic(const char *path, const char *text, char *err, size_t n) {
    char tmp[PATH_MAX + 32], dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    if (snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir[0] ? dir : "/", base) >= (int)sizeof tmp) {
        snprintf(err, n, "the file name is too long");
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, n, "cannot create a file in %.300s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    mode_t um = umask(0); /* mkstemp made it 0600: give it what a new file gets, or the old mode */
    umask(um);
    fchmod(fd, !stat(path, &st) ? st.st_mode & 07777 : 0666 & ~um);
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    int e = done < len ? errno : fsync(fd) ? errno : 0;
    if (close(fd) && !e) e = errno;
    if (!e && rename(tmp, path)) e = errno;
    if (e) {
        unlink(tmp);
        snprintf(err, n, "cannot write it: %s", strerror(e ? e : EIO));
        return -1;
    }
    return 0;
}

static int session_save(const kn_args *a) {
    const char *path = a->pos[1];
    int st = 0;
    cJSON *status = ask(kn_cmd("status"), "status", &st);
    cJSON *mix = status ? ask(kn_cmd("mix"), "mix", &st) : NULL;
    if (!status || !mix) {
        cJSON_Delete(status);
        return st;
    }
    const cJSON *decks = cJSON_GetObjectItem(status, "decks"), *d;
    char why[300];
    const char *refusal = save_refusal(path, decks, why, sizeof why);
    if (refusal && !a->force) {
        fprintf(stderr,
                "kanon session: error: %s %s; refusing to overwrite it (choose another name, or "
                "--force)\n",
                path, refusal);
        cJSON_Delete(status);
        cJSON_Delete(mix);
        return KN_EXIT_ERR;
    }
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "kanon_session", KN_SESSION_VERSION);
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    cJSON_AddStringToObject(s, "saved", when);
    cJSON *audio = cJSON_AddObjectToObject(s, "audio");
    cJSON_AddNumberToObject(audio, "rate", kn_jnum(status, "rate"));
    cJSON_AddNumberToObject(audio, "channels", kn_jnum(status, "channels"));
    cJSON_AddNumberToObject(audio, "block", kn_jnum(status, "block"));
    const cJSON *t = cJSON_GetObjectItem(status, "tempo");
    cJSON *tempo = cJSON_AddObjectToObject(s, "tempo"); /* where it goes, not where it was */
    int final = cJSON_IsNumber(cJSON_GetObjectItem(t, "final_bpm"));
    double bpm = kn_jnum(t, final ? "final_bpm" : "bpm"),
           bar = kn_jnum(t, final ? "final_bar" : "bar");
    cJSON_AddNumberToObject(tempo, "bpm", bpm);
    cJSON_AddNumberToObject(tempo, "bar", bar);
    const cJSON *mm = cJSON_GetObjectItem(mix, "master");
    cJSON *master = cJSON_AddObjectToObject(s, "master");
    cJSON_AddNumberToObject(master, "gain_db", kn_jnum(mm, "gain_db"));
    cJSON_AddBoolToObject(master, "limiter", cJSON_IsTrue(cJSON_GetObjectItem(mm, "limiter")));
    cJSON *out = cJSON_AddArrayToObject(s, "decks");
    char names[KN_MAX_DECKS][KN_NAME_MAX];
    int n = 0;
    cJSON_ArrayForEach(d, decks) {
        const char *name = kn_jstr(d, "name");
        if (n >= KN_MAX_DECKS) break;
        snprintf(names[n++], KN_NAME_MAX, "%s", name);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddStringToObject(o, "file", kn_jstr(d, "path"));
        cJSON_AddNumberToObject(o, "fade_ms", kn_jnum(d, "fade_ms"));
        cJSON_AddBoolToObject(o, "watch", cJSON_IsTrue(cJSON_GetObjectItem(d, "watching")));
        cJSON_AddNumberToObject(o, "quant", kn_jnum(d, "quant"));
        cJSON *pr = cJSON_AddObjectToObject(o, "params");
        cJSON *rp = ask(deck_req("params", name), name, &st);
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItem(rp, "params"))
            cJSON_AddNumberToObject(pr, kn_jstr(p, "name"), kn_jnum(p, "value"));
        cJSON_Delete(rp);
        const cJSON *m = find_named(cJSON_GetObjectItem(mix, "decks"), name);
        cJSON *mx = cJSON_AddObjectToObject(o, "mixer");
        cJSON_AddNumberToObject(mx, "gain_db", kn_jnum(m, "gain_db"));
        cJSON_AddBoolToObject(mx, "mute", cJSON_IsTrue(cJSON_GetObjectItem(m, "mute")));
        cJSON_AddBoolToObject(mx, "solo", cJSON_IsTrue(cJSON_GetObjectItem(m, "solo")));
        cJSON_AddNumberToObject(mx, "pan", kn_jnum(m, "pan"));
        char *src = current_source(name, why, sizeof why);
        if (src)
            cJSON_AddStringToObject(o, "source", src);
        else
            fprintf(stderr,
                    "kanon session: warning: deck %s: %s; the session keeps its file "
                    "only (loading it plays the file as it is then)\n",
                    name, why);
        free(src);
        cJSON_AddItemToArray(out, o);
        if (st == KN_EXIT_NOCONDUCTOR) break;
    }
    static kn_sroute routes[KN_SESSION_ROUTES];
    int nroutes = 0;
    int q = st ? -1 : kn_sroutes_query(routes, &nroutes);
    if (q == 0) nroutes = kn_sroutes_default(names, n, routes); /* no routing: all to master */
    if (q > 0) nroutes = kn_sroutes_keep(routes, nroutes, names, n);
    if (q >= 0) cJSON_AddItemToObject(s, "routes", kn_sroutes_json(routes, nroutes));
    cJSON *midi = q >= 0 ? kn_smidi_query() : NULL;
    if (midi) cJSON_AddItemToObject(s, "midi", midi);
    cJSON *learn = q >= 0 ? kn_slearn_query() : NULL;
    if (learn) cJSON_AddItemToObject(s, "learn", learn);
    cJSON *map = q >= 0 ? ask(kn_cmd("map"), "map", &st) : NULL;
    if (map) cJSON_AddItemToObject(s, "map", cJSON_DetachItemFromObject(map, "map"));
    cJSON_Delete(map);
    if (q < 0 && !st) st = KN_EXIT_ERR;
    char err[512];
    char *text = st ? NULL : cJSON_Print(s);
    if (text && write_atomic(path, text, err, sizeof err)) {
        fprintf(stderr, "kanon session: error: %s: %s\n", path, err);
        st = KN_EXIT_ERR;
    }
    if (!st && a->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ok", 1);
        cJSON_AddStringToObject(o, "path", path);
        cJSON_AddNumberToObject(o, "decks", n);
        cJSON_AddNumberToObject(o, "routes", nroutes);
        cJSON_AddBoolToObject(o, "map", !cJSON_IsNull(cJSON_GetObjectItem(s, "map")));
        kn_print_json(o);
        cJSON_Delete(o);
    } else if (!st) {
        printf("saved %d deck%s to %s (tempo %g bpm, %g beats per bar; %d route%s; %s)\n", n,
               n == 1 ? "" : "s", path, bpm, bar, nroutes, nroutes == 1 ? "" : "s",
               cJSON_IsNull(cJSON_GetObjectItem(s, "map")) ? "no control-surface map"
                                                           : "with its control-surface map");
    }
    free(text);
    cJSON_Delete(s);
    cJSON_Delete(status);
    cJSON_Delete(mix);
    return st;
}

/* ------------------------------------------------------------------ load */

static char tmpdir[PATH_MAX]; /* the sessions' copies of sources and the map, while loading */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void tmp_cleanup(void) {
    if (tmpdir[0]) nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = 0;
}

/* text into <tmpdir>/<sub>/<base>; the path in out. */
static int tmp_write(const char *sub, const char *base, const char *text, char out[PATH_MAX]) {
    if (!tmpdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/kanon-session.XXXXXX", t && t[0] == '/' ? t : "/tmp");
        if (!mkdtemp(tmpdir)) {
            tmpdir[0] = 0;
            return -1;
        }
    }
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub) >= (int)sizeof dir ||
        (mkdir(dir, 0700) && errno != EEXIST) ||
        snprintf(out, PATH_MAX, "%s/%s", dir, base) >= PATH_MAX)
        return -1;
    FILE *f = fopen(out, "wb");
    if (!f) return -1;
    size_t len = strlen(text);
    int bad = fwrite(text, 1, len, f) != len;
    return fclose(f) || bad ? -1 : 0;
}

/* Drops every held version this load made (new decks go away). */
static void discard_all(session *s) {
    cJSON *q = kn_cmd("discard");
    cJSON *a = cJSON_AddArrayToObject(q, "decks");
    int any = 0;
    for (int i = 0; i < s->ndecks; i++)
        if (s->deck[i].id > 0) {
            cJSON_AddItemToArray(a, cJSON_CreateString(s->deck[i].name));
            any = 1;
        }
    if (any)
        cJSON_Delete(kn_request_quiet(q, 10000));
    else
        cJSON_Delete(q);
}

/* Plays deck d held: compiled and tested, it waits for `start`. */
static int play_held(session *s, sdeck *d, int i) {
    char src_path[PATH_MAX] = "", sub[16];
    const char *base = strrchr(d->file, '/') + 1;
    snprintf(sub, sizeof sub, "%d", i);
    if (d->source && tmp_write(sub, base, d->source, src_path)) {
        fprintf(stderr, "kanon session: error: cannot write a copy of %s's source in %s: %s\n",
                d->name, tmpdir[0] ? tmpdir : "$TMPDIR", strerror(errno));
        return KN_EXIT_INTERNAL;
    }
    cJSON *q = kn_cmd("play");
    cJSON_AddStringToObject(q, "file", d->file);
    cJSON_AddStringToObject(q, "display", d->display);
    cJSON_AddStringToObject(q, "deck", d->name);
    cJSON_AddNumberToObject(q, "fade_ms", d->fade_ms);
    cJSON_AddBoolToObject(q, "watch", d->watch);
    cJSON_AddBoolToObject(q, "hold", 1);
    if (src_path[0]) cJSON_AddStringToObject(q, "source_file", src_path);
    if (!d->exists && d->params) cJSON_AddItemToObject(q, "params", cJSON_Duplicate(d->params, 1));
    for (int k = 0;; k++) { /* busy while a version of it waits for the token */
        cJSON *r = kn_request(cJSON_Duplicate(q, 1));
        if (!r) {
            cJSON_Delete(q);
            return KN_EXIT_NOCONDUCTOR;
        }
        if (cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"))) {
            d->id = kn_jnum(r, "id");
            d->created = cJSON_IsTrue(cJSON_GetObjectItem(r, "created"));
            cJSON_Delete(r);
            break;
        }
        if (k < 1500 && !strncmp(kn_jstr(r, "error"), "busy:", 5)) {
            cJSON_Delete(r);
            sleep_ms(2);
            continue;
        }
        fprintf(stderr, "kanon session: error: %s: decks[%d] (%s): %s\n", s->w.file, i, d->name,
                kn_jstr(r, "error"));
        cJSON_Delete(r);
        cJSON_Delete(q);
        return KN_EXIT_ERR;
    }
    cJSON_Delete(q);
    return 0;
}

/* Waits until every played deck's version is held (or took over: a deck
 * that was silent after a fault does not wait), or one was refused. */
static int wait_held(session *s) {
    for (int i = 0; i < s->ndecks; i++) {
        sdeck *d = &s->deck[i];
        if (!(d->id > 0)) continue;
        for (;;) {
            cJSON *q = deck_req("result", d->name);
            cJSON_AddNumberToObject(q, "id", d->id);
            int st = 0;
            cJSON *r = ask(q, d->name, &st);
            if (!r) return st;
            const char *state = kn_jstr(r, "state");
            if (!strcmp(state, "error")) {
                fprintf(stderr, "kanon session: error: %s: decks[%d] (%s) does not play:\n%s\n",
                        s->w.file, i, d->name, kn_jstr(r, "message"));
                cJSON_Delete(r);
                return KN_EXIT_ERR;
            }
            int done = !strcmp(state, "held") || !strcmp(state, "running");
            d->held = !strcmp(state, "held");
            cJSON_Delete(r);
            if (done) break;
            sleep_ms(5);
        }
    }
    return 0;
}

static int send_ok(cJSON *q, const char *what) {
    int st = 0;
    cJSON *r = ask(q, what, &st);
    cJSON_Delete(r);
    return st;
}

/* The deck's mixer strip as the session says (fields it leaves out stay). */
static int apply_mixer(const sdeck *d) {
    if (!d->has_mixer[0] && !d->has_mixer[1] && !d->has_mixer[2] && !d->has_mixer[3]) return 0;
    cJSON *q = deck_req("mixer", d->name);
    if (d->has_mixer[0]) cJSON_AddNumberToObject(q, "gain_db", d->gain_db);
    if (d->has_mixer[1]) cJSON_AddBoolToObject(q, "mute", d->mute);
    if (d->has_mixer[2]) cJSON_AddBoolToObject(q, "solo", d->solo);
    if (d->has_mixer[3]) cJSON_AddNumberToObject(q, "pan", d->pan);
    if (!d->exists) cJSON_AddNumberToObject(q, "ramp_ms", 0); /* silent until it starts */
    return send_ok(q, d->name);
}

/* Parameters of a deck that already plays: on the group's beat (B >= 0),
 * else at once. Those its playing code does not declare (a new version
 * may) wait in d->pending for the takeover. */
static int apply_params(sdeck *d, double beat) {
    const cJSON *p;
    cJSON_ArrayForEach(p, d->params) {
        cJSON *q = deck_req("set", d->name);
        cJSON_AddStringToObject(q, "name", p->string);
        cJSON_AddNumberToObject(q, "value", p->valuedouble);
        if (beat >= 0) cJSON_AddNumberToObject(q, "at_beat", beat);
        cJSON *r = kn_request(q);
        if (!r) return KN_EXIT_NOCONDUCTOR;
        if (!cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"))) {
            if (!d->pending) d->pending = cJSON_CreateObject();
            cJSON_AddNumberToObject(d->pending, p->string, p->valuedouble);
        }
        cJSON_Delete(r);
    }
    return 0;
}

/* After the versions took over: a new deck's presets its code does not
 * declare are named in a warning; a playing deck's parameters that waited
 * for the new version are set now (or named, if it does not declare them
 * either). */
static int params_after(const sdeck *d, cJSON *warnings) {
    int st = 0;
    const cJSON *check = d->exists ? d->pending : d->params;
    if (!check) return 0;
    cJSON *rp = ask(deck_req("params", d->name), d->name, &st);
    if (!rp) return st;
    const cJSON *p, *have = cJSON_GetObjectItem(rp, "params");
    cJSON_ArrayForEach(p, check) {
        if (find_named(have, p->string)) {
            if (d->exists) {
                cJSON *q = deck_req("set", d->name);
                cJSON_AddStringToObject(q, "name", p->string);
                cJSON_AddNumberToObject(q, "value", p->valuedouble);
                cJSON_Delete(kn_request(q));
            }
            continue;
        }
        char w[200];
        snprintf(w, sizeof w,
                 "deck %s: the session sets parameter '%s', which its code does not "
                 "declare",
                 d->name, p->string);
        cJSON_AddItemToArray(warnings, cJSON_CreateString(w));
    }
    cJSON_Delete(rp);
    return 0;
}

/* Parameters of the decks that play (on the group's beat), every deck's
 * mixer strip and quantization, the master's gain, the routes. */
static int apply_settings(session *s, double beat, int routing) {
    int st = 0;
    for (int i = 0; i < s->ndecks && st != KN_EXIT_NOCONDUCTOR; i++) {
        sdeck *d = &s->deck[i];
        int e = d->exists ? apply_params(d, beat) : 0;
        if (!e) e = apply_mixer(d);
        if (!e && d->has_quant) {
            cJSON *q = deck_req("quant", d->name);
            cJSON_AddNumberToObject(q, "quant", d->quant);
            e = send_ok(q, d->name);
        }
        if (e && !st) st = e;
    }
    if (!st && s->has_master_gain) {
        cJSON *q = deck_req("mixer", "master");
        cJSON_AddNumberToObject(q, "gain_db", s->master_db);
        st = send_ok(q, "master");
    }
    if (!st && routing) st = kn_sroutes_apply(s->routes, s->nroutes, s->names, s->ndecks);
    if (!st && s->midi) st = kn_smidi_apply(s->midi);
    if (!st && s->learn) st = kn_slearn_apply(s->learn);
    return st;
}

static int session_load(const kn_args *a, double lead_ms) {
    static session s;
    int st = session_read(a->pos[1], &s);
    if (st) {
        cJSON_Delete(s.root);
        return st;
    }
    cJSON *status = ask(kn_cmd("status"), "status", &st);
    cJSON *warnings = cJSON_CreateArray();
    static kn_sroute have[KN_SESSION_ROUTES];
    int nhave = 0, routing = 0;
    char w[600];
    const cJSON *cur = status ? cJSON_GetObjectItem(status, "decks") : NULL, *c;
    if (!status) goto out;
    /* ------------------------------------------ checks against the conductor */
    routing = kn_sroutes_query(have, &nhave);
    if (routing < 0) {
        st = KN_EXIT_ERR;
        goto out;
    }
    if (!routing) {
        kn_sroute def[KN_MAX_DECKS];
        int nd = kn_sroutes_default(s.names, s.ndecks, def);
        if (!kn_sroutes_same(s.routes, s.nroutes, def, nd)) {
            st = kn_session_fail(&s.w, "routes: this conductor cannot route (it has no `routes` "
                                       "command): every deck goes to the master at 0 dB, and the "
                                       "session routes otherwise");
            goto out;
        }
    }
    int busy = 0, fresh = 0;
    cJSON_ArrayForEach(c, cur) busy++;
    for (int i = 0; i < s.ndecks; i++) {
        sdeck *d = &s.deck[i];
        const cJSON *now = find_named(cur, d->name);
        char *disk = read_file(d->file, KN_SOURCE_MAX, NULL);
        d->exists = now != NULL;
        fresh += !d->exists;
        if (d->source && disk && strcmp(disk, d->source)) {
            snprintf(w, sizeof w,
                     "deck %s plays the session's copy of %s, which has changed since (a save "
                     "of it takes over as usual)",
                     d->name, d->display);
            cJSON_AddItemToArray(warnings, cJSON_CreateString(w));
        }
        /* the same file, text, fade and watch: nothing to swap */
        if (now && !strcmp(kn_jstr(now, "path"), d->file) &&
            kn_jnum(now, "fade_ms") == d->fade_ms &&
            cJSON_IsTrue(cJSON_GetObjectItem(now, "watching")) == d->watch) {
            char why[300];
            char *playing = current_source(d->name, why, sizeof why);
            const char *want = d->source ? d->source : disk;
            d->unchanged = playing && want && !strcmp(playing, want);
            free(playing);
        }
        free(disk);
    }
    if (busy + fresh > KN_MAX_DECKS) {
        st = kn_session_fail(&s.w,
                             "the session adds %d decks to the %d that play: more than the "
                             "%d a conductor has (stop some first)",
                             fresh, busy, KN_MAX_DECKS);
        goto out;
    }
    if (s.has_map) {
        char tmp[PATH_MAX];
        const char *path = s.map_abs;
        if (s.map_content) {
            char *text = cJSON_PrintUnformatted(s.map_content);
            int bad = !text || tmp_write("map", "map.json", text, tmp);
            free(text);
            if (bad) {
                st = kn_session_fail(&s.w, "map: cannot write a copy of it: %s", strerror(errno));
                goto out;
            }
            path = tmp;
        }
        cJSON *q = kn_cmd("map_load");
        cJSON_AddStringToObject(q, "path", path);
        cJSON_AddBoolToObject(q, "check", 1);
        cJSON *r = kn_request(q);
        if (!r) {
            st = KN_EXIT_NOCONDUCTOR;
            goto out;
        }
        if (!cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")))
            st = kn_session_fail(&s.w, "map: %s", kn_jstr(r, "error"));
        cJSON_Delete(r);
        if (st) goto out;
    }
    if (s.has_audio && s.rate != kn_jnum(status, "rate")) {
        snprintf(w, sizeof w, "the session was saved at %g Hz; this conductor runs at %g Hz",
                 s.rate, kn_jnum(status, "rate"));
        cJSON_AddItemToArray(warnings, cJSON_CreateString(w));
    }
    if (s.has_limiter && s.limiter != cJSON_IsTrue(cJSON_GetObjectItem(status, "limiter"))) {
        snprintf(
            w, sizeof w,
            "the session was saved with the limiter %s; this conductor has it %s (`kanon up%s` "
            "sets it)",
            s.limiter ? "on" : "off", s.limiter ? "off" : "on", s.limiter ? "" : " --no-limiter");
        cJSON_AddItemToArray(warnings, cJSON_CreateString(w));
    }
    /* ------------------------------------------ every new or changed deck, held */
    for (int i = 0; i < s.ndecks && !st; i++)
        if (!s.deck[i].unchanged) st = play_held(&s, &s.deck[i], i);
    if (!st) st = wait_held(&s);
    tmp_cleanup(); /* the conductor read the copies when it was asked to play them */
    if (st) {
        discard_all(&s);
        fprintf(stderr, "kanon session: nothing was changed\n");
        goto out;
    }
    /* ------------------------------------------ the tempo, then the group's beat */
    const cJSON *t = cJSON_GetObjectItem(status, "tempo");
    int final = cJSON_IsNumber(cJSON_GetObjectItem(t, "final_bpm"));
    double bpm_now = kn_jnum(t, final ? "final_bpm" : "bpm");
    double bar_now = kn_jnum(t, final ? "final_bar" : "bar");
    if ((s.has_tempo && s.bpm != bpm_now) || (s.has_bar && s.bar != bar_now)) {
        cJSON *q = kn_cmd("tempo");
        cJSON_AddNumberToObject(q, "bpm", s.has_tempo ? s.bpm : bpm_now);
        if (s.has_bar) cJSON_AddNumberToObject(q, "bar", s.bar);
        if ((st = send_ok(q, "tempo"))) {
            discard_all(&s);
            fprintf(stderr, "kanon session: nothing was changed\n");
            goto out;
        }
    }
    /* Into an empty conductor, every deck's strip, quant and routes are set
     * before the start: exact from the first sample. Otherwise after it, so
     * that the decks that play now keep theirs until the session's beat is
     * near (they change as soon as they are sent: mixer and routes are not
     * timed). */
    if (!busy && (st = apply_settings(&s, -1, routing))) {
        discard_all(&s);
        fprintf(stderr, "kanon session: nothing plays: the session's decks were discarded\n");
        goto out;
    }
    double beat = -1, frame = -1;
    cJSON *group = kn_cmd("start");
    if (lead_ms >= 0) cJSON_AddNumberToObject(group, "lead_ms", lead_ms);
    cJSON *names = cJSON_AddArrayToObject(group, "decks");
    for (int i = 0; i < s.ndecks; i++)
        if (s.deck[i].held) cJSON_AddItemToArray(names, cJSON_CreateString(s.deck[i].name));
    if (cJSON_GetArraySize(names)) {
        cJSON *r = ask(group, "start", &st);
        if (!r) {
            discard_all(&s);
            fprintf(stderr, "kanon session: nothing but the tempo was changed\n");
            goto out;
        }
        beat = kn_jnum(r, "start_beat");
        frame = kn_jnum(r, "start_frame");
        cJSON_Delete(r);
    } else {
        cJSON_Delete(group);
    }
    /* ------------------------------------------ from here on it happens: on the beat */
    cJSON *stopped = cJSON_CreateArray();
    cJSON_ArrayForEach(c, cur) {
        const char *name = kn_jstr(c, "name");
        int keep = 0;
        for (int i = 0; i < s.ndecks && !keep; i++) keep = !strcmp(s.deck[i].name, name);
        if (keep) continue;
        cJSON *q = deck_req("stop", name);
        if (beat >= 0) cJSON_AddNumberToObject(q, "at_beat", beat);
        if (!send_ok(q, name)) cJSON_AddItemToArray(stopped, cJSON_CreateString(name));
    }
    if (busy) st = apply_settings(&s, beat, routing);
    if (!st && s.has_map) {
        char tmp[PATH_MAX];
        const char *path = s.map_abs;
        if (s.map_content) {
            char *text = cJSON_PrintUnformatted(s.map_content);
            int bad = !text || tmp_write("map", "map.json", text, tmp);
            free(text);
            path = bad ? NULL : tmp;
        }
        if (!path) {
            st = kn_session_fail(&s.w, "map: cannot write a copy of it: %s", strerror(errno));
        } else {
            cJSON *q = kn_cmd("map_load");
            cJSON_AddStringToObject(q, "path", path);
            if (s.map_abs[0]) cJSON_AddStringToObject(q, "origin", s.map_abs);
            st = send_ok(q, "map");
        }
        tmp_cleanup();
    }
    /* ------------------------------------------ wait for the decks to be placed */
    cJSON *report = cJSON_CreateArray();
    for (int tries = 0; st != KN_EXIT_NOCONDUCTOR; tries++) {
        cJSON *sn = ask(kn_cmd("status"), "status", &st);
        if (!sn) break;
        int waiting = 0;
        for (int i = 0; i < s.ndecks; i++) {
            const sdeck *d = &s.deck[i];
            const cJSON *x = find_named(cJSON_GetObjectItem(sn, "decks"), d->name);
            int placed = x && cJSON_GetObjectItem(x, "start_frame");
            int took = x && kn_jnum(cJSON_GetObjectItem(x, "cartridge"), "id") == d->id;
            if (d->id > 0 && x && (!placed || !took)) waiting++;
        }
        if (!waiting || tries >= 1500) { /* 30 s: a setup() that takes long, a slow machine */
            for (int i = 0; i < s.ndecks; i++) {
                const sdeck *d = &s.deck[i];
                const cJSON *x = find_named(cJSON_GetObjectItem(sn, "decks"), d->name);
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "name", d->name);
                cJSON_AddStringToObject(o, "action",
                                        d->unchanged ? "unchanged"
                                        : d->exists  ? "swapped"
                                                     : "started");
                if (x && cJSON_GetObjectItem(x, "start_frame")) {
                    cJSON_AddNumberToObject(o, "start_beat", kn_jnum(x, "start_beat"));
                    cJSON_AddNumberToObject(o, "start_frame", kn_jnum(x, "start_frame"));
                }
                int late = cJSON_IsTrue(cJSON_GetObjectItem(x, "start_late"));
                if (!d->exists && late) {
                    snprintf(w, sizeof w,
                             "deck %s was not ready for beat %g: it starts late, on beat %g",
                             d->name, beat, kn_jnum(x, "start_beat"));
                    cJSON_AddItemToArray(warnings, cJSON_CreateString(w));
                }
                if (d->id > 0 &&
                    (!x || kn_jnum(cJSON_GetObjectItem(x, "cartridge"), "id") != d->id)) {
                    snprintf(w, sizeof w,
                             "deck %s: its version has not taken over (see `kanon log %s`)",
                             d->name, d->name);
                    cJSON_AddItemToArray(warnings, cJSON_CreateString(w));
                }
                cJSON_AddItemToArray(report, o);
            }
            cJSON_Delete(sn);
            break;
        }
        cJSON_Delete(sn);
        sleep_ms(20);
    }
    for (int i = 0; i < s.ndecks && !st; i++) st = params_after(&s.deck[i], warnings);
    if (st != KN_EXIT_NOCONDUCTOR) {
        const cJSON *x;
        cJSON_ArrayForEach(x, warnings)
            fprintf(stderr, "kanon session: warning: %s\n", cJSON_GetStringValue(x));
    }
    if (!st && a->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ok", 1);
        cJSON_AddStringToObject(o, "file", a->pos[1]);
        if (beat >= 0) {
            cJSON_AddNumberToObject(o, "start_beat", beat);
            cJSON_AddNumberToObject(o, "start_frame", frame);
        } else {
            cJSON_AddNullToObject(o, "start_beat");
            cJSON_AddNullToObject(o, "start_frame");
        }
        cJSON_AddItemToObject(o, "decks", report);
        cJSON_AddItemToObject(o, "stopped", stopped);
        cJSON_AddItemToObject(o, "warnings", cJSON_Duplicate(warnings, 1));
        kn_print_json(o);
        cJSON_Delete(o);
    } else {
        if (!st) {
            int started = 0, swapped = 0, same = 0;
            for (int i = 0; i < s.ndecks; i++) {
                started += !s.deck[i].exists;
                swapped += s.deck[i].exists && !s.deck[i].unchanged;
                same += s.deck[i].unchanged;
            }
            printf("session %s: ", a->pos[1]);
            if (beat >= 0)
                printf("on beat %g (timeline frame %.0f): %d deck%s start%s, %d swap%s", beat,
                       frame, started, started == 1 ? "" : "s", started == 1 ? "s" : "", swapped,
                       swapped == 1 ? "" : "s");
            else
                printf("nothing to start");
            printf(", %d unchanged, %d stop%s\n", same, cJSON_GetArraySize(stopped),
                   cJSON_GetArraySize(stopped) == 1 ? "s" : "");
        }
        cJSON_Delete(report);
        cJSON_Delete(stopped);
    }
out:
    tmp_cleanup();
    for (int i = 0; i < s.ndecks; i++) cJSON_Delete(s.deck[i].pending);
    cJSON_Delete(warnings);
    cJSON_Delete(status);
    cJSON_Delete(s.root);
    return st;
}

int cmd_session(int argc, char **argv) {
    kn_args a;
    double lead_ms = -1;
    int n = 0, st;
    for (int i = 0; i < argc; i++) { /* --lead MS (load only), then the common options */
        const char *v = NULL;
        if (!strcmp(argv[i], "--lead")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kanon session: error: --lead needs MS\nusage: %s\n",
                        kn_usage("session"));
                return KN_EXIT_ERR;
            }
            v = argv[++i];
        } else if (!strncmp(argv[i], "--lead=", 7)) {
            v = argv[i] + 7;
        } else {
            argv[n++] = argv[i];
            continue;
        }
        if (kn_parse_num("session", "--lead", v, 0, 60000, 0, "ms", &lead_ms)) return KN_EXIT_ERR;
    }
    st = kn_args_parse(&a, n, argv, KN_OPT_JSON | KN_OPT_FORCE, 2, 2);
    if (st) return st;
    if (lead_ms >= 0 && strcmp(a.pos[0], "load")) {
        fprintf(stderr, "kanon session: error: --lead is for `session load`\nusage: %s\n",
                kn_usage("session"));
        return KN_EXIT_ERR;
    }
    if (!strcmp(a.pos[0], "save")) return session_save(&a);
    if (!strcmp(a.pos[0], "load")) {
        if (a.force) {
            fprintf(stderr, "kanon session: error: --force is for `session save`\nusage: %s\n",
                    kn_usage("session"));
            return KN_EXIT_ERR;
        }
        return session_load(&a, lead_ms);
    }
    fprintf(stderr,
            "kanon session: error: unknown action '%s'; use `kanon session save F.json` or "
            "`kanon session load F.json`\n",
            a.pos[0]);
    return KN_EXIT_ERR;
}

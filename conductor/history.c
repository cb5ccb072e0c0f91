/*
 * history.c - every version that took over, kept so a session can be
 * reviewed afterwards and any version played again (`kanon revert`).
 *
 *   $XDG_STATE_HOME/kanon/history/<instance>-<YYYYmmdd-HHMMSS>/   (0700)
 *       <deck>/.pending-<cartridge>.c   the exact bytes a cartridge compiles (.dsp for Faust)
 *       <deck>/0001.c, 0002.c, ...      versions that took over, in order
 *       <deck>/index.tsv                version, time, cartridge, compile ms, origin
 *
 * The conductor reads a saved file once and writes this snapshot; the
 * cartridge compiles the snapshot (errors still name the user's file), so
 * the version kept is byte for byte the version that played.
 */
#include "conductor.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int kn_mkdirs(const char *path) {
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0700) && errno != EEXIST) return -errno;
            *p = '/';
        }
    return mkdir(tmp, 0700) && errno != EEXIST ? -errno : 0;
}

void kn_history_init(kn_conductor *c, const char *dir) {
    char stamp[32];
    time_t t = time(NULL);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&t));
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (dir)
        snprintf(c->history_dir, sizeof c->history_dir, "%s/%s-%s", dir, c->instance, stamp);
    else if (xdg && *xdg)
        snprintf(c->history_dir, sizeof c->history_dir, "%s/kanon/history/%s-%s", xdg, c->instance,
                 stamp);
    else
        snprintf(c->history_dir, sizeof c->history_dir, "%s/.local/state/kanon/history/%s-%s",
                 home ? home : "/tmp", c->instance, stamp);
}

int kn_history_check(const kn_conductor *c, int given, char *err, size_t errlen) {
    char base[sizeof c->history_dir], probe[sizeof c->history_dir + 32];
    snprintf(base, sizeof base, "%s", c->history_dir);
    char *slash = strrchr(base, '/'); /* the session's directory is made on first use */
    if (slash) *slash = 0;
    const char *what = given ? "--history-dir" : "the history directory";
    const char *fix = given ? "give a directory you can write to"
                            : "give one you can write to with --history-dir";
    int rc = kn_mkdirs(base);
    if (rc) {
        snprintf(err, errlen, "%s %s: cannot create it: %s; %s", what, base, strerror(-rc), fix);
        return rc;
    }
    /* Created or not, only a file written there proves every play can keep its version. */
    snprintf(probe, sizeof probe, "%s/.kanon-probe-XXXXXX", base);
    int fd = mkstemp(probe);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s %s: cannot write in it: %s; %s", what, base, strerror(e), fix);
        return -e;
    }
    close(fd);
    unlink(probe);
    return 0;
}

/* Versions keep the file's extension: a .dsp stays Faust source. */
static const char *ext(const kn_deck *d) {
    size_t n = strlen(d->path);
    return n > 4 && !strcmp(d->path + n - 4, ".dsp") ? ".dsp" : ".c";
}

static void deck_dir(const kn_conductor *c, const kn_deck *d, char *out, size_t n) {
    snprintf(out, n, "%s/%s", c->history_dir, d->name);
}

/* Versions already kept for this deck name (a deck played again later in
 * the same session continues its numbering). */
int kn_history_count(const kn_conductor *c, const kn_deck *d) {
    char path[4200];
    deck_dir(c, d, path, sizeof path);
    strcat(path, "/index.tsv");
    FILE *f = fopen(path, "r");
    int n = 0, ch;
    if (!f) return 0;
    while ((ch = fgetc(f)) != EOF) n += ch == '\n';
    fclose(f);
    return n;
}

int kn_history_pending(const kn_conductor *c, const kn_deck *d, uint32_t id, char *out, size_t n) {
    char dir[4200];
    deck_dir(c, d, dir, sizeof dir);
    snprintf(out, n, "%s/.pending-%u%s", dir, id, ext(d));
    return 0;
}

int kn_history_write(const kn_conductor *c, const kn_deck *d, uint32_t id, const char *src,
                     size_t len, char *path, size_t n) {
    char dir[4200];
    deck_dir(c, d, dir, sizeof dir);
    int rc = access(dir, W_OK) ? kn_mkdirs(dir) : 0; /* created once per deck */
    if (rc) return rc;
    kn_history_pending(c, d, id, path, n);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    ssize_t w = write(fd, src, len);
    rc = (w < 0 || (size_t)w != len) ? -ENOSPC : 0;
    if (close(fd) && !rc) rc = -errno;
    if (rc) unlink(path);
    return rc;
}

void kn_history_discard(const kn_conductor *c, const kn_deck *d, uint32_t id) {
    char path[4300];
    kn_history_pending(c, d, id, path, sizeof path);
    unlink(path);
}

int kn_history_commit(const kn_conductor *c, kn_deck *d, uint32_t id, double compile_ms) {
    char pending[4300], final[4300], index[4300], dir[4200];
    deck_dir(c, d, dir, sizeof dir);
    kn_history_pending(c, d, id, pending, sizeof pending);
    int v = kn_history_count(c, d) + 1;
    snprintf(final, sizeof final, "%s/%04d%s", dir, v, ext(d));
    if (rename(pending, final)) return -errno;
    snprintf(index, sizeof index, "%s/index.tsv", dir);
    int fd = open(index, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        return -errno;
    }
    char stamp[40];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", localtime(&ts.tv_sec));
    fprintf(f, "%d\t%s.%03ld\t%u\t%.3f\t%s\n", v, stamp, ts.tv_nsec / 1000000, id, compile_ms,
            d->origin);
    fclose(f);
    d->version = v;
    return v;
}

int kn_history_file(const kn_conductor *c, const kn_deck *d, int v, char *out, size_t n) {
    char dir[4200];
    deck_dir(c, d, dir, sizeof dir);
    snprintf(out, n, "%s/%04d%s", dir, v, ext(d));
    return access(out, R_OK) ? -ENOENT : 0;
}

/* The index as JSON: [{version, time, cartridge, compile_ms, origin, file}]. */
cJSON *kn_history_list(const kn_conductor *c, const kn_deck *d) {
    char dir[4200], path[4300], line[5000];
    deck_dir(c, d, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/index.tsv", dir);
    cJSON *a = cJSON_CreateArray();
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *fields[5] = {0}, *save = NULL, *p = line;
        for (int i = 0; i < 5; i++, p = NULL) fields[i] = strtok_r(p, "\t", &save);
        if (!fields[4]) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "version", atoi(fields[0]));
        cJSON_AddStringToObject(o, "time", fields[1]);
        cJSON_AddNumberToObject(o, "cartridge", atoi(fields[2]));
        cJSON_AddNumberToObject(o, "compile_ms", atof(fields[3]));
        cJSON_AddStringToObject(o, "origin", fields[4]);
        snprintf(path, sizeof path, "%s/%04d%s", dir, atoi(fields[0]), ext(d));
        cJSON_AddStringToObject(o, "file", path);
        cJSON_AddItemToArray(a, o);
    }
    if (f) fclose(f);
    return a;
}

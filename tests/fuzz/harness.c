/*
 * harness.c - see harness.h. Not part of the engine: only the fuzz
 * binaries link it (with the conductor sources but main.c, and shm/segment.c).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef FZ_REPO
#define FZ_REPO "."
#endif

kn_conductor fz_c;

static int errfd = 2;           /* the real stderr, kept before libFuzzer closes fd 2 */
static char tmpdir[PATH_MAX];   /* private: runtime dir, state (history), per-run map */
static char map_path[PATH_MAX]; /* per-run surface map (reply port: closed) */
static int fixtures_ok;         /* FZ_FIXTURES is ours and populated */

static const char *fixture_decks[] = {"pad", "sine", "hiss"};
#define NFIXTURES (int)(sizeof fixture_decks / sizeof fixture_decks[0])

/* ------------------------------------------------------------ messages */

static void vsay(const char *fmt, va_list ap) {
    char buf[4096];
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    if (n < 0) return;
    if ((size_t)n > sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (write(errfd, buf, (size_t)n) < 0) { /* nothing better to do */
    }
}

void fz_say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
}

void fz_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
    abort();
}

/* -------------------------------------------------------- fopen guard */

/* The conductor sources are compiled with -Dfopen=fz_fopen. */
FILE *fz_fopen(const char *path, const char *mode);

static int under(const char *path, const char *dir) {
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == 0);
}

/* Reads: regular files and directories outside /dev, /proc, /sys only
 * (a tty, FIFO or device would block the fuzzer or have side effects).
 * The conductor writes with fopen only its history index (in tmpdir). */
static int path_ok(const char *path, const char *mode) {
    if (!path || strpbrk(mode, "wa+")) return 1;
    char rp[PATH_MAX];
    if (!realpath(path, rp)) return 1; /* fopen fails the same way */
    if (under(rp, "/dev") || under(rp, "/proc") || under(rp, "/sys")) return 0;
    struct stat st;
    if (stat(rp, &st)) return 1;
    return S_ISREG(st.st_mode) || S_ISDIR(st.st_mode);
}

FILE *fz_fopen(const char *path, const char *mode) {
    if (!path_ok(path, mode)) {
        errno = EACCES;
        return NULL;
    }
    return fopen(path, mode);
}

/* ------------------------------------------------------------ files */

static int write_file(const char *path, const char *text) {
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    size_t n = strlen(text);
    int rc = write(fd, text, n) == (ssize_t)n ? 0 : -1;
    if (close(fd)) rc = -1;
    if (!rc) rc = rename(tmp, path); /* atomic: concurrent fuzzers write the same bytes */
    if (rc) unlink(tmp);
    return rc;
}

static int write_proc(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
    close(fd);
    return rc;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 18];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strdup(buf);
}

static int mkdir_private(const char *path) {
    if (mkdir(path, 0700) && errno != EEXIST) return -1;
    struct stat st; /* lstat: not a symlink planted in /tmp by someone else */
    if (lstat(path, &st) || !S_ISDIR(st.st_mode) || st.st_uid != getuid()) return -1;
    return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

static void rm_tree(const char *dir) {
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Leftovers of fuzzers that died (a crash skips atexit): their shared
 * memory and temp dirs, recognised by the pid in the name. */
static void reclaim_dead(const char *tdir) {
    char prefix[64];
    int plen = snprintf(prefix, sizeof prefix, "kanon.%u.fuzz-", (unsigned)getuid());
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, (size_t)plen)) continue;
        int pid = atoi(e->d_name + plen);
        if (pid > 0 && kill(pid, 0) && errno == ESRCH) {
            char inst[KN_NAME_MAX];
            snprintf(inst, sizeof inst, "fuzz-%d", pid);
            kn_seg_reclaim(inst);
        }
    }
    if (d) closedir(d);
    d = opendir(tdir);
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "kanon-fuzz-", 11)) continue;
        int pid = atoi(e->d_name + 11);
        struct stat st;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", tdir, e->d_name);
        if (pid > 0 && kill(pid, 0) && errno == ESRCH && !lstat(p, &st) && S_ISDIR(st.st_mode) &&
            st.st_uid == getuid())
            rm_tree(p);
    }
    if (d) closedir(d);
}

/* A UDP port on 127.0.0.1 that nothing listens on (we bound it, then let go). */
static int closed_port(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) ||
        getsockname(s, (struct sockaddr *)&a, &l))
        fz_fail("fuzz harness: cannot find a free UDP port: %s", strerror(errno));
    close(s);
    return ntohs(a.sin_port);
}

/* ---------------------------------------------------------- fixtures */

static const char *fixture_src =
    "// kanon fuzz fixture: never compiled (the fuzz conductor's cartridge is /bin/false)\n"
    "#include <kanon.h>\n"
    "void process(kn_ctx *c) { (void)c; }\n";

/* examples/maps/8knob.json with its reply port replaced. */
static char *map_with_port(const char *text, int port) {
    cJSON *m = cJSON_Parse(text);
    cJSON *reply = cJSON_GetObjectItemCaseSensitive(m, "reply");
    if (!m || !reply) fz_fail("fuzz harness: cannot parse the example map");
    cJSON_ReplaceItemInObjectCaseSensitive(reply, "port", cJSON_CreateNumber(port));
    char *out = cJSON_Print(m);
    cJSON_Delete(m);
    return out;
}

/* Stable files for the seed corpora: sources to play and maps to load.
 * Maps here send feedback to port 9 (discard), normally closed. */
static void make_shared_fixtures(const char *example_map) {
    if (mkdir_private(FZ_FIXTURES)) {
        fz_say("fuzz harness: %s is not usable (not ours?); seeds that name it will fail",
               FZ_FIXTURES);
        return;
    }
    static const char *srcs[] = {"pad", "sine", "hiss", "bass", "lead"};
    char p[PATH_MAX];
    for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
        snprintf(p, sizeof p, "%s/%s.c", FZ_FIXTURES, srcs[i]);
        if (write_file(p, fixture_src)) return;
    }
    snprintf(p, sizeof p, "%s/empty.c", FZ_FIXTURES);
    if (write_file(p, "")) return;
    char *m = map_with_port(example_map, 9);
    snprintf(p, sizeof p, "%s/8knob.json", FZ_FIXTURES);
    int rc = write_file(p, m);
    free(m);
    snprintf(p, sizeof p, "%s/bad.json", FZ_FIXTURES);
    rc |= write_file(p, "{\"reply\": {\"port\": 9}, \"knobs\": [ {\"in\": \"/k\"}, ");
    snprintf(p, sizeof p, "%s/nopages.json", FZ_FIXTURES);
    rc |= write_file(p, "{\"reply\": {\"host\": \"127.0.0.1\", \"port\": 9}, \"knobs\": []}");
    snprintf(p, sizeof p, "%s/tiny.json", FZ_FIXTURES);
    rc |= write_file(p,
                     "{\"reply\":{\"port\":9},\"page\":{\"in\":\"/p\"},\"knobs\":[{\"in\":\"/k\","
                     "\"push\":\"/k/p\",\"value\":\"/k/v\",\"display\":\"/k/d\"}],"
                     "\"buttons\":[{\"in\":\"/b\"}],\"modules\":[{\"in\":\"/m\",\"deck\":\"pad\"}],"
                     "\"pages\":[{\"name\":\"a\",\"knobs\":[{\"target\":\"cutoff\",\"scale\":"
                     "\"log\"}],\"buttons\":[\"mute\"],\"main\":\"master.gain\"},"
                     "{\"name\":\"b\",\"knobs\":[\"sine.freq\"],\"buttons\":[\"pad.level\"]}]}");
    /* maps that kn_surface_load must refuse, one reason each */
    static const struct {
        const char *name, *text;
    } bad[] = {
        {"badreply", "{\"reply\":{\"host\":\"localhost\",\"port\":0},\"pages\":[{}]}"},
        {"noin", "{\"reply\":{\"port\":9},\"knobs\":[{\"push\":\"/x\"}],\"pages\":[{}]}"},
        {"badbinding", "{\"reply\":{\"port\":9},\"knobs\":[{\"in\":\"/k\"}],"
                       "\"pages\":[{\"name\":\"p\",\"knobs\":[{\"scale\":\"log\"}]}]}"},
        {"nodeck", "{\"reply\":{\"port\":9},\"modules\":[{\"in\":\"/m\"}],\"pages\":[{}]}"},
        {"badmain", "{\"reply\":{\"port\":9},\"main\":{\"in\":\"x\"},\"pages\":[{}]}"},
        {"nomodules", "{\"reply\":{\"port\":9},\"knobs\":[{\"in\":\"/k\",\"display\":\"/d\"}],"
                      "\"main\":{\"in\":\"/m\"},\"pages\":[{\"knobs\":[\"level\"],"
                      "\"main\":\"gain\"}]}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(p, sizeof p, "%s/%s.json", FZ_FIXTURES, bad[i].name);
        rc |= write_file(p, bad[i].text);
    }
    /* too many of everything, and an address too long */
    char big[8192];
    int n = snprintf(big, sizeof big, "{\"reply\":{\"port\":9},\"knobs\":[");
    for (int i = 0; i < 17; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "%s{\"in\":\"/k%d\"}", i ? "," : "", i);
    snprintf(big + n, sizeof big - (size_t)n, "],\"pages\":[{}]}");
    snprintf(p, sizeof p, "%s/toomany.json", FZ_FIXTURES);
    rc |= write_file(p, big);
    n = snprintf(big, sizeof big, "{\"reply\":{\"port\":9},\"pages\":[");
    for (int i = 0; i < 17; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "%s{}", i ? "," : "");
    snprintf(big + n, sizeof big - (size_t)n, "]}");
    snprintf(p, sizeof p, "%s/manypages.json", FZ_FIXTURES);
    rc |= write_file(p, big);
    snprintf(big, sizeof big,
             "{\"reply\":{\"port\":9},\"knobs\":[{\"in\":\"/k\",\"value\":\"/%0200d\"}],"
             "\"pages\":[{}]}",
             0);
    snprintf(p, sizeof p, "%s/longaddr.json", FZ_FIXTURES);
    rc |= write_file(p, big);
    fixtures_ok = rc == 0;
}

/* Three versions of "pad" from an earlier part of this session, so
 * `history` lists something and `revert` has versions to go back to. */
static void make_history(void) {
    char dir[PATH_MAX + 64], p[PATH_MAX + 128];
    snprintf(dir, sizeof dir, "%s/pad", fz_c.history_dir);
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", fz_c.history_dir);
    /* history_dir = <state>/kanon/history/<instance>-<stamp> */
    for (char *s = parent + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(parent, 0700);
            *s = '/';
        }
    mkdir(parent, 0700);
    if (mkdir(dir, 0700) && errno != EEXIST) fz_fail("fuzz harness: cannot create %s", dir);
    char index[1024] = "";
    for (int v = 1; v <= 3; v++) {
        snprintf(p, sizeof p, "%s/%04d.c", dir, v);
        if (write_file(p, fixture_src)) fz_fail("fuzz harness: cannot write %s", p);
        size_t n = strlen(index);
        snprintf(index + n, sizeof index - n, "%d\t2024-01-01T00:00:0%d.000\t%d\t12.5\t%s\n", v, v,
                 v, v == 1 ? "play" : "save");
    }
    snprintf(p, sizeof p, "%s/index.tsv", dir);
    if (write_file(p, index)) fz_fail("fuzz harness: cannot write %s", p);
}

typedef struct fz_param {
    const char *name;
    double min, max, def;
} fz_param;

static void declare(kn_param_seg *ps, int i, const char *name, double min, double max, double def,
                    uint32_t by) {
    kn_param_slot *s = &ps->slot[i];
    memset(s->name, 0, sizeof s->name);
    memcpy(s->name, name, strnlen(name, KN_NAME_MAX)); /* maybe without a NUL: untrusted */
    atomic_store(&s->min, kn_dbits(min));
    atomic_store(&s->max, kn_dbits(max));
    atomic_store(&s->def, kn_dbits(def));
    atomic_store(&s->value, kn_dbits(def));
    atomic_store(&s->current, kn_dbits(def));
    atomic_store(&s->ramp, kn_dbits(0));
    atomic_store(&s->declared_by, by);
}

/* What a cartridge would have declared (kn_param_decl writes these slots
 * of the shared segment); "hiss" gets what a hostile one could write. */
static void declare_params(kn_deck *d) {
    kn_param_seg *ps = d->params;
    uint32_t by = d->next.id ? d->next.id : 1;
    int n = 0;
    if (!strcmp(d->name, "pad")) {
        declare(ps, n++, "cutoff", 20, 20000, 1200, by);
        declare(ps, n++, "tempo", 40, 240, 120, by);
        declare(ps, n++, "level", 0, 1, 0.5, by);
        declare(ps, n++, "tone", 100, 8000, 1000, by);
        declare(ps, n++, "freq", 30, 3000, 110, by);
    } else if (!strcmp(d->name, "sine")) {
        declare(ps, n++, "freq", 20, 20000, 440, by);
        declare(ps, n++, "level", 0, 1, 0.3, by);
        declare(ps, n++, "cutoff", 0, 0, 0, by); /* an empty range */
    } else {
        declare(ps, n++, "level", 0, 1, 0.1, by);
        declare(ps, n++, "tone", 100, 8000, 3000, by);
        declare(ps, n++, "abcdefghijklmnopqrstuvwxyz012345", 0, 1, 0, by); /* 32 bytes, no NUL */
        declare(ps, n++, "nan", NAN, INFINITY, NAN, by);
        declare(ps, n++, "inverted", 10, -10, 0, by);
        declare(ps, n++, "huge", -1e300, 1e300, 1e300, by);
        declare(ps, n++, "freq", 1e-300, 1e300, 1, 0); /* never declared by anyone */
        atomic_store_explicit(&ps->count, KN_MAX_PARAMS + 7, memory_order_release);
        return;
    }
    atomic_store_explicit(&ps->count, (uint32_t)n, memory_order_release);
}

static void fixture_deck(const char *name) {
    char req[PATH_MAX + 256];
    snprintf(req, sizeof req,
             "{\"cmd\":\"play\",\"file\":\"%s/src/%s.c\",\"deck\":\"%s\",\"watch\":false,"
             "\"fade_ms\":5}",
             tmpdir, name, name);
    free(kn_control_dispatch(&fz_c, req, strlen(req)));
    kn_deck *d = kn_deck_find(&fz_c, name);
    if (d) declare_params(d);
}

void fz_reload_map(void) {
    char err[600];
    if (kn_surface_load(&fz_c, map_path, err, sizeof err))
        fz_fail("fuzz harness: cannot load %s: %s", map_path, err);
}

/* --------------------------------------------------------------- setup */

/* A crash ends the fuzzer without atexit, leaving its shared memory, its
 * temp dir and (reparented to init) its cartridges. So the process forks
 * here, before any thread exists: the child goes on as the fuzzer, the
 * parent stays as a janitor with the pid run.sh waits on. It is a child
 * subreaper, so cartridges orphaned by a crash become its children; when
 * the fuzzer ends it reaps them all, removes the fuzzer's segments and temp
 * dir, and exits as the fuzzer did. FZ_NO_FORK=1 skips this (debuggers). */
static pid_t fuzzer_pid;

static void forward(int sig) {
    if (fuzzer_pid > 0) kill(fuzzer_pid, sig);
}

static void janitor(void) {
    const char *no = getenv("FZ_NO_FORK");
    if (no && *no == '1') return;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    pid_t pid = fork();
    if (pid < 0) fz_fail("fuzz harness: fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_CHILD_SUBREAPER, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* the janitor was killed: don't outlive it */
        if (getppid() == 1) _exit(1);
        return;
    }
    fuzzer_pid = pid;
    signal(SIGINT, forward); /* Ctrl-C and timeout(1) reach both; `kill PID` only us */
    signal(SIGTERM, forward);
    signal(SIGHUP, forward);
    int st = 0, fst = 0;
    pid_t w;
    while ((w = waitpid(-1, &st, 0)) != -1 || errno == EINTR)
        if (w == pid) fst = st; /* then reap the orphans, until none is left */
    kn_seg_reclaim(fz_c.instance);
    rm_tree(tmpdir);
    if (WIFSIGNALED(fst)) {
        signal(WTERMSIG(fst), SIG_DFL);
        raise(WTERMSIG(fst));
    }
    _exit(WIFEXITED(fst) ? WEXITSTATUS(fst) : 1);
}

static void teardown(void) {
    char path[4096];
    kn_rec_stats st;
    char err[4400];
    if (fz_c.rec && kn_rec_active(fz_c.rec, path, sizeof path, &st))
        kn_rec_stop(fz_c.rec, kn_audio_callbacks(fz_c.audio), &st, err, sizeof err);
    kn_audio_close(fz_c.audio); /* the audio thread is gone before the rings go */
    fz_c.audio = NULL;
    kn_decks_shutdown(&fz_c);
    kn_osc_close();
    kn_watch_close();
    kn_seg_reclaim(fz_c.instance);
    if (tmpdir[0]) rm_tree(tmpdir);
    tmpdir[0] = 0;
}

/* Runs the fuzzer in a network namespace of its own (unless
 * FZ_NO_NETNS=1), with only a loopback: fuzzed /kanon/subscribe ports, the
 * surface's feedback and error replies can reach nothing else on this
 * machine (e.g. an end-to-end test listening for OSC feedback). Needs root
 * or unprivileged user namespaces; otherwise it says so and goes on.
 * Called while the process has one thread (unshare requires it). */
static void isolate_network(void) {
    const char *no = getenv("FZ_NO_NETNS");
    if (no && *no == '1') return;
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWNET)) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNET)) {
            fz_say("fuzz harness: no network namespace (%s): OSC traffic uses the host's loopback",
                   strerror(errno));
            return;
        }
        char m[64];
        snprintf(m, sizeof m, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
        int ok =
            !write_proc("/proc/self/uid_map", m) && !write_proc("/proc/self/setgroups", "deny");
        snprintf(m, sizeof m, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
        if (!ok || write_proc("/proc/self/gid_map", m))
            fz_fail("fuzz harness: cannot map ids in the new user namespace");
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) ||
        (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr)))
        fz_fail("fuzz harness: cannot bring up the loopback: %s", strerror(errno));
    close(s);
}

void fz_setup(void) {
    errfd = dup(2);
    if (errfd < 0) errfd = 2;
    fcntl(errfd, F_SETFD, FD_CLOEXEC);
    isolate_network();
    signal(SIGPIPE, SIG_IGN); /* as the conductor: writes to dead cartridges' pipes */
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) dup2(null, 0), close(null); /* nothing may read a terminal */

    const char *t = getenv("TMPDIR");
    char tbase[PATH_MAX];
    snprintf(tbase, sizeof tbase, "%s", t && *t ? t : "/tmp");
    reclaim_dead(tbase);
    snprintf(tmpdir, sizeof tmpdir, "%s/kanon-fuzz-%d.XXXXXX", tbase, (int)getpid());
    if (!mkdtemp(tmpdir)) fz_fail("fuzz harness: mkdtemp %s: %s", tmpdir, strerror(errno));
    char p[PATH_MAX + 64];
    static const char *sub[] = {"run", "state", "src"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, sub[i]);
        if (mkdir(p, 0700)) fz_fail("fuzz harness: mkdir %s: %s", p, strerror(errno));
    }
    snprintf(p, sizeof p, "%s/run", tmpdir);
    setenv("XDG_RUNTIME_DIR", p, 1);
    snprintf(p, sizeof p, "%s/state", tmpdir);
    setenv("XDG_STATE_HOME", p, 1);

    /* ---- as conductor/main.c, with the options a test run would use ---- */
    kn_conductor *c = &fz_c;
    for (int i = 0; i < 64; i++) c->reap_fd[i] = -1;
    c->spare.rfd = c->spare.pidfd = c->spare_job = -1;
    char inst[KN_NAME_MAX];
    snprintf(inst, sizeof inst, "fuzz-%d", (int)getpid());
    if (kn_instance(inst, c->instance)) fz_fail("fuzz harness: bad instance name %s", inst);
    kn_runtime_path(c->instance, "sock", c->sock_path);
    kn_runtime_path(c->instance, "log", c->log_path);
    kn_seg_reclaim(c->instance);
    janitor();
    atexit(teardown);
    snprintf(c->cartridge_bin, sizeof c->cartridge_bin, "/bin/false");
    c->channels = 2;
    c->block = 64;
    c->state_bytes = 1u << 20;
    c->debounce_ns = 0;
    kn_history_init(c, NULL); /* $XDG_STATE_HOME/kanon/history/<instance>-<stamp> */
    if (kn_watch_open()) fz_fail("fuzz harness: cannot start inotify");
    c->rec = kn_rec_new(c->channels);
    if (!c->rec || kn_mix_init(&c->mix, c->channels, 48000)) fz_fail("fuzz harness: out of memory");
    c->mix.post_tap = kn_rec_post;
    c->mix.post_ctx = c->rec;
    kn_audio_opts ao = {"dummy", 48000, 2, 64, 0, 0, 0};
    c->midi = kn_midi_new(2, 0); /* routes and notes (no ports: dummy) */
    if (!c->midi) fz_fail("fuzz harness: out of memory");
    char err[2048];
    c->audio = kn_audio_open(&ao, &c->mix, c->rec, err, sizeof err);
    if (!c->audio) fz_fail("fuzz harness: %s", err);
    c->rate = kn_audio_rate(c->audio);
    kn_decks_retarget(c);
    snprintf(c->osc_host, sizeof c->osc_host, "127.0.0.1");
    /* UDP refuses file commands by default: trust it, so that fuzz_osc
     * reaches every handler (/kanon/play's argument handling too). */
    c->osc_trust_udp = 1;
    int tries = 0;
    do {
        c->osc_port = closed_port();
    } while (kn_osc_open(c, err, sizeof err) && ++tries < 20);
    if (tries == 20) fz_fail("fuzz harness: %s", err);

    /* ---- fixtures ---- */
    char ex[PATH_MAX];
    snprintf(ex, sizeof ex, "%s/examples/maps/8knob.json", FZ_REPO);
    char *example = read_file(ex);
    if (!example) fz_fail("fuzz harness: cannot read %s (built with -DFZ_REPO?)", ex);
    make_shared_fixtures(example);
    for (int i = 0; i < NFIXTURES; i++) {
        snprintf(p, sizeof p, "%s/src/%s.c", tmpdir, fixture_decks[i]);
        if (write_file(p, fixture_src)) fz_fail("fuzz harness: cannot write %s", p);
    }
    make_history();
    for (int i = 0; i < NFIXTURES; i++) fixture_deck(fixture_decks[i]);
    for (int i = 0; i < NFIXTURES; i++)
        if (!kn_deck_find(c, fixture_decks[i]))
            fz_fail("fuzz harness: fixture deck %s was not created", fixture_decks[i]);
    char *m = map_with_port(example, closed_port());
    free(example);
    snprintf(map_path, sizeof map_path, "%s/map.json", tmpdir);
    if (write_file(map_path, m)) fz_fail("fuzz harness: cannot write %s", map_path);
    free(m);
    fz_reload_map();
    fz_say("fuzz harness: conductor %s up (backend %s, rate %d, OSC 127.0.0.1:%d, tmp %s%s)",
           c->instance, kn_audio_backend(c->audio), c->rate, c->osc_port, tmpdir,
           fixtures_ok ? "" : ", shared fixtures missing");
}

/* ------------------------------------------------------------ between */

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int is_fixture(const char *name) {
    for (int i = 0; i < NFIXTURES; i++)
        if (!strcmp(name, fixture_decks[i])) return 1;
    return 0;
}

/* A recording into the temp dir is (nearly) always running, so a fuzzed
 * record_stop or status meets one; it is restarted at most every second
 * and cut after 2 s so the file stays small (48 kHz stereo float). */
int fz_keep_recording;
static void keep_recording(uint64_t now) {
    static uint64_t started;
    char path[4096], err[4400];
    kn_rec_stats st;
    int active = kn_rec_active(fz_c.rec, path, sizeof path, &st);
    if (active && now - started > 2000000000u) {
        kn_rec_stop(fz_c.rec, kn_audio_callbacks(fz_c.audio), &st, err, sizeof err);
        active = 0;
    }
    if (!active && now - started > 1000000000u) {
        snprintf(path, sizeof path, "%s/rec.wav", tmpdir);
        kn_rec_opts o = {.path = path, .rate = fz_c.rate, .lost = kn_audio_lost(fz_c.audio)};
        if (kn_rec_start(fz_c.rec, &o, err, sizeof err))
            fz_fail("fuzz harness: cannot record to %s: %s", path, err);
        started = now;
    }
}

void fz_between(void) {
    kn_conductor *c = &fz_c;
    /* the event loop's work, as in main.c (minus the sockets' input) */
    kn_watch_handle(c);
    kn_decks_handle(c);
    static uint64_t last_tick;
    uint64_t now = mono_ns();
    if (now - last_tick > 5000000u) { /* its pace: spawns a spare, so not every input */
        kn_decks_tick(c);
        last_tick = now;
    }
    kn_levels_tick(c);
    kn_osc_tick(c);
    if (kn_audio_poll(c->audio)) kn_decks_retarget(c);

    if (fz_keep_recording) keep_recording(now);

    /* reset: decks the input made go, fixtures it stopped come back */
    char err[256];
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (d->used && d->name[0] && !is_fixture(d->name)) {
            char name[KN_NAME_MAX];
            snprintf(name, sizeof name, "%s", d->name);
            if (kn_deck_stop(c, name, err, sizeof err))
                fz_fail("fuzz harness: stop %s: %s", name, err);
        }
    }
    int changed = c->master_db != 0;
    c->master_db = 0;
    for (int i = 0; i < NFIXTURES; i++) {
        kn_deck *d = kn_deck_find(c, fixture_decks[i]);
        if (!d) {
            fixture_deck(fixture_decks[i]);
            continue;
        }
        changed |= d->gain_db != 0 || d->mute || d->solo || d->pan != 0;
        d->gain_db = 0;
        d->mute = d->solo = 0;
        d->pan = 0;
    }
    if (changed) kn_levels_apply(c, 0);
}

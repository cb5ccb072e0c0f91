/*
 * lifecycle.c - `kanon up` and `kanon down`.
 *
 * up: starts kanon-conductor detached (its own session, stdio to the log
 * file in the runtime directory) with every option passed through, and
 * waits for the one JSON line it writes on --ready-fd: what it opened, or
 * why it could not start. The conductor's own instance lock decides
 * whether one is already running.
 *
 * down: asks the conductor to stop, then waits until its lock is released,
 * so that when `kanon down` returns nothing of kanon is left. With no
 * conductor answering and its lock free, it reclaims what a dead one (kill
 * -9, a crash) left: cartridges, shared memory, the socket.
 */
#include "cli.h"
#include "segment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void print_up(const cJSON *r) {
    printf("kanon: conductor up (pid %.0f, instance %s)\n"
           "  backend  %s\n"
           "  rate     %.0f Hz, %.0f channels\n"
           "  block    %.0f frames\n"
           "  latency  device %.1f ms + ring %.1f ms\n"
           "  socket   %s\n"
           "  log      %s\n",
           kn_jnum(r, "pid"), kn_cli_instance, kn_jstr(r, "backend"), kn_jnum(r, "rate"),
           kn_jnum(r, "channels"), kn_jnum(r, "block"), kn_jnum(r, "device_latency_ms"),
           kn_jnum(r, "ring_target_ms"), kn_jstr(r, "socket"), kn_jstr(r, "log"));
    char osc[512], in[700];
    printf("  osc      %s\n", kn_fmt_osc(r, osc, sizeof osc));
    if (kn_fmt_input(cJSON_GetObjectItem(r, "input"), in, sizeof in)) printf("  input    %s\n", in);
    if (kn_fmt_midi(cJSON_GetObjectItem(r, "midi"), in, sizeof in)) printf("  midi     %s\n", in);
    /* how `auto` chose: each backend tried, and why it was refused */
    const char *why = kn_jstr(r, "backend_choice");
    if (why && strchr(why, ';')) printf("  tried    %s\n", why);
}

/* Reads the ready line (up to 10 s). */
static cJSON *read_ready(int fd) {
    char buf[4096];
    size_t len = 0;
    struct pollfd p = {fd, POLLIN, 0};
    while (len < sizeof buf - 1 && poll(&p, 1, 10000) > 0) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
        if (memchr(buf, '\n', len)) break;
    }
    buf[len] = 0;
    return len ? cJSON_Parse(buf) : NULL;
}

/* A conductor that wrote no ready line but still runs (stuck opening its
 * device, say) is stopped, so `kanon up` never waits for it for ever and no
 * half-started conductor keeps the instance: SIGTERM, and SIGKILL if it is
 * still there 2 s later. Returns whether it had to. */
static int stop_unready(pid_t pid) {
    if (waitpid(pid, NULL, WNOHANG) != 0) return 0; /* gone (reaped now) */
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, NULL, WNOHANG) != 0) return 1;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    return 1; /* the caller's waitpid reaps it */
}

int cmd_up(int argc, char **argv) {
    char log[KN_PATH_MAX], bin[4200];
    if (kn_runtime_path(kn_cli_instance, "log", log)) {
        fprintf(stderr, "kanon up: error: cannot use the runtime directory\n");
        return KN_EXIT_INTERNAL;
    }
    snprintf(bin, sizeof bin, "%s/kanon-conductor", kn_bindir());
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC)) return KN_EXIT_INTERNAL;
    /* argv: conductor, the user's options, --instance, --ready-fd 3 */
    char **cargv = calloc((size_t)argc + 6, sizeof *cargv);
    int n = 0;
    cargv[n++] = bin;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--json")) cargv[n++] = argv[i]; /* ours, not the conductor's */
    cargv[n++] = "--instance";
    cargv[n++] = kn_cli_instance;
    cargv[n++] = "--ready-fd";
    cargv[n++] = "3";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 3);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
    pid_t pid;
    int rc = posix_spawn(&pid, bin, &fa, &at, cargv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    free(cargv);
    close(pfd[1]);
    if (rc) {
        fprintf(stderr, "kanon up: error: cannot start %s: %s\n", bin, strerror(rc));
        return KN_EXIT_INTERNAL;
    }
    cJSON *r = read_ready(pfd[0]);
    close(pfd[0]);
    int st = KN_EXIT_OK;
    if (!r) {
        fprintf(stderr, "kanon up: error: the conductor did not start%s; see %s\n",
                stop_unready(pid) ? " (it had not answered within 10 s: stopped)" : "", log);
        st = KN_EXIT_INTERNAL;
    } else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"))) {
        fprintf(stderr, "kanon up: error: %s\n", kn_jstr(r, "error"));
        st = KN_EXIT_ERR;
    } else if (kn_has_flag(argc, argv, "--json")) {
        kn_print_json(r);
    } else {
        print_up(r);
    }
    if (st) waitpid(pid, NULL, 0); /* it exited (or was stopped): no zombie left behind */
    cJSON_Delete(r);
    return st;
}

/* 1 once nobody holds the instance lock (or its file is gone). */
static int lock_free(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    int free_ = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return free_;
}

/* What `kanon down` cleaned up after a conductor that was gone. */
typedef struct reclaimed {
    int segments, socket, cartridges;
} reclaimed;

/* Whether /proc/PID/FILE holds `needle` (NUL bytes included) in its first
 * 1 MiB. */
static int proc_has(const char *pid, const char *file, const char *needle, size_t n) {
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/%s", pid, file);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    static char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return memmem(buf, len, needle, n) != NULL;
}

/* Cartridges of this instance whose conductor is gone. They die with it
 * (PR_SET_PDEATHSIG, which their code cannot undo), so this finds one only
 * if that failed: a cartridge of ours whose command line names the
 * instance. (A spare that took a job keeps the command line "spare" and
 * its segments are nameless memfds: nothing ties it to an instance, and it
 * died with its conductor like every other.) */
static int kill_orphans(void) {
    char arg[64];
    size_t an = (size_t)snprintf(arg, sizeof arg, "--instance%c%s", 0, kn_cli_instance) + 1;
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], exe[4200];
        struct stat st;
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s", e->d_name);
        if (stat(path, &st) || st.st_uid != getuid()) continue; /* only ours, even as root */
        snprintf(path, sizeof path, "/proc/%s/exe", e->d_name);
        ssize_t len = readlink(path, exe, sizeof exe - 1);
        if (len <= 0) continue;
        exe[len] = 0;
        if (!strstr(exe, "/kanon-cartridge")) continue;
        if (proc_has(e->d_name, "cmdline", arg, an))
            n += kill((pid_t)atoi(e->d_name), SIGKILL) == 0;
    }
    if (d) closedir(d);
    return n;
}

/* No conductor answered. If none holds the instance lock either, removes
 * what a dead one left; holding the lock meanwhile keeps a new conductor
 * from starting halfway through. -1 if a conductor holds the lock but
 * does not answer (*holder: its pid). */
static int reclaim_dead(const char *lock, reclaimed *r, char holder[32]) {
    *r = (reclaimed){0, 0, 0};
    int fd = open(lock, O_RDONLY | O_CLOEXEC);
    /* one on its way out lets go of its lock soon */
    for (int i = 0; fd >= 0 && i < 400 && flock(fd, LOCK_EX | LOCK_NB); i++) {
        struct timespec t = {0, 5000000};
        nanosleep(&t, NULL);
    }
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB)) {
        ssize_t n = pread(fd, holder, 31, 0);
        holder[n > 0 ? n : 0] = 0;
        holder[strcspn(holder, "\n")] = 0;
        close(fd);
        return -1;
    }
    r->cartridges = kill_orphans();
    int segs = kn_seg_reclaim(kn_cli_instance);
    r->segments = segs > 0 ? segs : 0;
    char sock[KN_PATH_MAX];
    r->socket = !kn_runtime_path(kn_cli_instance, "sock", sock) && unlink(sock) == 0;
    if (fd >= 0) close(fd); /* the lock file stays, as the conductor leaves it */
    return 0;
}

static void print_down(int json, int was_running, const reclaimed *r) {
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "instance", kn_cli_instance);
        cJSON_AddBoolToObject(o, "was_running", was_running);
        if (r) {
            cJSON *c = cJSON_AddObjectToObject(o, "reclaimed");
            cJSON_AddNumberToObject(c, "segments", r->segments);
            cJSON_AddBoolToObject(c, "socket", r->socket);
            cJSON_AddNumberToObject(c, "cartridges", r->cartridges);
        }
        kn_print_json(o);
        cJSON_Delete(o);
    } else if (was_running) {
        printf("kanon: conductor stopped\n");
    } else if (!r || !(r->segments || r->socket || r->cartridges)) {
        printf("kanon: no conductor is running for instance '%s'\n", kn_cli_instance);
    } else {
        char what[256];
        int n = 0;
        if (r->cartridges)
            n += snprintf(what + n, sizeof what - (size_t)n, "ended %d orphaned cartridge%s, ",
                          r->cartridges, r->cartridges == 1 ? "" : "s");
        if (r->segments || r->socket) n += snprintf(what + n, sizeof what - (size_t)n, "removed ");
        if (r->segments)
            n += snprintf(what + n, sizeof what - (size_t)n, "%d stale shared-memory segment%s%s",
                          r->segments, r->segments == 1 ? "" : "s", r->socket ? " and " : "");
        if (r->socket) n += snprintf(what + n, sizeof what - (size_t)n, "its socket");
        if (n >= 2 && what[n - 2] == ',') what[n - 2] = 0; /* only cartridges: no ", " */
        printf("kanon: no conductor was running (instance %s); %s\n", kn_cli_instance, what);
    }
}

int cmd_down(int argc, char **argv) {
    kn_args a;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON, 0, 0);
    if (st) return st;
    char lock[KN_PATH_MAX];
    kn_runtime_path(kn_cli_instance, "lock", lock);
    cJSON *r = kn_request_quiet(kn_cmd("down"), 5000);
    if (!r) {
        reclaimed rc;
        char holder[32];
        if (reclaim_dead(lock, &rc, holder)) {
            fprintf(stderr,
                    "kanon down: error: the conductor of instance '%s' (pid %s) holds its lock "
                    "but does not answer; if it is stuck, end it with `kill %s` and run `kanon "
                    "down` again\n",
                    kn_cli_instance, holder, holder);
            return KN_EXIT_INTERNAL;
        }
        print_down(a.json, 0, &rc);
        return KN_EXIT_OK;
    }
    cJSON_Delete(r);
    for (int i = 0; i < 1000 && !lock_free(lock); i++) {
        struct timespec t = {0, 5000000};
        nanosleep(&t, NULL);
    }
    if (!lock_free(lock)) {
        fprintf(stderr, "kanon down: error: the conductor did not exit within 5 s\n");
        return KN_EXIT_INTERNAL;
    }
    print_down(a.json, 1, NULL);
    return KN_EXIT_OK;
}

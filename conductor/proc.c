/*
 * proc.c - the process mechanics under the decks: starting cartridges
 * (posix_spawn: nng is not fork-safe), the spare kept waiting for a job,
 * handing a deck's segment descriptors over (shm/contract.h), setting a
 * producer's scheduling, reading and parsing report lines, killing and
 * reaping. Nothing here decides anything about a deck: handover.c does
 * (and its unit test replaces this file with a fake). Exits are watched
 * through pidfds and reaped from the event loop: nothing here ever blocks
 * on a cartridge. Control thread only.
 */
#include "conductor.h"
#include "input.h"
#include "contract.h"
#include "priority.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

void kn_proc_close(kn_proc *p) {
    if (p->rfd >= 0) close(p->rfd);
    if (p->pidfd >= 0) close(p->pidfd);
    memset(p, 0, sizeof *p);
    p->rfd = p->pidfd = -1;
}

/* Kills a cartridge and hands its pidfd to the reap list. */
void kn_proc_kill(kn_conductor *c, kn_proc *p) {
    if (p->st == KN_PROC_NONE) return;
    kn_proc_sigkill(p); /* without a pidfd, the pid is still ours (unreaped) */
    int queued = 0;
    for (int i = 0; i < 64 && !queued; i++)
        if (c->reap_pid[i] <= 0) {
            c->reap_fd[i] = p->pidfd;
            c->reap_pid[i] = p->pid;
            p->pidfd = -1;
            queued = 1;
        }
    if (!queued && p->pid > 0) waitpid(p->pid, NULL, 0); /* list full: SIGKILLed, so brief */
    kn_proc_close(p);
}

void kn_proc_sigkill(const kn_proc *p) {
    if (p->pidfd >= 0)
        syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
    else if (p->pid > 0)
        kill(p->pid, SIGKILL);
}

int kn_proc_exited(int pidfd, pid_t pid, siginfo_t *si) {
    memset(si, 0, sizeof *si);
    int rc = pidfd >= 0 ? waitid(P_PIDFD, (id_t)pidfd, si, WEXITED | WNOHANG)
                        : waitid(P_PID, (id_t)pid, si, WEXITED | WNOHANG);
    return rc == 0 && si->si_pid;
}

/* Starts kanon-cartridge with argv; its fd 3 reports to p->rfd. A live
 * cartridge (d given) gets its deck's segments at KN_FD_SEG(kind), and
 * nothing else: every other descriptor of ours is close-on-exec; one whose
 * state grows at this swap (`grown`), the larger pair instead of the state
 * and snapshot and the deck's state at KN_FD_OLD_STATE. A spare (d NULL)
 * gets a job socket as stdin instead, whose other end is returned in
 * *job_fd. */
static int start_process(kn_conductor *c, char **argv, const kn_deck *d, int grown, kn_proc *p,
                         int *job_fd) {
    int pfd[2], jfd[2] = {-1, -1};
    if (pipe2(pfd, O_CLOEXEC)) return -errno;
    if (job_fd && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, jfd)) {
        close(pfd[0]);
        close(pfd[1]);
        return -errno;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (job_fd)
        posix_spawn_file_actions_adddup2(&fa, jfd[1], KN_FD_JOB);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], KN_FD_REPORT);
    for (int k = KN_SEG_RING; d && k <= KN_SEG_SNAP; k++) {
        int fd = !grown              ? d->seg_fd[k]
                 : k == KN_SEG_STATE ? d->grow_fd[0]
                 : k == KN_SEG_SNAP  ? d->grow_fd[1]
                                     : d->seg_fd[k];
        posix_spawn_file_actions_adddup2(&fa, fd, KN_FD_SEG(k));
    }
    if (d && grown) posix_spawn_file_actions_adddup2(&fa, d->seg_fd[KN_SEG_STATE], KN_FD_OLD_STATE);
    if (d && c->routes_ro >= 0) posix_spawn_file_actions_adddup2(&fa, c->routes_ro, KN_FD_ROUTES);
    for (int i = 0; d && i < KN_SRCS; i++)
        if (c->slot_ring_ro[i] >= 0)
            posix_spawn_file_actions_adddup2(&fa, c->slot_ring_ro[i], KN_FD_SRC(i));
    pid_t pid;
    int rc = posix_spawn(&pid, c->cartridge_bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (job_fd) close(jfd[1]);
    if (rc) {
        close(pfd[0]);
        if (job_fd) close(jfd[0]);
        return -rc;
    }
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->rfd = pfd[0];
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    p->st = KN_PROC_COMPILING;
    p->spawned_ns = kn_mono_ns();
    if (job_fd) *job_fd = jfd[0];
    return 0;
}

/* Keeps one cartridge started and waiting, so a swap costs only the compile. */
void kn_spare_ensure(kn_conductor *c) {
    siginfo_t si;
    if (c->spare.st != KN_PROC_NONE) {
        memset(&si, 0, sizeof si);
        if (!kn_proc_exited(c->spare.pidfd, c->spare.pid, &si)) return; /* alive and waiting */
        close(c->spare_job);
        kn_proc_close(&c->spare);
    }
    char *argv[] = {c->cartridge_bin, KN_MODE_SPARE, NULL};
    if (start_process(c, argv, NULL, 0, &c->spare, &c->spare_job)) c->spare.st = KN_PROC_NONE;
}

/* Hands the spare its job: one message, the live arguments as a JSON array,
 * with the deck's segment descriptors attached (SCM_RIGHTS, in kind order),
 * then the routes segment and every source's ring (contract.h; the routes
 * segment stands in for a source that has none: it maps as no ring).
 * Never blocks: the socket is new and the message far below its buffer. */
static int spare_send_job(kn_conductor *c, const kn_deck *d, char **args, int nargs) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < nargs; i++) cJSON_AddItemToArray(a, cJSON_CreateString(args[i]));
    char *line = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    if (!line) return -ENOMEM;
    union {
        char buf[CMSG_SPACE(sizeof(int) * KN_JOB_FDS)];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    int fds[KN_JOB_FDS];
    memcpy(fds, &d->seg_fd[KN_SEG_RING], sizeof(int) * KN_SEG_KINDS);
    fds[KN_SEG_KINDS] = c->routes_ro;
    for (int i = 0; i < KN_SRCS; i++)
        fds[KN_SEG_KINDS + 1 + i] = c->slot_ring_ro[i] >= 0 ? c->slot_ring_ro[i] : c->routes_ro;
    struct iovec iov = {line, strlen(line)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * KN_JOB_FDS);
    memcpy(CMSG_DATA(cm), fds, sizeof fds);
    ssize_t w = sendmsg(c->spare_job, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    int ok = w == (ssize_t)iov.iov_len;
    free(line);
    close(c->spare_job);
    c->spare_job = -1;
    return ok ? 0 : -EPIPE;
}

int kn_proc_spawn(kn_conductor *c, kn_deck *d, kn_proc *p, const char *src_path, char *err,
                  size_t errlen) {
    char deck[16], id[16], dir[4096], report[16], timeout[32], state_mb[32], voices[16];
    uint32_t nid = p->id;
    int restore = p->restore, cc = p->cc;
    snprintf(deck, sizeof deck, "%d", (int)(d - c->deck));
    snprintf(id, sizeof id, "%u", nid);
    snprintf(report, sizeof report, "%d", KN_FD_REPORT);
    snprintf(timeout, sizeof timeout, "%g", c->compile_timeout);
    snprintf(state_mb, sizeof state_mb, "%.17g", (double)c->state_cap / 1048576);
    snprintf(dir, sizeof dir, "%s", d->path);
    *strrchr(dir, '/') = 0; /* d->path is absolute */
    char so[4200];
    snprintf(so, sizeof so, "%s/" KN_OPT_BUILD, d->opt.dir);
    snprintf(voices, sizeof voices, "%d", d->voices);
    char *args[28] = {(char *)src_path,
                      KN_ARG(KN_OPT_DISPLAY),
                      d->display,
                      KN_ARG(KN_OPT_INSTANCE),
                      c->instance,
                      KN_ARG(KN_OPT_DECK),
                      deck,
                      KN_ARG(KN_OPT_ID),
                      id,
                      KN_ARG(KN_OPT_REPORT),
                      report,
                      KN_ARG(KN_OPT_INCLUDE),
                      dir[0] ? dir : "/",
                      KN_ARG(KN_OPT_HIDE),
                      c->history_dir,
                      KN_ARG(KN_OPT_COMPILE_TIMEOUT),
                      timeout,
                      KN_ARG(KN_OPT_STATE_MB),
                      state_mb};
    int nargs = 19;
    if (p->restore) args[nargs++] = KN_ARG(KN_OPT_RESTORE);                       /* a revert */
    if (p->cc) args[nargs++] = KN_ARG(KN_OPT_SO), args[nargs++] = so;             /* a tier swap */
    if (d->voices) args[nargs++] = KN_ARG(KN_OPT_VOICES), args[nargs++] = voices; /* Faust */
    /* a state that grows here has five descriptors: not a spare's job */
    int grown = d->grow_state && d->grow_for == nid;
    kn_spare_ensure(c);
    if (c->spare.st != KN_PROC_NONE && !grown) { /* hand the job to the waiting spare */
        if (spare_send_job(c, d, args, nargs) == 0) {
            *p = c->spare;
            p->id = nid;
            p->restore = restore;
            p->cc = cc;
            p->spawned_ns = kn_mono_ns();
            memset(&c->spare, 0, sizeof c->spare);
            c->spare.rfd = c->spare.pidfd = -1;
            return 0;
        }
        kn_proc_kill(c, &c->spare); /* it died: start one the slow way */
    }
    char *argv[32] = {c->cartridge_bin, KN_MODE_LIVE};
    for (int i = 0; i < nargs; i++) argv[2 + i] = args[i];
    int rc = start_process(c, argv, d, grown, p, NULL);
    p->id = nid;
    p->restore = restore;
    p->cc = cc;
    if (rc) {
        snprintf(err, errlen, "cannot start %s: %s", c->cartridge_bin, strerror(-rc));
        return rc;
    }
    return 0;
}

const char *kn_proc_describe_exit(const siginfo_t *si, char *buf, size_t n) {
    if (si->si_code == CLD_EXITED)
        snprintf(buf, n, "exited with status %d", si->si_status);
    else if (si->si_status == SIGXCPU)
        snprintf(buf, n, "killed by SIGXCPU (ran 100 ms without pausing: hung or too slow)");
    else if (sigabbrev_np(si->si_status)) /* the name says it: "killed by SIGSEGV" */
        snprintf(buf, n, "killed by SIG%s", sigabbrev_np(si->si_status));
    else {
        char sig[96];
        snprintf(buf, n, "killed by %s", kn_signal_text(si->si_status, sig, sizeof sig));
    }
    return buf;
}

/* The producing cartridge's render loop runs SCHED_FIFO
 * KN_CARTRIDGE_RT_PRIO, below the audio thread (shm/priority.h), or at
 * normal priority while the audio thread is not real-time (it must not be
 * outranked), the cartridges alone overload the machine, or this one
 * needed more than real time (a hog: load.c). We
 * set it: a cartridge never holds the right to raise its own priority (a
 * root one has no CAP_SYS_NICE), and it capped its RLIMIT_RTTIME before
 * its code ran, so a loop that never sleeps gets SIGXCPU instead of
 * starving the machine. Without that cap, or without the right, it plays
 * at normal priority. */
void kn_proc_priority(kn_conductor *c, kn_deck *d, const kn_proc *p) {
    struct rlimit rt;
    const char *why = NULL;
    int mixer_rt = kn_audio_outranks_cartridges(c->audio);
    int want = mixer_rt && !c->ov.demoted && !p->hog;
    struct sched_param sp = {.sched_priority = want ? KN_CARTRIDGE_RT_PRIO : 0};
    if (p->pid <= 0) return;
    if (!want) {
        sched_setscheduler(p->pid, SCHED_OTHER, &sp); /* lowering needs no right */
        if (d && !mixer_rt && !p->hog)
            kn_deck_event(c, d, "note",
                          "cartridge %u: real-time scheduling off: the conductor's audio thread "
                          "runs at normal priority, and must not be outranked",
                          p->id);
        return;
    }
    char rtkit_why[200] = "";
    c->cart_rt_via = "rlimit";
    if (prlimit(p->pid, RLIMIT_RTTIME, NULL, &rt) || rt.rlim_max == RLIM_INFINITY)
        why = "its CPU time is not capped";
    else if (sched_setscheduler(p->pid, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp)) {
        why = strerror(errno);
        /* not ours to grant: rtkit may (the render loop is the main thread) */
        if (errno == EPERM && kn_rtkit_realtime(p->pid, p->pid, KN_CARTRIDGE_RT_PRIO, rtkit_why,
                                                sizeof rtkit_why) == 0)
            why = NULL, c->cart_rt_via = "rtkit";
        else if (rtkit_why[0])
            why = rtkit_why;
    }
    if (why) c->cart_rt_via = "none";
    if (why && !c->rt_refused) /* once: the next cartridges fare the same */
        kn_log("cartridges play at normal priority: real-time scheduling unavailable (%s)", why);
    c->rt_refused = why != NULL;
}

/* ------------------------------------------------------------ reports */

static double number(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void copy_string(const cJSON *o, const char *key, char *out, size_t n) {
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
    snprintf(out, n, "%s", v ? v : "");
}

/* One line of the contract's JSON (shm/contract.h) into a kn_report. */
static void parse_report(const char *line, kn_report *r) {
    static const struct {
        const char *word;
        kn_report_type type;
    } words[] = {
        {KN_REPORT_TESTING, KN_REP_TESTING}, {KN_REPORT_COMPILED, KN_REP_COMPILED},
        {KN_REPORT_RUNNING, KN_REP_RUNNING}, {KN_REPORT_NOTE, KN_REP_NOTE},
        {KN_REPORT_BLOCKED, KN_REP_BLOCKED}, {KN_REPORT_ERROR, KN_REP_ERROR},
        {KN_REPORT_FATAL, KN_REP_ERROR},
    };
    memset(r, 0, offsetof(kn_report, message));
    r->message[0] = 0;
    cJSON *o = cJSON_Parse(line);
    const char *ev = cJSON_GetStringValue(cJSON_GetObjectItem(o, KN_REPORT_EVENT));
    r->type = ev ? KN_REP_OTHER : KN_REP_MALFORMED;
    for (size_t i = 0; ev && i < sizeof words / sizeof words[0]; i++)
        if (!strcmp(ev, words[i].word)) r->type = words[i].type;
    r->t = number(o, KN_REPORT_T);
    r->ms = number(o, KN_REPORT_MS);
    r->test_ms = number(o, KN_REPORT_TEST_MS);
    r->frame = number(o, KN_REPORT_FRAME);
    r->state_need = number(o, KN_REPORT_STATE_NEED);
    r->latency = number(o, KN_REPORT_LATENCY);
    const char *tier = cJSON_GetStringValue(cJSON_GetObjectItem(o, KN_REPORT_TIER));
    r->tier_cc = tier && !strcmp(tier, KN_TIER_CC);
    r->same = cJSON_IsTrue(cJSON_GetObjectItem(o, KN_REPORT_SAME));
    r->diff = number(o, KN_REPORT_DIFF);
    r->diff_frame = number(o, KN_REPORT_DIFF_FRAME);
    r->compared = number(o, KN_REPORT_COMPARED);
    copy_string(o, KN_REPORT_SYSCALL, r->syscall, sizeof r->syscall);
    copy_string(o, KN_REPORT_MESSAGE, r->message, sizeof r->message);
    cJSON_Delete(o);
}

int kn_proc_report(kn_proc *p, kn_report *r) {
    for (;;) {
        char *nl = memchr(p->line, '\n', p->len);
        if (nl) {
            *nl = 0;
            size_t used = (size_t)(nl - p->line) + 1;
            parse_report(p->line, r);
            memmove(p->line, p->line + used, p->len - used);
            p->len -= used;
            return 1;
        }
        if (p->len >= sizeof p->line - 1) p->len = 0; /* an absurd line: drop it */
        if (p->rfd < 0) return 0;
        ssize_t n = read(p->rfd, p->line + p->len, sizeof p->line - 1 - p->len);
        if (n == 0) { /* it closed its end (or every fd): poll would say so for ever */
            close(p->rfd);
            p->rfd = -1;
        }
        if (n <= 0) return 0;
        p->len += (size_t)n;
    }
}

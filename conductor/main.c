/*
 * main.c - kanon-conductor: the process that never restarts.
 *
 * Start-up: take the instance lock (a second conductor is refused with the
 * first one's pid), reclaim segments and the socket a killed conductor left
 * behind, open the device, listen on the control socket, tell whoever
 * started us (--ready-fd, used by `kanon up`) what we opened.
 *
 * The event loop, in one sitting:
 *
 *     poll(control socket, signalfd, inotify, cartridge pipes and pidfds;
 *          20 ms, or less when a save's debounce ends sooner)
 *     control requests  -> kn_control_handle
 *     saved files       -> kn_watch_handle   (marks decks dirty)
 *     cartridge events  -> kn_decks_handle   (reports, exits, handovers)
 *     housekeeping      -> kn_decks_tick     (reload saves, free faded decks,
 *                                             load meters)
 *     device loss       -> kn_audio_poll     (fail over to dummy)
 *     Ableton Link      -> kn_link_tick      (tempo, phase, start/stop with peers)
 *
 * The audio thread (audio.c, mixer.c) runs beside this loop and shares
 * only the kn_mix atomics with it.
 */
#include "input.h"
#include "conductor.h"
#include "midi.h"
#include "osc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void usage(FILE *f) {
    fputs("usage: kanon-conductor [options]   (normally started by `kanon up`)\n"
          "  --backend auto|jack|pulseaudio|alsa|dummy   output backend (default auto)\n"
          "  --rate HZ          sample rate (default 48000; JACK imposes its own)\n"
          "  --block FRAMES     frames per cartridge block (default 64)\n"
          "  --latency MS       device buffer (default 20, 100 on dummy; JACK uses its period)\n"
          "  --channels N       output channels (default 2)\n"
          "  --inputs N         open the device's capture side too, N channels (1..8; default\n"
          "                     none): the source `in` of `kanon route` (on JACK: ports\n"
          "                     kanon:in_1 .. kanon:in_N)\n"
          "  --midi-ports N     JACK MIDI input ports kanon:midi_in, midi_in_2 .. (0..8;\n"
          "                     default 1; 0: none), and kanon:midi_out (docs/midi.md)\n"
          "  --midi-clock       send MIDI clock on kanon:midi_out: 24 ticks a beat at the\n"
          "                     timeline's tempo, a start on the first bar, a stop at the end\n"
          "  --no-limiter       turn the master safety limiter off\n"
          "  --state-mb MB      the most state a deck may have (default 256, at most 1024):\n"
          "                     a deck's state segment starts at 16 MB and grows, before the\n"
          "                     deck first plays, to what its program asks for\n"
          "  --compile-timeout S  a version's compile time limit, faust included (default 10)\n"
          "  --tier tcc|auto      auto (default): a version playing on its tcc build is\n"
          "                       compiled again with cc -O2 and swapped in; tcc: tcc only\n"
          "  --instance NAME    run a separate conductor (default $KANON_INSTANCE or 'default')\n"
          "  --debounce MS      wait this long after a save before compiling (default 0)\n"
          "  --history-dir DIR  where versions are kept (default $XDG_STATE_HOME/kanon/history)\n"
          "  --osc-port PORT    OSC over UDP (default 7770; 0 turns UDP off)\n"
          "  --osc-host ADDR    address to listen on (default 127.0.0.1; 0.0.0.0 for all)\n"
          "  --osc-trust-udp    take file commands (/kanon/play) over UDP too: lets anyone\n"
          "                     who can send to the port run code as you (default off)\n"
          "  --ready-fd FD      write one JSON line when ready or failed (for `kanon up`)\n"
          "  --link             join an Ableton Link session (tempo, beat phase, start/stop\n"
          "                     shared with every Link peer on the network; default off)\n",
          f);
}

typedef struct opts {
    kn_audio_opts audio;
    const char *instance, *history_dir, *osc_host;
    int osc_port, osc_explicit, osc_trust_udp;
    int no_limiter, ready_fd, link, midi_ports, midi_clock;
    double state_mb, debounce_ms, compile_timeout;
    int tier_tcc;
} opts;

/* The first bad number on the command line, reported once --ready-fd is known. */
static char bad_number[300];

/* Every number option: finite, in lo..hi, whole where asked; else `keep`
 * (the value so far) and the message is kept for main. */
static double num(const char *what, double lo, double hi, int whole, double keep) {
    double v;
    char msg[sizeof bad_number];
    if (!kn_number(what, optarg, lo, hi, whole, "", &v, msg, sizeof msg)) return v;
    if (!bad_number[0]) snprintf(bad_number, sizeof bad_number, "%s", msg);
    return keep;
}

static int parse(int argc, char **argv, opts *o) {
    static const struct option lo[] = {{"backend", 1, 0, 'B'},
                                       {"rate", 1, 0, 'r'},
                                       {"block", 1, 0, 'b'},
                                       {"latency", 1, 0, 'l'},
                                       {"channels", 1, 0, 'c'},
                                       {"inputs", 1, 0, 'i'},
                                       {"midi-ports", 1, 0, 'M'},
                                       {"midi-clock", 0, 0, 'C'},
                                       {"no-limiter", 0, 0, 'L'},
                                       {"instance", 1, 0, 'I'},
                                       {"ready-fd", 1, 0, 'R'},
                                       {"state-mb", 1, 0, 'S'},
                                       {"debounce", 1, 0, 'D'},
                                       {"history-dir", 1, 0, 'H'},
                                       {"help", 0, 0, 'h'},
                                       {"osc-port", 1, 0, 'O'},
                                       {"osc-host", 1, 0, 'o'},
                                       {"osc-trust-udp", 0, 0, 'U'},
                                       {"link", 0, 0, 'K'},
                                       {KN_OPT_TIER, 1, 0, 'z'},
                                       {KN_OPT_COMPILE_TIMEOUT, 1, 0, 'T'},
                                       {0, 0, 0, 0}};
    *o = (opts){.audio = {"auto", 48000, 2, 64, 0, 0, 0},
                .ready_fd = -1,
                .midi_ports = 1,
                .state_mb = KN_STATE_MB_DEFAULT,
                .compile_timeout = KN_COMPILE_TIMEOUT_DEFAULT,
                .debounce_ms = 0,
                .osc_host = "127.0.0.1",
                .osc_port = 7770};
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'B': o->audio.backend = optarg; break;
        case 'r': o->audio.rate = (int)num("--rate", 8000, 384000, 1, o->audio.rate); break;
        case 'b': o->audio.block = (int)num("--block", 16, 4096, 1, o->audio.block); break;
        case 'l': o->audio.latency_ms = num("--latency", 1, 2000, 0, 0); break;
        case 'c': o->audio.channels = (int)num("--channels", 1, KN_MAX_CHANNELS, 1, 2); break;
        case 'i': o->audio.inputs = (int)num("--inputs", 0, KN_MAX_CHANNELS, 1, 0); break;
        case 'M': o->midi_ports = (int)num("--midi-ports", 0, KN_MIDI_PORTS, 1, 1); break;
        case 'C': o->midi_clock = 1; break;
        case 'L': o->no_limiter = 1; break;
        case 'I': o->instance = optarg; break;
        case 'R': o->ready_fd = (int)num("--ready-fd", 0, 1 << 20, 1, -1); break;
        case 'S':
            o->state_mb = num("--state-mb", 1, KN_STATE_MB_MAX, 0, KN_STATE_MB_DEFAULT);
            break;
        case 'T':
            o->compile_timeout = num(KN_ARG(KN_OPT_COMPILE_TIMEOUT), 1, KN_COMPILE_TIMEOUT_MAX, 0,
                                     KN_COMPILE_TIMEOUT_DEFAULT);
            break;
        case 'D': o->debounce_ms = num("--debounce", 0, 1000, 0, 0); break;
        case 'H': o->history_dir = optarg; break;
        case 'O': o->osc_port = (int)num("--osc-port", 0, 65535, 1, 0), o->osc_explicit = 1; break;
        case 'o': o->osc_host = optarg; break;
        case 'U': o->osc_trust_udp = 1; break;
        case 'K': o->link = 1; break;
        case 'z':
            if (strcmp(optarg, KN_TIER_TCC) && strcmp(optarg, KN_TIER_AUTO)) {
                fprintf(stderr, "kanon-conductor: error: --tier is tcc or auto, not '%s'\n",
                        optarg);
                exit(2);
            }
            o->tier_tcc = !strcmp(optarg, KN_TIER_TCC);
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -EINVAL;
        }
    }
    if (optind != argc) return usage(stderr), -EINVAL;
    return 0;
}

/* One JSON line to `kanon up` (or stderr when run by hand). */
static void tell_ready(int fd, const char *json) {
    if (fd < 0) {
        fprintf(stderr, "%s\n", json);
        return;
    }
    dprintf(fd, "%s\n", json);
    close(fd);
}

static void fail_start(int fd, const char *msg) {
    char buf[2048];
    snprintf(buf, sizeof buf, "{\"ok\":false,\"error\":\"%s\"}", msg);
    for (char *p = buf + 23; *p; p++) /* keep the JSON valid whatever msg holds */
        if (*p == '"' && p[1] && p[1] != '}') *p = '\'';
    tell_ready(fd, buf);
    kn_log("cannot start: %s", msg);
}

/* Holds the instance lock for the process's life. */
static int take_lock(const char *instance, char *err, size_t errlen) {
    char path[KN_PATH_MAX];
    if (kn_runtime_path(instance, "lock", path)) {
        snprintf(err, errlen, "cannot use the runtime directory");
        return -ENAMETOOLONG;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
        return -e;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        char pid[32] = "?";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        snprintf(err, errlen,
                 "a conductor is already running for instance '%s' (pid %s); "
                 "use it, or stop it with `kanon down`",
                 instance, pid);
        close(fd);
        return -EBUSY;
    }
    if (ftruncate(fd, 0) == 0) dprintf(fd, "%d\n", getpid());
    return fd;
}

/* Blocks the stop signals in this thread before any other thread exists
 * (libsoundio, nng and liblo start threads, which inherit the mask), so
 * they arrive only through the signalfd and shut down cleanly. */
static sigset_t stop_signals(void) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGHUP);
    sigprocmask(SIG_BLOCK, &s, NULL);
    signal(SIGPIPE, SIG_IGN);
    return s;
}

static void find_cartridge(kn_conductor *c, const char *argv0) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) n = (ssize_t)snprintf(self, sizeof self, "%s", argv0);
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(c->cartridge_bin, sizeof c->cartridge_bin, "%s/kanon-cartridge", self);
}

/* On JACK, until the MIDI ports exist (so that `kanon up` reports them),
 * at most `ms`. */
static void wait_midi(kn_conductor *c, int ms) {
    if (strcmp(kn_audio_backend(c->audio), "jack") || !kn_midi_jack_of(c->midi)) return;
    for (int t = 0; t < ms && !kn_midi_jack_ready(kn_midi_jack_of(c->midi)); t += 5) {
        kn_midi_tick(c);
        usleep(5000);
    }
}

static void event_loop(kn_conductor *c, int sfd) {
    struct pollfd fds[5 + 4 * KN_MAX_DECKS + 64];
    while (!c->quit) {
        fds[0] = (struct pollfd){kn_control_fd(), POLLIN, 0};
        fds[1] = (struct pollfd){sfd, POLLIN, 0};
        fds[2] = (struct pollfd){kn_watch_fd(), POLLIN, 0};
        int n = 3 + kn_osc_pollfds(fds + 3);
        n += kn_decks_pollfds(c, fds + n, (int)(sizeof fds / sizeof fds[0]) - n);
        poll(fds, (nfds_t)n, kn_midi_timeout_ms(c, kn_decks_timeout_ms(c, 20)));
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) == sizeof si) {
            char sig[96];
            kn_log("%s: shutting down", kn_signal_text((int)si.ssi_signo, sig, sizeof sig));
            c->quit = 1;
        }
        kn_control_handle(c);
        kn_osc_handle(c);
        kn_midi_tick(c);
        kn_watch_handle(c);
        kn_decks_handle(c);
        kn_decks_tick(c);
        kn_levels_tick(c);
        kn_osc_tick(c); /* feedback and meters, ~30 Hz */
        kn_rec_tick(c->rec);
        if (kn_audio_poll(c->audio)) kn_decks_retarget(c);
        kn_link_tick(c); /* after the commands: a tempo change is pushed at once */
    }
}

static void shutdown_all(kn_conductor *c) {
    char path[4096], err[4400];
    kn_rec_stats st;
    kn_link_shutdown(c); /* peers see us leave at once */
    if (kn_rec_active(c->rec, path, sizeof path, &st))
        kn_rec_stop(c->rec, kn_audio_callbacks(c->audio), &st, err, sizeof err);
    kn_midi_shutdown(c, 200); /* the clock's stop leaves first */
    kn_audio_close(c->audio); /* the audio thread is gone before the rings go */
    kn_midi_free(c->midi);
    c->midi = NULL;
    kn_decks_shutdown(c);
    kn_control_close();
    kn_osc_close();
    kn_watch_close();
    unlink(c->sock_path);
    kn_seg_reclaim(c->instance);
}

int main(int argc, char **argv) {
    sigset_t stops = stop_signals();
    /* No process of the user (a cartridge that escaped its namespace, say)
     * may ptrace us or open /proc/<us>/mem or /fd; without CAP_SYS_PTRACE,
     * which cartridges drop, not even as root. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    opts o;
    if (parse(argc, argv, &o)) return 2;
    static kn_conductor c;
    for (int i = 0; i < 64; i++) c.reap_fd[i] = -1;
    c.spare.rfd = c.spare.pidfd = c.spare_job = -1;
    char err[2048];
    if (bad_number[0]) return fail_start(o.ready_fd, bad_number), 2;
    if (kn_instance(o.instance, c.instance))
        return fail_start(o.ready_fd, "instance names are 1-31 characters of [A-Za-z0-9_-]"), 2;
    int lock = take_lock(c.instance, err, sizeof err);
    if (lock < 0) return fail_start(o.ready_fd, err), 1;
    kn_runtime_path(c.instance, "sock", c.sock_path);
    kn_runtime_path(c.instance, "log", c.log_path);
    int stale = kn_seg_reclaim(c.instance);
    if (stale > 0)
        kn_log("reclaimed %d shared-memory segments left by a previous conductor", stale);
    find_cartridge(&c, argv[0]);
    c.channels = o.audio.channels;
    c.inputs = o.audio.inputs;
    c.block = o.audio.block;
    /* a deck's state starts small and grows to what its program asks for
     * (handover.c), up to the cap: untouched pages of a memfd cost nothing,
     * but a cartridge's address-space limit follows the segment's size */
    c.state_cap = (uint64_t)(o.state_mb * 1024 * 1024);
    c.state_bytes = o.state_mb < KN_STATE_START_MB ? c.state_cap : (size_t)KN_STATE_START_MB << 20;
    c.compile_timeout = o.compile_timeout;
    c.tier_auto = !o.tier_tcc;
    c.debounce_ns = (uint64_t)(o.debounce_ms * 1e6);
    kn_history_init(&c, o.history_dir);
    if (kn_history_check(&c, o.history_dir != NULL, err, sizeof err))
        return fail_start(o.ready_fd, err), 1;
    if (kn_watch_open()) return fail_start(o.ready_fd, "cannot start inotify"), 1;
    c.rec = kn_rec_new(c.channels);
    if (!c.rec || kn_mix_init(&c.mix, c.channels, o.audio.rate))
        return fail_start(o.ready_fd, "out of memory"), 1;
    c.mix.post_tap = kn_rec_post; /* stems and deck recordings */
    c.mix.post_ctx = c.rec;
    if (o.no_limiter) atomic_store(&c.mix.limiter_on, 0);
    kn_levels_init(&c);
    kn_timeline_init(&c);
    c.link.on = o.link;       /* joined at the event loop's first tick, once the device plays */
    kn_audio_rt_conductor(0); /* before the first thread: they inherit it */
    o.audio.midi = o.midi_ports;
    if (!(c.midi = kn_midi_new(o.midi_ports, o.midi_clock)))
        return fail_start(o.ready_fd, "out of memory"), 1;
    c.audio = kn_audio_open(&o.audio, &c.mix, c.rec, err, sizeof err);
    if (!c.audio) return fail_start(o.ready_fd, err), 1;
    kn_audio_set_midi(c.audio, kn_midi_jack_of(c.midi));
    c.rate = kn_audio_rate(c.audio);
    c.ring_fixed = o.audio.latency_ms > 0; /* --latency: the ring does not adapt */
    kn_decks_retarget(&c);
    /* the input's ring, before anyone may route it (the rings of the
     * decks' slots come with it: routes.c) */
    if (c.inputs && kn_slots_init(&c, err, sizeof err)) {
        kn_audio_close(c.audio);
        return fail_start(o.ready_fd, err), 1;
    }
    if (c.inputs) { /* its producer: the input's callback (capture.c) */
        kn_capture_attach(kn_audio_capture(c.audio), c.slot_ring[KN_SRC_IN], c.in_ring_bytes,
                          &c.routes_seg->src[KN_SRC_IN]);
        kn_capture_wait_live(kn_audio_capture(c.audio), 1000);
    }
    wait_midi(&c, 1000);
    kn_midi_start(&c); /* off JACK: the ALSA sequencer */
    if (kn_control_open(&c, err, sizeof err)) {
        kn_audio_close(c.audio);
        return fail_start(o.ready_fd, err), 1;
    }
    c.osc_port = o.osc_port;
    snprintf(c.osc_host, sizeof c.osc_host, "%s", o.osc_host);
    c.osc_trust_udp = o.osc_trust_udp;
    if (kn_osc_open(&c, err, sizeof err)) {
        if (o.osc_explicit) {
            kn_osc_close();
            kn_control_close();
            kn_audio_close(c.audio);
            return fail_start(o.ready_fd, err), 1;
        }
        /* The default port is taken (another instance?): play on without UDP
         * OSC (the unix socket is the instance's own). */
        kn_log("OSC over UDP off: %s", err);
        c.osc_port = 0;
    }
    kn_audio_rt_conductor(1); /* cartridges (and later threads) start at normal priority */
    int sfd = signalfd(-1, &stops, SFD_CLOEXEC | SFD_NONBLOCK);
    char osc[80];
    snprintf(osc, sizeof osc, "%s:%d", c.osc_port ? c.osc_host : "off", c.osc_port);
    cJSON *up = cJSON_CreateObject();
    cJSON_AddBoolToObject(up, "ok", 1);
    kn_conductor_describe(&c, up);
    cJSON_AddStringToObject(up, "osc", osc);
    char *ready = cJSON_PrintUnformatted(up);
    cJSON_Delete(up);
    if (!ready) return fail_start(o.ready_fd, "out of memory"), 1;
    kn_log("conductor up: %s", ready);
    tell_ready(o.ready_fd, ready);
    free(ready);
    event_loop(&c, sfd);
    shutdown_all(&c);
    kn_log("conductor down");
    close(lock); /* the file stays: unlinking a held lock races a starting conductor */
    return 0;
}

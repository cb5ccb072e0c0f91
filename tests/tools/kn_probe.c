/*
 * kn_probe - measure the machine before (and while) kanon is judged, for the end-to-end
 * tests: what a do-nothing program sees, so a test can tell the machine's lateness from
 * kanon's.
 *
 *   kn_probe jack --seconds S [--name CLIENT]
 *       A do-nothing JACK client: opens a client (JackNoStartServer), registers one output
 *       port whose buffer it zeroes every cycle (the least a client can do), activates,
 *       and counts for S seconds the process cycles it was given and the xruns the server
 *       reported.  Nothing is connected: whatever xruns it sees are the machine's (the
 *       driver's timer, the scheduler), not any client's.  Prints one JSON line: client,
 *       rate, buffer_size, seconds (the time it really counted, by CLOCK_MONOTONIC: a busy
 *       machine oversleeps), cycles, expected_cycles (seconds * rate / buffer_size), xruns,
 *       max_cycle_gap_frames (the largest step of jack_last_frame_time between two
 *       consecutive cycles it ran; the buffer size when it missed none).
 *
 *   kn_probe rt --prio P [--period-ms T] [--threshold-ms L] [--log FILE] [--seconds S]
 *       A do-nothing real-time thread: SCHED_FIFO priority P (a kanon cartridge renders at
 *       1), waking every T ms (default 1) on an absolute CLOCK_MONOTONIC schedule, and
 *       measuring how late each wake-up is.  A wake-up later than L ms (default 2) is
 *       appended to FILE as "<CLOCK_REALTIME seconds> <late ms>" (flushed at once), so a
 *       test can ask how late a thread of that priority was during a given stretch of
 *       wall time.  After a late wake-up the schedule restarts from now (no burst of
 *       catch-up wake-ups).  Runs S seconds, or until SIGTERM/SIGINT; then prints one JSON
 *       line: policy ("fifo", or "other" when the scheduler refused SCHED_FIFO), prio,
 *       seconds, wakeups, late_events (> L ms), max_late_ms.
 *
 * Exit status: 0 the measurement ran (whatever it found); 1 runtime failure (no JACK
 * server, activation failed, server went away, log file) with a message on stderr;
 * 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jack/jack.h>

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "need lock-free int atomics");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "need lock-free long long atomics");

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

static double parse_positive(const char *s, const char *what) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v <= 0) {
        fprintf(stderr, "kn_probe: %s: expected a number > 0, got '%s'\n", what, s);
        exit(2);
    }
    return v;
}

static double mono_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(FILE *f) {
    fputs("usage: kn_probe jack --seconds S [--name CLIENT]\n"
          "       kn_probe rt --prio P [--period-ms T] [--threshold-ms L] [--log FILE] "
          "[--seconds S]\n",
          f);
}

/* ---------- jack: a do-nothing client ---------- */

typedef struct {
    jack_client_t *client;
    jack_port_t *out;
    atomic_bool counting;
    atomic_bool server_gone;
    atomic_int cycles, xruns;
    atomic_llong max_gap;
    jack_nframes_t last_ft; /* process thread only */
    bool have_last;         /* process thread only */
} idle;

static int on_process(jack_nframes_t n, void *arg) {
    idle *d = arg;
    float *buf = jack_port_get_buffer(d->out, n);
    memset(buf, 0, n * sizeof *buf);
    if (!atomic_load_explicit(&d->counting, memory_order_acquire)) return 0;
    jack_nframes_t ft = jack_last_frame_time(d->client);
    if (d->have_last) {
        long long gap = (long long)(jack_nframes_t)(ft - d->last_ft);
        if (gap > atomic_load_explicit(&d->max_gap, memory_order_relaxed))
            atomic_store_explicit(&d->max_gap, gap, memory_order_relaxed);
    }
    d->last_ft = ft;
    d->have_last = true;
    atomic_fetch_add_explicit(&d->cycles, 1, memory_order_relaxed);
    return 0;
}

static int on_xrun(void *arg) {
    idle *d = arg;
    if (atomic_load_explicit(&d->counting, memory_order_relaxed))
        atomic_fetch_add_explicit(&d->xruns, 1, memory_order_relaxed);
    return 0;
}

static void on_shutdown(void *arg) {
    idle *d = arg;
    atomic_store(&d->server_gone, true);
}

static void quiet(const char *msg) {
    (void)msg;
}

static int probe_jack(int argc, char **argv) {
    enum { OPT_NAME = 1000, OPT_SECONDS };
    static const struct option longopts[] = {{"name", required_argument, 0, OPT_NAME},
                                             {"seconds", required_argument, 0, OPT_SECONDS},
                                             {0, 0, 0, 0}};
    const char *name = "kn_probe";
    double seconds = -1;
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_NAME: name = optarg; break;
        case OPT_SECONDS: seconds = parse_positive(optarg, "--seconds"); break;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || seconds <= 0 || !*name) {
        usage(stderr);
        return 2;
    }
    jack_set_info_function(quiet);

    idle d;
    memset(&d, 0, sizeof d);
    jack_status_t status = 0;
    d.client = jack_client_open(name, JackNoStartServer | JackUseExactName, &status);
    if (!d.client) {
        fprintf(stderr, "kn_probe: cannot open JACK client '%s' (no server?), status 0x%x\n", name,
                (unsigned)status);
        return 1;
    }
    d.out = jack_port_register(d.client, "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    if (!d.out) {
        fprintf(stderr, "kn_probe: cannot register a port\n");
        jack_client_close(d.client);
        return 1;
    }
    jack_set_process_callback(d.client, on_process, &d);
    jack_set_xrun_callback(d.client, on_xrun, &d);
    jack_on_shutdown(d.client, on_shutdown, &d);
    if (jack_activate(d.client) != 0) {
        fprintf(stderr, "kn_probe: cannot activate the JACK client\n");
        jack_client_close(d.client);
        return 1;
    }
    jack_nframes_t rate = jack_get_sample_rate(d.client), bs = jack_get_buffer_size(d.client);
    double t0 = mono_seconds();
    atomic_store_explicit(&d.counting, true, memory_order_release);
    struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !interrupted) {
    }
    atomic_store_explicit(&d.counting, false, memory_order_release);
    double elapsed = mono_seconds() - t0; /* a busy machine oversleeps */
    bool gone = atomic_load(&d.server_gone);
    if (!gone) jack_deactivate(d.client);
    printf("{\"client\": \"%s\", \"rate\": %u, \"buffer_size\": %u, \"seconds\": %.10g, "
           "\"cycles\": %d, \"expected_cycles\": %.0f, \"xruns\": %d, "
           "\"max_cycle_gap_frames\": %lld}\n",
           jack_get_client_name(d.client), (unsigned)rate, (unsigned)bs, elapsed,
           atomic_load(&d.cycles), elapsed * rate / bs, atomic_load(&d.xruns),
           (long long)atomic_load(&d.max_gap));
    jack_client_close(d.client);
    if (gone) {
        fprintf(stderr, "kn_probe: the JACK server went away\n");
        return 1;
    }
    return 0;
}

/* ---------- rt: a do-nothing real-time thread ---------- */

static void ts_add_ns(struct timespec *t, long long ns) {
    long long total = (long long)t->tv_nsec + ns;
    t->tv_sec += (time_t)(total / 1000000000LL);
    t->tv_nsec = (long)(total % 1000000000LL);
}

static long long ts_diff_ns(const struct timespec *a, const struct timespec *b) {
    return (long long)(a->tv_sec - b->tv_sec) * 1000000000LL + (a->tv_nsec - b->tv_nsec);
}

static int probe_rt(int argc, char **argv) {
    enum { OPT_PRIO = 1000, OPT_PERIOD, OPT_THRESHOLD, OPT_LOG, OPT_SECONDS };
    static const struct option longopts[] = {{"prio", required_argument, 0, OPT_PRIO},
                                             {"period-ms", required_argument, 0, OPT_PERIOD},
                                             {"threshold-ms", required_argument, 0, OPT_THRESHOLD},
                                             {"log", required_argument, 0, OPT_LOG},
                                             {"seconds", required_argument, 0, OPT_SECONDS},
                                             {0, 0, 0, 0}};
    int prio = -1;
    double period_ms = 1, threshold_ms = 2, seconds = 0;
    const char *log_path = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_PRIO: prio = (int)parse_positive(optarg, "--prio"); break;
        case OPT_PERIOD: period_ms = parse_positive(optarg, "--period-ms"); break;
        case OPT_THRESHOLD: threshold_ms = parse_positive(optarg, "--threshold-ms"); break;
        case OPT_LOG: log_path = optarg; break;
        case OPT_SECONDS: seconds = parse_positive(optarg, "--seconds"); break;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || prio < 1 || prio > 99) {
        usage(stderr);
        return 2;
    }
    FILE *log = NULL;
    if (log_path && !(log = fopen(log_path, "a"))) {
        fprintf(stderr, "kn_probe: cannot open '%s': %s\n", log_path, strerror(errno));
        return 1;
    }
    struct sched_param sp = {.sched_priority = prio};
    bool fifo = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;

    long long period_ns = llround(period_ms * 1e6), threshold_ns = llround(threshold_ms * 1e6);
    long long wakeups = 0, late_events = 0, max_late = 0;
    double start = mono_seconds();
    struct timespec next, now;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!interrupted && (seconds <= 0 || mono_seconds() - start < seconds)) {
        ts_add_ns(&next, period_ns);
        int e;
        while ((e = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL)) == EINTR &&
               !interrupted) {
        }
        if (interrupted) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long late = ts_diff_ns(&now, &next);
        wakeups++;
        if (late > max_late) max_late = late;
        if (late > threshold_ns) {
            late_events++;
            if (log) {
                struct timespec wall;
                clock_gettime(CLOCK_REALTIME, &wall);
                fprintf(log, "%lld.%09ld %.3f\n", (long long)wall.tv_sec, wall.tv_nsec, late / 1e6);
                fflush(log);
            }
        }
        if (late > period_ns) next = now; /* restart the schedule: no catch-up burst */
    }
    printf("{\"policy\": \"%s\", \"prio\": %d, \"seconds\": %.3f, \"wakeups\": %lld, "
           "\"late_events\": %lld, \"max_late_ms\": %.3f}\n",
           fifo ? "fifo" : "other", fifo ? prio : 0, mono_seconds() - start, wakeups, late_events,
           max_late / 1e6);
    if (log) fclose(log);
    return 0;
}

int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (argc >= 2 && !strcmp(argv[1], "jack")) return probe_jack(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "rt")) return probe_rt(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}

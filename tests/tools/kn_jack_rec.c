/*
 * kn_jack_rec - record JACK output ports to a float32 WAV, for kanon's end-to-end tests.
 *
 *   kn_jack_rec --port SRC_PORT [--port SRC_PORT ...] --seconds S -o OUT.wav
 *               [--name CLIENT] [--wait-port SECONDS] [--cycles FILE]
 *
 *   --name CLIENT       JACK client name (default kn_jack_rec); must be unused (exact name,
 *                       so tests know what they are looking at).
 *   --port SRC_PORT     source port to record, e.g. "kanon:out_1"; one WAV channel per
 *                       --port, in order.  Repeatable (at most 64).
 *   --seconds S         record exactly round(S * rate) frames.
 *   -o, --output FILE   float32 WAV to write.
 *   --wait-port SECONDS how long to wait for each source port to appear (default 5).
 *   --cycles FILE       also write one line per recorded process cycle: its first frame in
 *                       the recording, its frame count, jack_last_frame_time() of the cycle
 *                       (the server's frame counter at the cycle's start), jack_get_time()
 *                       when this client's process callback ran (microseconds) and the
 *                       number of xruns reported so far ("# frame frames frame_time usecs
 *                       xruns" header).
 *                       Between two recorded cycles frame_time advances by the buffer size
 *                       unless the server skipped cycles for this client (in JACK's
 *                       asynchronous mode a late client may read the next cycle's frame
 *                       time, so one step can come out short and the next long).
 *
 * It opens a client with JackNoStartServer (so it fails cleanly when no server runs),
 * registers one input port per --port, activates, waits for each source port (polling
 * jack_port_by_name), connects source -> input, waits until the connections are visible,
 * and then records exactly S seconds starting with the first process cycle after that.
 * Audio goes from the process callback to a writer thread through a jack_ringbuffer; the
 * writer thread writes the WAV with libsndfile.  Afterwards it disconnects and closes.
 *
 * On stdout it prints one JSON line: client, file, ports, channels, rate, buffer_size,
 * seconds, expected_frames, frames (frames written), dropped (frames that did not fit into
 * the ring buffer: 0 normally), xruns (reported by the server during the recording),
 * cycles (process cycles recorded), skipped_cycles (server cycles between the first and
 * the last recorded one in which this client did not run: the jumps of
 * jack_last_frame_time beyond one buffer size, in buffer sizes), and complete (frames ==
 * expected_frames and dropped == 0).
 *
 * Exit status: 0 complete recording; 1 runtime failure (no server, port missing or of the
 * wrong kind, connection failed, frames dropped, server went away, timeout, interrupted,
 * file error) with a message on stderr; 2 usage error.  The JSON line is printed whenever
 * recording started, also on failure, so a test can see how far it got; if recording never
 * started, OUT.wav is removed again.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <jack/jack.h>
#include <jack/ringbuffer.h>
#include <sndfile.h>

enum { EXIT_FAILED = 1, EXIT_USAGE = 2 };

#define MAX_PORTS 64
/* Ring buffer capacity in seconds of audio: the writer only has to keep up on average. */
#define RING_SECONDS 4.0
/* How often the writer thread and the main thread poll. */
#define POLL_NS 5000000L
/* Frames the writer moves per sf_writef_float call. */
#define WRITE_CHUNK_FRAMES 4096

/* The process callback must not take locks: these atomics must be lock-free. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "need lock-free long long atomics");
_Static_assert(ATOMIC_BOOL_LOCK_FREE == 2, "need lock-free bool atomics");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "need lock-free int atomics");

typedef struct {
    const char *name;
    const char *src[MAX_PORTS];
    int nports;
    double seconds;
    const char *output;
    double wait_port;
    const char *cycles;
} options;

typedef struct {
    jack_client_t *client;
    jack_port_t *in[MAX_PORTS];
    bool connected[MAX_PORTS]; /* whether we made in[p]'s connection (to undo it) */
    int nports;
    jack_ringbuffer_t *ring;
    SNDFILE *sf;

    /* Written by the process thread only, before `armed` and never after the last frame. */
    long long remaining;
    long long position; /* frames recorded so far */
    /* Per-cycle log (preallocated; written by the process thread, read after it finished). */
    struct cycle {
        long long frame;
        jack_nframes_t frames, frame_time;
        jack_time_t usecs;
        int xruns;
    } * cyc;
    int cyc_cap;
    atomic_int ncyc;

    /* Shared between threads; all lock-free (see the static asserts). */
    atomic_bool armed;       /* main -> process: connections are in place, start recording */
    atomic_bool finished;    /* process -> writer: the last frame has been handed over */
    atomic_bool stop;        /* main -> writer: drain what is there and quit */
    atomic_bool server_gone; /* shutdown callback -> main */
    atomic_llong dropped;    /* frames that did not fit into the ring */
    atomic_int xruns;

    /* Writer thread results, read by main after join. */
    long long written;
    bool write_failed;
} recorder;

static volatile sig_atomic_t interrupted;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("kn_jack_rec: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void sleep_ns(long ns) {
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !interrupted) {
    }
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------- real-time side: no allocation, no locks, no system calls ---------- */

/* Interleaves n frames of the port buffers into the ring's write space.  Every write is a
 * whole number of floats and the ring size is a power of two, so each of the (at most two)
 * contiguous regions holds whole floats. */
static void ring_put_interleaved(jack_ringbuffer_t *ring, const float *const *chan, int nch,
                                 jack_nframes_t n) {
    jack_ringbuffer_data_t vec[2];
    jack_ringbuffer_get_write_vector(ring, vec);
    float *dst = (float *)vec[0].buf;
    size_t left = vec[0].len / sizeof(float);
    for (jack_nframes_t i = 0; i < n; i++) {
        for (int c = 0; c < nch; c++) {
            if (left == 0) {
                dst = (float *)vec[1].buf;
                left = vec[1].len / sizeof(float);
            }
            *dst++ = chan[c][i];
            left--;
        }
    }
    jack_ringbuffer_write_advance(ring, (size_t)n * nch * sizeof(float));
}

/* JACK process callback.  Runs in the real-time thread, so it only touches preallocated
 * memory, the lock-free ring buffer and lock-free atomics: no malloc, no mutex, no I/O.
 * A block that does not fit into the ring is dropped whole and counted (the recording
 * keeps its length in time; the count makes the loss visible). */
static int on_process(jack_nframes_t nframes, void *arg) {
    recorder *r = arg;
    if (!atomic_load_explicit(&r->armed, memory_order_acquire) || r->remaining == 0) return 0;
    jack_nframes_t n = r->remaining < (long long)nframes ? (jack_nframes_t)r->remaining : nframes;
    int c = atomic_load_explicit(&r->ncyc, memory_order_relaxed);
    if (c < r->cyc_cap) {
        r->cyc[c] = (struct cycle){r->position, n, jack_last_frame_time(r->client), jack_get_time(),
                                   atomic_load_explicit(&r->xruns, memory_order_relaxed)};
        atomic_store_explicit(&r->ncyc, c + 1, memory_order_release);
    }
    r->position += n;
    const float *chan[MAX_PORTS];
    for (int p = 0; p < r->nports; p++) chan[p] = jack_port_get_buffer(r->in[p], nframes);
    size_t bytes = (size_t)n * r->nports * sizeof(float);
    if (jack_ringbuffer_write_space(r->ring) >= bytes)
        ring_put_interleaved(r->ring, chan, r->nports, n);
    else
        atomic_fetch_add_explicit(&r->dropped, n, memory_order_relaxed);
    r->remaining -= n;
    if (r->remaining == 0) atomic_store_explicit(&r->finished, true, memory_order_release);
    return 0;
}

static int on_xrun(void *arg) {
    recorder *r = arg;
    if (atomic_load_explicit(&r->armed, memory_order_relaxed))
        atomic_fetch_add_explicit(&r->xruns, 1, memory_order_relaxed);
    return 0;
}

static void on_shutdown(void *arg) {
    recorder *r = arg;
    atomic_store(&r->server_gone, true);
}

/* ---------- writer thread ---------- */

/* Moves whole frames from the ring to the WAV until the process side has finished (or main
 * says stop) and the ring is empty.  `finished` is read before draining, so once it was
 * seen true every frame it covers is already in the ring and one more drain suffices. */
static void *writer_main(void *arg) {
    recorder *r = arg;
    size_t frame_bytes = (size_t)r->nports * sizeof(float);
    float *buf = malloc(WRITE_CHUNK_FRAMES * frame_bytes);
    if (!buf) {
        r->write_failed = true;
        return NULL;
    }
    for (;;) {
        bool last = atomic_load_explicit(&r->finished, memory_order_acquire) ||
                    atomic_load_explicit(&r->stop, memory_order_acquire);
        size_t frames;
        while ((frames = jack_ringbuffer_read_space(r->ring) / frame_bytes) > 0) {
            if (frames > WRITE_CHUNK_FRAMES) frames = WRITE_CHUNK_FRAMES;
            jack_ringbuffer_read(r->ring, (char *)buf, frames * frame_bytes);
            if (!r->write_failed &&
                sf_writef_float(r->sf, buf, (sf_count_t)frames) != (sf_count_t)frames)
                r->write_failed = true; /* keep draining so the process side never blocks */
            else if (!r->write_failed)
                r->written += (long long)frames;
        }
        if (last) break;
        sleep_ns(POLL_NS);
    }
    free(buf);
    return NULL;
}

/* ---------- setup and teardown ---------- */

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

static void install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void jack_error_message(const char *msg) {
    fprintf(stderr, "kn_jack_rec: jack: %s\n", msg);
}
static void jack_info_message(const char *msg) {
    (void)msg;
}

static bool open_client(recorder *r, const char *name) {
    jack_status_t status = 0;
    r->client = jack_client_open(name, JackNoStartServer | JackUseExactName, &status);
    if (r->client) return true;
    /* JACK2 reports a clash with JackUseExactName as JackServerError, not JackNameNotUnique. */
    if (status & JackNameNotUnique)
        fail("client name '%s' is already in use", name);
    else if (status & JackServerFailed)
        fail("cannot connect to a JACK server (none running?); status 0x%x", (unsigned)status);
    else if (status & JackServerError)
        fail("the JACK server refused client '%s' (name already in use?); status 0x%x", name,
             (unsigned)status);
    else
        fail("jack_client_open('%s') failed, status 0x%x", name, (unsigned)status);
    return false;
}

static bool register_inputs(recorder *r, int nports) {
    for (int p = 0; p < nports; p++) {
        char pname[32];
        snprintf(pname, sizeof pname, "in_%d", p + 1);
        r->in[p] =
            jack_port_register(r->client, pname, JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        if (!r->in[p]) {
            fail("cannot register input port %s", pname);
            return false;
        }
        r->nports = p + 1;
    }
    return true;
}

/* Polls for the source port to exist, then checks it is an audio output. */
static bool wait_for_source(recorder *r, const char *src, double wait_seconds) {
    double deadline = now_seconds() + wait_seconds;
    jack_port_t *port;
    while (!(port = jack_port_by_name(r->client, src))) {
        if (now_seconds() >= deadline || interrupted || atomic_load(&r->server_gone)) {
            fail("source port '%s' not found (waited %g s)", src, wait_seconds);
            return false;
        }
        sleep_ns(10 * 1000000L);
    }
    if (!(jack_port_flags(port) & JackPortIsOutput)) {
        fail("source port '%s' is not an output port", src);
        return false;
    }
    if (strcmp(jack_port_type(port), JACK_DEFAULT_AUDIO_TYPE) != 0) {
        fail("source port '%s' is not an audio port (%s)", src, jack_port_type(port));
        return false;
    }
    return true;
}

static bool connect_sources(recorder *r, const options *o) {
    for (int p = 0; p < o->nports; p++) {
        if (!wait_for_source(r, o->src[p], o->wait_port)) return false;
        int rc = jack_connect(r->client, o->src[p], jack_port_name(r->in[p]));
        if (rc != 0 && rc != EEXIST) {
            fail("cannot connect '%s' -> '%s' (error %d)", o->src[p], jack_port_name(r->in[p]), rc);
            return false;
        }
        r->connected[p] = true;
    }
    /* jack_connect returns once the server accepted the request; wait until this client
     * sees every connection, so the first recorded cycle already carries the sources. */
    double deadline = now_seconds() + 2.0;
    for (int p = 0; p < o->nports; p++) {
        while (!jack_port_connected_to(r->in[p], o->src[p])) {
            if (now_seconds() >= deadline) {
                fail("connection '%s' -> '%s' did not appear", o->src[p], jack_port_name(r->in[p]));
                return false;
            }
            sleep_ns(POLL_NS);
        }
    }
    return true;
}

static void disconnect_sources(recorder *r, const options *o) {
    for (int p = 0; p < r->nports && p < o->nports; p++)
        if (r->connected[p] && jack_port_connected_to(r->in[p], o->src[p]))
            jack_disconnect(r->client, o->src[p], jack_port_name(r->in[p]));
}

static bool open_output(recorder *r, const char *path, int rate, int channels) {
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    r->sf = sf_open(path, SFM_WRITE, &info);
    if (!r->sf) fail("cannot create '%s': %s", path, sf_strerror(NULL));
    return r->sf != NULL;
}

/* Waits for the process side to deliver the last frame; false on server loss, signal or
 * a stall (no progress for far longer than the recording should take). */
static bool wait_for_recording(recorder *r, double seconds) {
    double deadline = now_seconds() + seconds + (seconds > 5.0 ? seconds : 5.0);
    while (!atomic_load_explicit(&r->finished, memory_order_acquire)) {
        if (atomic_load(&r->server_gone)) {
            fail("the JACK server went away during the recording");
            return false;
        }
        if (interrupted) {
            fail("interrupted");
            return false;
        }
        if (now_seconds() >= deadline) {
            fail("timed out: the process callback did not deliver %g s of audio", seconds);
            return false;
        }
        sleep_ns(POLL_NS);
    }
    return true;
}

/* ---------- report ---------- */

/* Server cycles between the first and the last recorded cycle in which this client did not
 * run (jack_last_frame_time steps beyond the buffer size, in buffer sizes, rounded up). */
static long long skipped_cycles(const recorder *r, jack_nframes_t bufsize) {
    int n = atomic_load_explicit(&r->ncyc, memory_order_acquire);
    long long skipped = 0;
    for (int i = 1; i < n; i++) {
        jack_nframes_t step = r->cyc[i].frame_time - r->cyc[i - 1].frame_time;
        if (step > bufsize && bufsize > 0) skipped += (step - bufsize + bufsize - 1) / bufsize;
    }
    return skipped;
}

static bool write_cycles(const recorder *r, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fail("cannot create '%s': %s", path, strerror(errno));
        return false;
    }
    int n = atomic_load_explicit(&r->ncyc, memory_order_acquire);
    fputs("# frame frames frame_time usecs xruns\n", f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%lld %u %u %llu %d\n", r->cyc[i].frame, (unsigned)r->cyc[i].frames,
                (unsigned)r->cyc[i].frame_time, (unsigned long long)r->cyc[i].usecs,
                r->cyc[i].xruns);
    if (fclose(f) != 0) {
        fail("writing '%s' failed", path);
        return false;
    }
    return true;
}

static void print_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_report(const recorder *r, const options *o, jack_nframes_t rate,
                         jack_nframes_t bufsize, long long expected, bool complete) {
    fputs("{\"client\": ", stdout);
    print_json_string(jack_get_client_name(r->client));
    fputs(", \"file\": ", stdout);
    print_json_string(o->output);
    fputs(", \"ports\": [", stdout);
    for (int p = 0; p < o->nports; p++) {
        if (p) fputs(", ", stdout);
        print_json_string(o->src[p]);
    }
    printf("], \"channels\": %d, \"rate\": %u, \"buffer_size\": %u, \"seconds\": %.10g, "
           "\"expected_frames\": %lld, \"frames\": %lld, \"dropped\": %lld, \"xruns\": %d, "
           "\"cycles\": %d, \"skipped_cycles\": %lld, \"complete\": %s}\n",
           o->nports, (unsigned)rate, (unsigned)bufsize, o->seconds, expected, r->written,
           (long long)atomic_load(&r->dropped), atomic_load(&r->xruns), atomic_load(&r->ncyc),
           skipped_cycles(r, bufsize), complete ? "true" : "false");
    fflush(stdout);
}

/* ---------- options ---------- */

static void usage(FILE *f) {
    fputs("usage: kn_jack_rec --port SRC_PORT [--port SRC_PORT ...] --seconds S -o OUT.wav\n"
          "                   [--name CLIENT] [--wait-port SECONDS] [--cycles FILE]\n",
          f);
}

static double parse_seconds(const char *s, const char *what) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v) || v < 0) {
        fail("%s: expected seconds >= 0, got '%s'", what, s);
        exit(EXIT_USAGE);
    }
    return v;
}

static options parse_options(int argc, char **argv) {
    enum { OPT_NAME = 1000, OPT_PORT, OPT_SECONDS, OPT_WAIT, OPT_CYCLES, OPT_HELP };
    static const struct option longopts[] = {{"name", required_argument, 0, OPT_NAME},
                                             {"port", required_argument, 0, OPT_PORT},
                                             {"seconds", required_argument, 0, OPT_SECONDS},
                                             {"output", required_argument, 0, 'o'},
                                             {"wait-port", required_argument, 0, OPT_WAIT},
                                             {"cycles", required_argument, 0, OPT_CYCLES},
                                             {"help", no_argument, 0, OPT_HELP},
                                             {0, 0, 0, 0}};
    options o = {.name = "kn_jack_rec", .seconds = -1, .wait_port = 5.0};
    int opt;
    while ((opt = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_NAME: o.name = optarg; break;
        case OPT_PORT:
            if (o.nports == MAX_PORTS) {
                fail("at most %d --port options", MAX_PORTS);
                exit(EXIT_USAGE);
            }
            o.src[o.nports++] = optarg;
            break;
        case OPT_SECONDS: o.seconds = parse_seconds(optarg, "--seconds"); break;
        case 'o': o.output = optarg; break;
        case OPT_WAIT: o.wait_port = parse_seconds(optarg, "--wait-port"); break;
        case OPT_CYCLES: o.cycles = optarg; break;
        case OPT_HELP: usage(stdout); exit(0);
        default: usage(stderr); exit(EXIT_USAGE);
        }
    }
    if (optind != argc || o.nports == 0 || !(o.seconds > 0) || !o.output || !*o.name) {
        usage(stderr);
        exit(EXIT_USAGE);
    }
    return o;
}

/* ---------- main ---------- */

int main(int argc, char **argv) {
    options o = parse_options(argc, argv);
    install_signal_handlers();
    jack_set_error_function(jack_error_message);
    jack_set_info_function(jack_info_message);

    recorder r;
    memset(&r, 0, sizeof r);
    atomic_init(&r.armed, false);
    atomic_init(&r.finished, false);
    atomic_init(&r.stop, false);
    atomic_init(&r.server_gone, false);
    atomic_init(&r.dropped, 0);
    atomic_init(&r.xruns, 0);
    atomic_init(&r.ncyc, 0);
    if (!open_client(&r, o.name)) return EXIT_FAILED;

    jack_nframes_t rate = jack_get_sample_rate(r.client), bufsize = jack_get_buffer_size(r.client);
    long long expected = llround(o.seconds * rate);
    r.remaining = expected;
    /* One entry per cycle; JACK's smallest buffer size is 16 frames. */
    r.cyc_cap = (int)((expected + 15) / 16 + 2);
    r.cyc = calloc((size_t)r.cyc_cap, sizeof *r.cyc);
    size_t ring_bytes = (size_t)(RING_SECONDS * rate) * o.nports * sizeof(float);
    size_t min_bytes = (size_t)bufsize * 16 * o.nports * sizeof(float);
    r.ring = jack_ringbuffer_create(ring_bytes > min_bytes ? ring_bytes : min_bytes);

    bool ok = r.ring && r.cyc && register_inputs(&r, o.nports) &&
              open_output(&r, o.output, (int)rate, o.nports);
    if (ok) {
        jack_ringbuffer_mlock(r.ring); /* best effort: avoids page faults in the RT thread */
        mlock(r.cyc, (size_t)r.cyc_cap * sizeof *r.cyc);
        jack_set_process_callback(r.client, on_process, &r);
        jack_set_xrun_callback(r.client, on_xrun, &r);
        jack_on_shutdown(r.client, on_shutdown, &r);
        ok = jack_activate(r.client) == 0;
        if (!ok) fail("cannot activate the JACK client");
    }
    bool started = false, complete = false;
    pthread_t writer;
    if (ok) ok = connect_sources(&r, &o);
    if (ok) {
        ok = pthread_create(&writer, NULL, writer_main, &r) == 0;
        if (!ok) fail("cannot start the writer thread");
    }
    if (ok) {
        started = true;
        atomic_store_explicit(&r.armed, true, memory_order_release);
        ok = wait_for_recording(&r, o.seconds);
        atomic_store_explicit(&r.stop, true, memory_order_release);
        pthread_join(writer, NULL);
        if (r.write_failed) {
            fail("writing '%s' failed: %s", o.output, sf_strerror(r.sf));
            ok = false;
        }
    }

    if (!atomic_load(&r.server_gone)) {
        disconnect_sources(&r, &o);
        jack_deactivate(r.client);
    }
    if (started) {
        long long dropped = atomic_load(&r.dropped);
        complete = ok && r.written == expected && dropped == 0;
        if (ok && !complete)
            fail("incomplete recording: %lld of %lld frames written, %lld dropped", r.written,
                 expected, dropped);
        if (o.cycles && !write_cycles(&r, o.cycles)) complete = false;
        print_report(&r, &o, rate, bufsize, expected, complete);
    }
    jack_client_close(r.client);
    if (r.sf && sf_close(r.sf) != 0) {
        fail("closing '%s' failed", o.output);
        complete = false;
    }
    if (r.sf && !started) unlink(o.output); /* never leave an empty WAV a test might analyse */
    if (r.ring) jack_ringbuffer_free(r.ring);
    free(r.cyc);
    return complete ? 0 : EXIT_FAILED;
}

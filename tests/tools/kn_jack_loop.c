/*
 * kn_jack_loop - plays a signal into JACK ports and records others from the very same
 * frame: the latency of a chain through another client (kanon's audio input, an effect
 * deck, kanon's output), to the frame, for kanon's end-to-end tests and benchmarks.
 *
 *   kn_jack_loop --to PORT [--to PORT ...] --from PORT [--from PORT ...]
 *                [--impulse AMP | --play FILE.wav] [--seconds S] [-o OUT.wav]
 *                [--name CLIENT] [--lead SECONDS] [--wait-port SECONDS]
 *
 *   --to PORT          an input port to play into, e.g. "kanon:in_1" (repeatable).
 *   --from PORT        an output port to record, e.g. "kanon-01:Front Left"; one WAV
 *                      channel per --from, in order (repeatable, at most 16).
 *   --impulse AMP      the signal is one sample of AMP at its frame 0 (default, 0.5).
 *   --play FILE.wav    the signal is FILE's first channel (at the server's rate).
 *   --seconds S        how long to record (default 1).
 *   -o, --output FILE  also write the recording as a float32 WAV.
 *   --name CLIENT      the JACK client's name (default kn_jack_loop; must be unused).
 *   --lead SECONDS     how long to wait, once every connection is in place, before the
 *                      signal starts (default 0.25), so the chain is settled.
 *   --wait-port S      how long to wait for each port to appear (default 5).
 *
 * The client has one output port, "out", connected to every --to port, and one input port
 * per --from port. In one process cycle it starts both playing and recording: recording
 * frame i is the server frame at which signal frame i was played, so a chain that delays
 * by D frames shows signal frame 0 at recording frame D, whatever JACK's graph order (a
 * chain out of this client and back into it adds no period: JACK runs the clients
 * upstream of it first, and those downstream after it, in every cycle).
 *
 * On stdout one JSON line: rate, buffer_size, frames (recorded), start_frame_time (the
 * server's frame counter at the first frame), cycles, skipped_cycles (server cycles in
 * which this client did not run while recording: then recording frames are not server
 * frames, and the delay is not to be trusted), xruns, ports: per --from port, first (the
 * first frame holding a non-zero sample, -1 if none), value (that sample), nonzero (frames
 * holding one), peak; and delay (the smallest first, -1 if everything was silent).
 *
 * Exit status: 0 done (a silent recording too), 1 runtime failure, 2 usage.
 */
#include "jack_tool.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
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
#include <sndfile.h>

#define MAX_PORTS 16

typedef struct {
    const char *name, *play, *output;
    const char *to[MAX_PORTS], *from[MAX_PORTS];
    int nto, nfrom;
    double amp, seconds, lead, wait_port;
} options;

typedef struct {
    jack_client_t *client;
    jack_port_t *out, *in[MAX_PORTS];
    int nin;
    float *sig; /* the signal, preallocated */
    long long sig_len;
    float *rec[MAX_PORTS]; /* one buffer per recorded port, preallocated */
    long long total;       /* frames to record */
    /* process thread only */
    long long pos; /* frames since the start */
    jack_nframes_t start_ft, next_ft;
    /* shared, lock-free */
    atomic_bool armed, started, finished, server_gone;
    atomic_int xruns, cycles, skipped;
} loop;

/* ---------- real-time side: preallocated memory and lock-free atomics only ---------- */

static int on_process(jack_nframes_t n, void *arg) {
    loop *l = arg;
    float *out = jack_port_get_buffer(l->out, n);
    memset(out, 0, n * sizeof(float));
    if (atomic_load_explicit(&l->finished, memory_order_relaxed)) return 0;
    jack_nframes_t ft = jack_last_frame_time(l->client);
    if (!atomic_load_explicit(&l->started, memory_order_relaxed)) {
        if (!atomic_load_explicit(&l->armed, memory_order_acquire)) return 0;
        l->start_ft = l->next_ft = ft;
        atomic_store_explicit(&l->started, true, memory_order_relaxed);
    }
    if (ft != l->next_ft) /* cycles this client did not run in */
        atomic_fetch_add_explicit(&l->skipped, (int)((ft - l->next_ft) / n), memory_order_relaxed);
    l->next_ft = ft + n;
    for (jack_nframes_t i = 0; i < n; i++) {
        long long k = l->pos + (long long)i;
        out[i] = k < l->sig_len ? l->sig[k] : 0.0f;
    }
    long long take = l->total - l->pos < (long long)n ? l->total - l->pos : (long long)n;
    for (int p = 0; p < l->nin; p++) {
        const float *in = jack_port_get_buffer(l->in[p], n);
        memcpy(l->rec[p] + l->pos, in, (size_t)take * sizeof(float));
    }
    l->pos += take;
    atomic_fetch_add_explicit(&l->cycles, 1, memory_order_relaxed);
    if (l->pos >= l->total) atomic_store_explicit(&l->finished, true, memory_order_release);
    return 0;
}

static int on_xrun(void *arg) {
    loop *l = arg;
    if (atomic_load_explicit(&l->started, memory_order_relaxed))
        atomic_fetch_add_explicit(&l->xruns, 1, memory_order_relaxed);
    return 0;
}

static void on_shutdown(void *arg) {
    loop *l = arg;
    atomic_store(&l->server_gone, true);
}

/* ---------- setup ---------- */

/* Connects out -> every --to and every --from -> in_k, and waits until this client sees
 * them all, so the first cycle after arming already carries them. */
static bool connect_all(loop *l, const options *o) {
    jack_client_t *cl = l->client;
    for (int i = 0; i < o->nto; i++)
        if (!jt_wait_port(cl, o->to[i], JackPortIsInput, o->wait_port, &l->server_gone) ||
            !jt_connect(cl, l->out, jack_port_name(l->out), o->to[i], o->to[i]))
            return false;
    for (int i = 0; i < o->nfrom; i++)
        if (!jt_wait_port(cl, o->from[i], JackPortIsOutput, o->wait_port, &l->server_gone) ||
            !jt_connect(cl, l->in[i], o->from[i], jack_port_name(l->in[i]), o->from[i]))
            return false;
    return true;
}

/* The signal: an impulse, or FILE's first channel (at the server's rate). */
static bool load_signal(loop *l, const options *o, jack_nframes_t rate) {
    if (!o->play) {
        l->sig_len = 1;
        l->sig = calloc(1, sizeof(float));
        if (l->sig) l->sig[0] = (float)o->amp;
        return l->sig != NULL;
    }
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(o->play, SFM_READ, &info);
    if (!sf) return jt_fail("cannot read '%s': %s", o->play, sf_strerror(NULL)), false;
    if (info.samplerate != (int)rate) {
        jt_fail("'%s' is %d Hz, the server runs at %u Hz", o->play, info.samplerate,
                (unsigned)rate);
        sf_close(sf);
        return false;
    }
    float *all = malloc((size_t)info.frames * (size_t)info.channels * sizeof(float));
    l->sig = malloc((size_t)info.frames * sizeof(float) + sizeof(float));
    sf_count_t got = all && l->sig ? sf_readf_float(sf, all, info.frames) : -1;
    sf_close(sf);
    if (got < 0) return free(all), jt_fail("cannot read '%s'", o->play), false;
    for (sf_count_t i = 0; i < got; i++) l->sig[i] = all[i * info.channels];
    l->sig_len = got;
    free(all);
    mlock(l->sig, (size_t)l->sig_len * sizeof(float));
    return true;
}

static bool write_wav(const loop *l, const char *path, jack_nframes_t rate) {
    SF_INFO info = {
        .samplerate = (int)rate, .channels = l->nin, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) return jt_fail("cannot create '%s': %s", path, sf_strerror(NULL)), false;
    float *frame = malloc((size_t)l->nin * sizeof(float));
    bool ok = frame != NULL;
    for (long long i = 0; ok && i < l->pos; i++) {
        for (int p = 0; p < l->nin; p++) frame[p] = l->rec[p][i];
        ok = sf_writef_float(sf, frame, 1) == 1;
    }
    free(frame);
    if (sf_close(sf) || !ok) return jt_fail("writing '%s' failed", path), false;
    return true;
}

static void report(const loop *l, const options *o, jack_nframes_t rate, jack_nframes_t bs) {
    long long delay = -1;
    printf("{\"rate\": %u, \"buffer_size\": %u, \"frames\": %lld, \"start_frame_time\": %u, "
           "\"cycles\": %d, \"skipped_cycles\": %d, \"xruns\": %d, \"ports\": [",
           (unsigned)rate, (unsigned)bs, l->pos, (unsigned)l->start_ft, atomic_load(&l->cycles),
           atomic_load(&l->skipped), atomic_load(&l->xruns));
    for (int p = 0; p < l->nin; p++) {
        long long first = -1, nonzero = 0;
        float value = 0, peak = 0;
        for (long long i = 0; i < l->pos; i++) {
            float x = l->rec[p][i];
            if (x == 0) continue;
            if (first < 0) first = i, value = x;
            nonzero++;
            if (fabsf(x) > peak) peak = fabsf(x);
        }
        if (first >= 0 && (delay < 0 || first < delay)) delay = first;
        printf("%s{\"port\": ", p ? ", " : "");
        jt_json_string(o->from[p]);
        printf(", \"first\": %lld, \"value\": %.9g, \"nonzero\": %lld, \"peak\": %.9g}", first,
               value, nonzero, peak);
    }
    printf("], \"delay\": %lld}\n", delay);
    fflush(stdout);
}

/* ---------- options ---------- */

static void usage(FILE *f) {
    fputs("usage: kn_jack_loop --to PORT [--to PORT ...] --from PORT [--from PORT ...]\n"
          "                    [--impulse AMP | --play FILE.wav] [--seconds S] [-o OUT.wav]\n"
          "                    [--name CLIENT] [--lead SECONDS] [--wait-port SECONDS]\n",
          f);
}

static options parse_options(int argc, char **argv) {
    enum { O_TO = 1000, O_FROM, O_IMPULSE, O_PLAY, O_SECONDS, O_NAME, O_LEAD, O_WAIT, O_HELP };
    static const struct option lo[] = {{"to", 1, 0, O_TO},
                                       {"from", 1, 0, O_FROM},
                                       {"impulse", 1, 0, O_IMPULSE},
                                       {"play", 1, 0, O_PLAY},
                                       {"seconds", 1, 0, O_SECONDS},
                                       {"output", 1, 0, 'o'},
                                       {"name", 1, 0, O_NAME},
                                       {"lead", 1, 0, O_LEAD},
                                       {"wait-port", 1, 0, O_WAIT},
                                       {"help", 0, 0, O_HELP},
                                       {0, 0, 0, 0}};
    options o = {.name = "kn_jack_loop", .amp = 0.5, .seconds = 1, .lead = 0.25, .wait_port = 5};
    int c;
    while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
        switch (c) {
        case O_TO:
        case O_FROM:
            if ((c == O_TO ? o.nto : o.nfrom) == MAX_PORTS) {
                jt_fail("at most %d of each of --to and --from", MAX_PORTS);
                exit(JT_EXIT_USAGE);
            }
            if (c == O_TO)
                o.to[o.nto++] = optarg;
            else
                o.from[o.nfrom++] = optarg;
            break;
        case O_IMPULSE: o.amp = jt_number(optarg, "--impulse", -1, 1); break;
        case O_PLAY: o.play = optarg; break;
        case O_SECONDS: o.seconds = jt_number(optarg, "--seconds", 0.001, 600); break;
        case 'o': o.output = optarg; break;
        case O_NAME: o.name = optarg; break;
        case O_LEAD: o.lead = jt_number(optarg, "--lead", 0, 60); break;
        case O_WAIT: o.wait_port = jt_number(optarg, "--wait-port", 0, 600); break;
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); exit(JT_EXIT_USAGE);
        }
    }
    if (optind != argc || !o.nto || !o.nfrom || !*o.name) {
        usage(stderr);
        exit(JT_EXIT_USAGE);
    }
    return o;
}

int main(int argc, char **argv) {
    options o = parse_options(argc, argv);
    jt_setup("kn_jack_loop");
    static loop l;
    jack_status_t st = 0;
    l.client = jack_client_open(o.name, JackNoStartServer | JackUseExactName, &st);
    if (!l.client) {
        jt_fail("cannot open JACK client '%s' (no server, or the name is taken): status 0x%x",
                o.name, (unsigned)st);
        return JT_EXIT_FAILED;
    }
    jack_nframes_t rate = jack_get_sample_rate(l.client), bs = jack_get_buffer_size(l.client);
    l.total = llround(o.seconds * rate);
    bool ok = load_signal(&l, &o, rate);
    l.out = jack_port_register(l.client, "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    ok = ok && l.out;
    for (int i = 0; ok && i < o.nfrom; i++) {
        char name[16];
        snprintf(name, sizeof name, "in_%d", i + 1);
        l.in[i] = jack_port_register(l.client, name, JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        l.rec[i] = calloc((size_t)l.total, sizeof(float));
        ok = l.in[i] && l.rec[i];
        if (ok) mlock(l.rec[i], (size_t)l.total * sizeof(float));
        l.nin = i + 1;
    }
    if (!ok) jt_fail("cannot set up the client (ports, memory or the signal)");
    if (ok) {
        jack_set_process_callback(l.client, on_process, &l);
        jack_set_xrun_callback(l.client, on_xrun, &l);
        jack_on_shutdown(l.client, on_shutdown, &l);
        ok = !jack_activate(l.client);
        if (!ok) jt_fail("cannot activate the client");
    }
    ok = ok && connect_all(&l, &o);
    if (ok) {
        jt_sleep_ms((long)(o.lead * 1000));
        atomic_store_explicit(&l.armed, true, memory_order_release);
        double deadline = jt_now() + o.seconds + 10;
        while (ok && !atomic_load_explicit(&l.finished, memory_order_acquire)) {
            if (atomic_load(&l.server_gone) || jt_interrupted || jt_now() > deadline) {
                jt_fail("%s", atomic_load(&l.server_gone) ? "the JACK server went away"
                              : jt_interrupted            ? "interrupted"
                                                          : "timed out waiting for the recording");
                ok = false;
            }
            jt_sleep_ms(5);
        }
    }
    if (ok) {
        report(&l, &o, rate, bs);
        if (o.output) ok = write_wav(&l, o.output, rate);
    }
    jack_deactivate(l.client);
    jack_client_close(l.client);
    return ok ? 0 : JT_EXIT_FAILED;
}

/*
 * kn_jack_midi - sends MIDI into a JACK port at chosen frames, and records, from the very
 * same cycle on, MIDI from another port and audio from others: kanon's MIDI in -> first
 * sample latency, and the frames of kanon's MIDI out, for its tests and benchmarks.
 *
 *   kn_jack_midi [--to PORT] [--send FRAME:B0,B1[,B2] ...] [--from PORT ...]
 *                [--midi-from PORT] [--seconds S] [--name CLIENT] [--lead S]
 *                [--wait-port S]
 *
 *   --to PORT         a MIDI input port to send into, e.g. "kanon:midi_in".
 *   --send F:BYTES    one message (1..3 bytes, decimal or 0x hex, comma-separated) at
 *                     frame F of the take (repeatable, at most 256; F ascending or not).
 *   --from PORT       an audio output port to record, e.g. "kanon:Front Left"
 *                     (repeatable, at most 8).
 *   --midi-from PORT  a MIDI output port to record, e.g. "kanon:midi_out".
 *   --seconds S       how long the take is (default 1).
 *   --name, --lead, --wait-port  as kn_jack_loop.
 *
 * Two JACK clients, so that the chain has no loop (a client both upstream and
 * downstream of kanon would see kanon's output a period late, whatever kanon does):
 * NAME-tx has one MIDI output "out" (connected to --to) and sends; NAME has one MIDI
 * input "midi" (from --midi-from) and one audio input per --from, and records. JACK
 * runs NAME-tx, then kanon, then NAME in every cycle. Every frame reported is the
 * server's frame counter (jack_last_frame_time + offset, widened to 64 bits from the
 * take's start), so a chain that delays by D frames shows a message sent at server
 * frame S at S + D. --send's FRAME counts from the sender's first cycle of the take.
 *
 * On stdout one JSON line: rate, buffer_size, frames (recorded), start_frame_time (the
 * recorder's first frame), send_start (the sender's), cycles, skipped_cycles (server
 * cycles either client missed during the take: its frames are then not the server's),
 * xruns, sent: [[frame, b0, ...], ...] (server frames of the messages sent), ports: per
 * --from port, steps: the server frames at which the recorded value changes and the value
 * from there on ([[frame, value], ...], at most 256), and midi: [[frame, b0, b1, b2], ...]
 * (at most 4096) received from --midi-from.
 *
 * Exit status: 0 done, 1 runtime failure, 2 usage.
 */
#include "jack_tool.h"

#include <getopt.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <jack/midiport.h>

#define MAX_FROM  8
#define MAX_SEND  256
#define MAX_STEPS 256
#define MAX_RECV  4096

typedef struct send_ev {
    long long frame;
    unsigned char b[3];
    int len;
} send_ev;

typedef struct {
    const char *name, *to, *midi_from, *from[MAX_FROM];
    int nfrom, nsend;
    send_ev send[MAX_SEND];
    double seconds, lead, wait_port;
} options;

/* One client's side of the take: when it started and whether it missed cycles. */
typedef struct side {
    jack_client_t *client;
    jack_nframes_t start_ft, next_ft;
    long long pos; /* frames since its start */
    atomic_bool started;
    atomic_int cycles, skipped;
} side;

typedef struct {
    side tx, rx;
    jack_port_t *out, *midi, *in[MAX_FROM];
    const options *o;
    float *rec[MAX_FROM];
    long long total;
    int sent;
    long long recv[MAX_RECV][4];
    int nrecv;
    atomic_bool armed, finished, server_gone;
    atomic_int xruns;
} take;

/* ---------- real-time side: preallocated memory and lock-free atomics only ---------- */

/* Starts the side at the first armed cycle and counts the cycles it missed since its
 * last; 0 if it is not (or no longer) taking part. */
static int side_cycle(take *t, side *s, jack_nframes_t n) {
    if (atomic_load_explicit(&t->finished, memory_order_relaxed)) return 0;
    jack_nframes_t ft = jack_last_frame_time(s->client);
    if (!atomic_load_explicit(&s->started, memory_order_relaxed)) {
        if (!atomic_load_explicit(&t->armed, memory_order_acquire)) return 0;
        s->start_ft = s->next_ft = ft;
        atomic_store_explicit(&s->started, true, memory_order_release);
    }
    if (ft != s->next_ft)
        atomic_fetch_add_explicit(&s->skipped, (int)((ft - s->next_ft) / n), memory_order_relaxed);
    s->next_ft = ft + n;
    atomic_fetch_add_explicit(&s->cycles, 1, memory_order_relaxed);
    return 1;
}

/* The sender: the messages due in this cycle, at their offsets (in time order: the
 * list is sorted before the take). */
static int on_tx(jack_nframes_t n, void *arg) {
    take *t = arg;
    void *buf = jack_port_get_buffer(t->out, n);
    jack_midi_clear_buffer(buf);
    if (!side_cycle(t, &t->tx, n)) return 0;
    for (int i = 0; i < t->o->nsend; i++) {
        long long at = t->o->send[i].frame - t->tx.pos;
        if (at < 0 || at >= (long long)n) continue;
        if (jack_midi_event_write(buf, (jack_nframes_t)at, t->o->send[i].b,
                                  (size_t)t->o->send[i].len) == 0)
            t->sent++;
    }
    t->tx.pos += n;
    return 0;
}

static void record_midi(take *t, jack_nframes_t n) {
    void *buf = jack_port_get_buffer(t->midi, n);
    uint32_t k = jack_midi_get_event_count(buf);
    for (uint32_t i = 0; i < k && t->nrecv < MAX_RECV; i++) {
        jack_midi_event_t ev;
        if (jack_midi_event_get(&ev, buf, i)) continue;
        long long *r = t->recv[t->nrecv++];
        r[0] = t->rx.pos + (long long)ev.time;
        for (size_t b = 0; b < 3; b++) r[1 + b] = b < ev.size ? ev.buffer[b] : -1;
    }
}

/* The recorder. */
static int on_rx(jack_nframes_t n, void *arg) {
    take *t = arg;
    if (!side_cycle(t, &t->rx, n)) return 0;
    record_midi(t, n);
    long long keep = t->total - t->rx.pos < (long long)n ? t->total - t->rx.pos : (long long)n;
    for (int p = 0; p < t->o->nfrom; p++)
        memcpy(t->rec[p] + t->rx.pos, jack_port_get_buffer(t->in[p], n),
               (size_t)keep * sizeof(float));
    t->rx.pos += keep;
    if (t->rx.pos >= t->total) atomic_store_explicit(&t->finished, true, memory_order_release);
    return 0;
}

static int on_xrun(void *arg) {
    take *t = arg;
    if (atomic_load_explicit(&t->rx.started, memory_order_relaxed))
        atomic_fetch_add_explicit(&t->xruns, 1, memory_order_relaxed);
    return 0;
}

static void on_shutdown(void *arg) {
    take *t = arg;
    atomic_store(&t->server_gone, true);
}

/* ---------- setup ---------- */

static bool connect_all(take *t) {
    const options *o = t->o;
    const _Atomic bool *gone = &t->server_gone;
    jack_client_t *cl = t->rx.client;
    if (o->to && (!jt_wait_port(cl, o->to, JackPortIsInput, o->wait_port, gone) ||
                  !jt_connect(cl, t->out, jack_port_name(t->out), o->to, o->to)))
        return false;
    if (o->midi_from &&
        (!jt_wait_port(cl, o->midi_from, JackPortIsOutput, o->wait_port, gone) ||
         !jt_connect(cl, t->midi, o->midi_from, jack_port_name(t->midi), o->midi_from)))
        return false;
    for (int i = 0; i < o->nfrom; i++)
        if (!jt_wait_port(cl, o->from[i], JackPortIsOutput, o->wait_port, gone) ||
            !jt_connect(cl, t->in[i], o->from[i], jack_port_name(t->in[i]), o->from[i]))
            return false;
    return true;
}

/* A frame of the recorder's take as a server frame (64 bits from its start). */
static long long server(const side *s, long long i) {
    return (long long)s->start_ft + i;
}

static void report(const take *t, jack_nframes_t rate, jack_nframes_t bs) {
    const side *rx = &t->rx, *tx = &t->tx;
    /* the sender's start as a server frame near the recorder's (mod 2^32) */
    long long tx0 = (long long)rx->start_ft + (int32_t)(tx->start_ft - rx->start_ft);
    printf("{\"rate\": %u, \"buffer_size\": %u, \"frames\": %lld, \"start_frame_time\": %lld, "
           "\"send_start\": %lld, \"cycles\": %d, \"skipped_cycles\": %d, \"xruns\": %d, "
           "\"sent\": [",
           (unsigned)rate, (unsigned)bs, rx->pos, server(rx, 0), tx0, atomic_load(&rx->cycles),
           atomic_load(&rx->skipped) + atomic_load(&tx->skipped), atomic_load(&t->xruns));
    for (int i = 0, k = 0; i < t->o->nsend; i++) {
        const send_ev *e = &t->o->send[i];
        if (e->frame >= tx->pos) continue; /* not reached */
        printf("%s[%lld", k++ ? ", " : "", tx0 + e->frame);
        for (int b = 0; b < e->len; b++) printf(", %d", e->b[b]);
        printf("]");
    }
    printf("], \"ports\": [");
    for (int p = 0; p < t->o->nfrom; p++) {
        printf("%s{\"port\": ", p ? ", " : "");
        jt_json_string(t->o->from[p]);
        printf(", \"steps\": [");
        float last = 0;
        int steps = 0;
        for (long long i = 0; i < rx->pos && steps < MAX_STEPS; i++)
            if (t->rec[p][i] != last) {
                last = t->rec[p][i];
                printf("%s[%lld, %.17g]", steps++ ? ", " : "", server(rx, i), (double)last);
            }
        printf("]}");
    }
    printf("], \"midi\": [");
    for (int i = 0; i < t->nrecv; i++) {
        printf("%s[%lld", i ? ", " : "", server(rx, t->recv[i][0]));
        for (int b = 1; b < 4; b++)
            if (t->recv[i][b] >= 0) printf(", %lld", t->recv[i][b]);
        printf("]");
    }
    printf("]}\n");
    fflush(stdout);
}

/* ---------- options ---------- */

static void usage(FILE *f) {
    fputs("usage: kn_jack_midi [--to PORT] [--send FRAME:B0,B1[,B2] ...] [--from PORT ...]\n"
          "                    [--midi-from PORT] [--seconds S] [--name CLIENT] [--lead S]\n"
          "                    [--wait-port S]\n",
          f);
}

/* FRAME:B0,B1[,B2] */
static send_ev parse_send(const char *s) {
    send_ev e = {0};
    char *end;
    e.frame = strtoll(s, &end, 10);
    if (end == s || *end != ':' || e.frame < 0) goto bad;
    s = end + 1;
    while (*s) {
        long b = strtol(s, &end, 0);
        if (end == s || b < 0 || b > 255 || e.len == 3 || (*end && *end != ',')) goto bad;
        e.b[e.len++] = (unsigned char)b;
        s = *end ? end + 1 : end;
    }
    if (!e.len) goto bad;
    return e;
bad:
    jt_fail("--send wants FRAME:B0,B1[,B2] (bytes 0..255), got '%s'", s);
    exit(JT_EXIT_USAGE);
}

static int by_frame(const void *a, const void *b) {
    long long x = ((const send_ev *)a)->frame, y = ((const send_ev *)b)->frame;
    return (x > y) - (x < y);
}

static void parse_options(int argc, char **argv, options *o) {
    enum { O_TO = 1000, O_SEND, O_FROM, O_MFROM, O_SECONDS, O_NAME, O_LEAD, O_WAIT, O_HELP };
    static const struct option lo[] = {{"to", 1, 0, O_TO},           {"send", 1, 0, O_SEND},
                                       {"from", 1, 0, O_FROM},       {"midi-from", 1, 0, O_MFROM},
                                       {"seconds", 1, 0, O_SECONDS}, {"name", 1, 0, O_NAME},
                                       {"lead", 1, 0, O_LEAD},       {"wait-port", 1, 0, O_WAIT},
                                       {"help", 0, 0, O_HELP},       {0, 0, 0, 0}};
    *o = (options){.name = "kn_jack_midi", .seconds = 1, .lead = 0.25, .wait_port = 5};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_TO: o->to = optarg; break;
        case O_SEND:
            if (o->nsend == MAX_SEND) jt_fail("at most %d --send", MAX_SEND), exit(JT_EXIT_USAGE);
            o->send[o->nsend++] = parse_send(optarg);
            break;
        case O_FROM:
            if (o->nfrom == MAX_FROM) jt_fail("at most %d --from", MAX_FROM), exit(JT_EXIT_USAGE);
            o->from[o->nfrom++] = optarg;
            break;
        case O_MFROM: o->midi_from = optarg; break;
        case O_SECONDS: o->seconds = jt_number(optarg, "--seconds", 0.001, 600); break;
        case O_NAME: o->name = optarg; break;
        case O_LEAD: o->lead = jt_number(optarg, "--lead", 0, 60); break;
        case O_WAIT: o->wait_port = jt_number(optarg, "--wait-port", 0, 600); break;
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); exit(JT_EXIT_USAGE);
        }
    }
    if (optind != argc || (o->nsend && !o->to) || !*o->name) {
        usage(stderr);
        exit(JT_EXIT_USAGE);
    }
    qsort(o->send, (size_t)o->nsend, sizeof o->send[0], by_frame);
}

static jack_client_t *open_client(const char *name) {
    jack_status_t st = 0;
    jack_client_t *cl = jack_client_open(name, JackNoStartServer | JackUseExactName, &st);
    if (!cl)
        jt_fail("cannot open JACK client '%s' (no server, or the name is taken): status 0x%x", name,
                (unsigned)st);
    return cl;
}

static bool setup_ports(take *t) {
    t->out = jack_port_register(t->tx.client, "out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
    t->midi = jack_port_register(t->rx.client, "midi", JACK_DEFAULT_MIDI_TYPE, JackPortIsInput, 0);
    bool ok = t->out && t->midi;
    for (int i = 0; ok && i < t->o->nfrom; i++) {
        char name[16];
        snprintf(name, sizeof name, "in_%d", i + 1);
        t->in[i] =
            jack_port_register(t->rx.client, name, JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        t->rec[i] = calloc((size_t)t->total, sizeof(float));
        ok = t->in[i] && t->rec[i];
        if (ok) mlock(t->rec[i], (size_t)t->total * sizeof(float));
    }
    if (!ok) jt_fail("cannot set up the clients (ports or memory)");
    return ok;
}

static bool activate(take *t) {
    jack_set_process_callback(t->tx.client, on_tx, t);
    jack_set_process_callback(t->rx.client, on_rx, t);
    jack_set_xrun_callback(t->rx.client, on_xrun, t);
    jack_on_shutdown(t->rx.client, on_shutdown, t);
    jack_on_shutdown(t->tx.client, on_shutdown, t);
    if (!jack_activate(t->tx.client) && !jack_activate(t->rx.client)) return true;
    jt_fail("cannot activate the clients");
    return false;
}

static bool run_take(take *t) {
    jt_sleep_ms((long)(t->o->lead * 1000));
    atomic_store_explicit(&t->armed, true, memory_order_release);
    double deadline = jt_now() + t->o->seconds + 10;
    while (!atomic_load_explicit(&t->finished, memory_order_acquire)) {
        if (atomic_load(&t->server_gone) || jt_interrupted || jt_now() > deadline) {
            jt_fail("%s", atomic_load(&t->server_gone) ? "the JACK server went away"
                          : jt_interrupted             ? "interrupted"
                                                       : "timed out waiting for the take");
            return false;
        }
        jt_sleep_ms(5);
    }
    return true;
}

int main(int argc, char **argv) {
    static options o;
    parse_options(argc, argv, &o);
    jt_setup("kn_jack_midi");
    static take t;
    t.o = &o;
    char txname[200];
    snprintf(txname, sizeof txname, "%s-tx", o.name);
    t.rx.client = open_client(o.name);
    t.tx.client = t.rx.client ? open_client(txname) : NULL;
    if (!t.tx.client) return JT_EXIT_FAILED;
    jack_nframes_t rate = jack_get_sample_rate(t.rx.client), bs = jack_get_buffer_size(t.rx.client);
    t.total = llround(o.seconds * rate);
    bool ok = setup_ports(&t) && activate(&t) && connect_all(&t) && run_take(&t);
    if (ok) report(&t, rate, bs);
    jack_deactivate(t.rx.client);
    jack_deactivate(t.tx.client);
    jack_client_close(t.rx.client);
    jack_client_close(t.tx.client);
    return ok ? 0 : JT_EXIT_FAILED;
}

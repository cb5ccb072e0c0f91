/*
 * cli.h - the `kanon` command line.
 *
 *   main.c      global options, the command table, help texts
 *   client.c    one JSON request over nng REQ to the conductor (with a
 *               unique request id), small JSON helpers
 *   args.c      positional arguments, known flags, numbers with ranges
 *   lifecycle.c up / down (starting and stopping the conductor)
 *   commands.c  play, stop, revert, log, history, status, record
 *   params.c    set, get, params (a deck's parameters)
 *   mixer.c     mix, gain, mute, unmute, solo, unsolo, pan
 *   meters.c    meters (once, or live bars with --watch)
 *   offline.c   render / check (run kanon-cartridge directly, no conductor)
 *   session.c   session save / load (session_routes.c: the routes part)
 *
 * Exit codes: 0 ok, 1 error (bad arguments, bad code, refused command),
 * 2 no conductor reachable, 3 internal failure.
 * Depends on shm/ (names and paths) only.
 */
#ifndef KANON_CLI_H
#define KANON_CLI_H

#include <cjson/cJSON.h>

enum { KN_EXIT_OK = 0, KN_EXIT_ERR = 1, KN_EXIT_NOCONDUCTOR = 2, KN_EXIT_INTERNAL = 3 };

extern char kn_cli_instance[32];

/* Sends {"cmd":...} (consumes req) and returns the parsed reply, or NULL
 * after printing why no conductor answered. */
cJSON *kn_request(cJSON *req);
/* Like kn_request, but quiet when nobody answers (for `up`/`down`). */
cJSON *kn_request_quiet(cJSON *req, int timeout_ms);
cJSON *kn_cmd(const char *cmd);
/* Prints the reply's error (if any) and returns the exit code for it. */
int kn_reply_status(cJSON *reply, const char *what);
/* Sends req (consumed) when only the outcome matters: kn_reply_status of
 * its reply, which is freed. */
int kn_request_status(cJSON *req, const char *what);
const char *kn_jstr(const cJSON *o, const char *key);
double kn_jnum(const cJSON *o, const char *key);
/* One line of compact JSON on stdout (flushed: scripts read it at once). */
void kn_print_json(const cJSON *o);
/* Directory of the running `kanon` binary (to find its siblings). */
const char *kn_bindir(void);
int kn_has_flag(int argc, char **argv, const char *flag);
/* The usage line of a command's help ("kanon set [DECK.]NAME ..."). */
const char *kn_usage(const char *cmd);

/* Arguments of a command: argv[0] is the command's name. */
enum {
    KN_OPT_JSON = 1,
    KN_OPT_RAMP = 2,
    KN_OPT_WATCH = 4,
    KN_OPT_FORCE = 8,
    KN_OPT_QUANT = 16,  /* --quant N (beats) */
    KN_OPT_AT = 32,     /* --at BEAT */
    KN_OPT_BAR = 64,    /* --bar N (beats per bar) */
    KN_OPT_STEMS = 128, /* --stems (record) */
    KN_OPT_DECK = 256   /* --deck NAME (record) */
};
#define KN_MAXPOS 4
typedef struct kn_args {
    const char *cmd;
    int json, watch, force, stems;
    const char *deck;  /* --deck's text, NULL if not given */
    const char *ramp;  /* --ramp's text, NULL if not given */
    const char *quant; /* --quant's, --at's and --bar's texts, NULL if not given */
    const char *at, *bar;
    int npos;
    const char *pos[KN_MAXPOS];
} kn_args;
/* Accepts only the flags in `opts` and minpos..maxpos positionals; prints
 * what is wrong with the usage line and returns KN_EXIT_ERR otherwise. */
int kn_args_parse(kn_args *a, int argc, char **argv, unsigned opts, int minpos, int maxpos);
/* A finite number in lo..hi (whole if `whole`), or an error on stderr
 * naming `label` and the range (kn_number's sentence). */
int kn_parse_num(const char *cmd, const char *label, const char *s, double lo, double hi, int whole,
                 const char *unit, double *out);
/* --ramp MS within 0..max_ms; *ramp_ms = -1 when not given. */
int kn_parse_ramp(const kn_args *a, double max_ms, double *ramp_ms);

/* --quant N as beats (0..1024; 0 when not given). */
int kn_parse_quant(const kn_args *a, double *quant);
int cmd_tempo(int argc, char **argv);
int cmd_route(int argc, char **argv);
int cmd_unroute(int argc, char **argv);
int cmd_routes(int argc, char **argv);
int cmd_learn(int argc, char **argv);
int cmd_quant(int argc, char **argv);
int cmd_link(int argc, char **argv);

/* The only deck playing (for commands where DECK may be left out). */
int kn_only_deck(const char *cmd, char deck[32]);
/* Where OSC listens and what each socket takes, from status or the ready
 * report: "udp 127.0.0.1:7770 (control only), unix /run/.../x.osc (all)". */
const char *kn_fmt_osc(const cJSON *r, char *buf, size_t n);
/* The audio input of status or the ready report ("input"), in one line;
 * NULL without one. */
const char *kn_fmt_input(const cJSON *in, char *buf, size_t n);
/* status's "midi" in one line (midi.c); NULL without it. */
const char *kn_fmt_midi(const cJSON *m, char *buf, size_t n);
/* "-12.3" or "-inf" for a level in dBFS (the conductor's floor is -120). */
const char *kn_fmt_db(double db, char buf[16]);

int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_play(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_params(int argc, char **argv);
int cmd_mix(int argc, char **argv);
int cmd_gain(int argc, char **argv);
int cmd_mute(int argc, char **argv);
int cmd_unmute(int argc, char **argv);
int cmd_solo(int argc, char **argv);
int cmd_unsolo(int argc, char **argv);
int cmd_pan(int argc, char **argv);
int cmd_meters(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_check(int argc, char **argv);
/* Runs kanon-cartridge with argv (argv[0] is set here) and waits: its
 * exit status in the CLI's terms (offline.c). */
int kn_run_cartridge(char **argv);
int cmd_log(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_revert(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_session(int argc, char **argv);
int cmd_note(int argc, char **argv);
int cmd_midi(int argc, char **argv);

#endif

/*
 * cli.h - the `kanon` command line.
 *
 *   main.c      global options, the command table, help texts
 *   client.c    one JSON request over nng REQ to the conductor
 *   lifecycle.c up / down (starting and stopping the conductor)
 *   commands.c  play, stop, status, record, set, params
 *   offline.c   render / check (run kanon-cartridge directly, no conductor)
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
const char *kn_jstr(const cJSON *o, const char *key);
double kn_jnum(const cJSON *o, const char *key);
/* Directory of the running `kanon` binary (to find its siblings). */
const char *kn_bindir(void);
int kn_has_flag(int argc, char **argv, const char *flag);

int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_play(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_params(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_revert(int argc, char **argv);

#endif

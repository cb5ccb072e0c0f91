/*
 * main.c - `kanon COMMAND [args]`: the command table and its help texts.
 *
 * Global: --instance NAME (or $KANON_INSTANCE) picks which conductor to
 * talk to; it may appear anywhere on the line. `kanon CMD --help` prints
 * the command's help with an example.
 */
#include "cli.h"
#include "segment.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary, *help;
} command;

static const command commands[] = {
    {"up", cmd_up, "start the conductor (detached)",
     "usage: kanon up [--backend auto|jack|pulseaudio|alsa|dummy] [--rate HZ] [--block N]\n"
     "                [--latency MS] [--channels N] [--no-limiter] [--state-mb MB] [--json]\n"
     "Starts kanon-conductor in the background and prints the backend, rate, block,\n"
     "latency and socket it opened. `auto` tries jack, pulseaudio, alsa, dummy in order.\n"
     "example: kanon up --backend dummy --block 64\n"},
    {"down", cmd_down, "stop the conductor and every deck; leave nothing behind",
     "usage: kanon down\nStops every cartridge, removes shared memory and the socket.\n"
     "Exits 0 also when no conductor was running.\nexample: kanon down\n"},
    {"play", cmd_play, "play FILE.c on a deck and swap in every save of it",
     "usage: kanon play FILE.c [--deck NAME] [--fade MS] [--follow] [--no-watch] [--no-wait]\n"
     "Compiles FILE.c in a new cartridge and plays it. The deck is named after the file's\n"
     "stem unless --deck is given. The conductor then watches the file: every save starts\n"
     "a new cartridge that takes over at a block boundary with the state, frame count and\n"
     "parameters exactly where the old one stopped, crossfading over --fade MS (default\n"
     "20; 0 = hard switch). A save that does not compile (or renders NaN/Inf in its test\n"
     "render) is refused and the old code plays on. --follow stays in the foreground and\n"
     "prints each compile's result; --no-watch plays once without following saves.\n"
     "Exits 1 with file:line: error: ... if the first version does not compile.\n"
     "example: kanon play examples/noise.c --deck hiss --fade 50 --follow\n"},
    {"log", cmd_log, "what happened on the decks: compiles, takeovers, errors",
     "usage: kanon log [DECK] [--json]\nexample: kanon log sine\n"},
    {"history", cmd_history, "list the versions of a deck that took over",
     "usage: kanon history DECK [--json]\n"
     "Every version that took over is kept, numbered, with its time (see `kanon status`\n"
     "for the folder). example: kanon history sine\n"},
    {"revert", cmd_revert, "play an earlier version of a deck again",
     "usage: kanon revert DECK [VERSION]\n"
     "Swaps VERSION (default: the one before the current) back in, like a save.\n"
     "example: kanon revert sine 3\n"},
    {"stop", cmd_stop, "stop one deck (fades out)",
     "usage: kanon stop DECK\nexample: kanon stop sine\n"},
    {"status", cmd_status, "conductor, decks, cartridges, underruns, load",
     "usage: kanon status [--json]\nexample: kanon status --json | jq .decks\n"},
    {"record", cmd_record, "record the master output to a WAV file",
     "usage: kanon record start FILE.wav | kanon record stop   [--json]\n"
     "A lossless float32 tap of exactly what goes to the device. `stop` reports frames\n"
     "written and frames dropped (0 unless the disk cannot keep up).\n"
     "example: kanon record start take.wav; sleep 10; kanon record stop\n"},
    {"set", cmd_set, "set a parameter", "usage: kanon set [DECK.]NAME VALUE [--json]\n"
                                        "The value is clamped to the declared range.\n"
                                        "example: kanon set sine.freq 220\n"},
    {"params", cmd_params, "list a deck's parameters",
     "usage: kanon params [DECK] [--json]\nexample: kanon params sine\n"},
    {"render", cmd_render, "render FILE.c offline to a WAV file (no device)",
     "usage: kanon render FILE.c [-o OUT.wav] [--seconds S] [--rate HZ] [--channels N]\n"
     "                    [--block N] [--set NAME=VALUE]...\n"
     "Same compiler and block renderer as a live deck: same input, same samples.\n"
     "Defaults: 10 s, 48000 Hz, 2 channels, block 64, output STEM.wav.\n"
     "example: kanon render examples/sine.c --seconds 2 --set freq=220 --rate 44100 -o low.wav\n"},
    {"check", cmd_check, "compile FILE.c only; report errors as file:line: error:",
     "usage: kanon check FILE.c\nExit 0 if it compiles, 1 with the compiler's message if not.\n"
     "example: kanon check my.c\n"},
};
#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fputs("kanon - live-coding audio in C\n\nusage: kanon [--instance NAME] COMMAND [args]\n\n",
          f);
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fputs("\n`kanon COMMAND --help` explains a command. Exit codes: 0 ok, 1 error,\n"
          "2 no conductor reachable, 3 internal failure.\n",
          f);
}

/* Removes --instance NAME / --instance=NAME from argv; returns new argc. */
static int take_instance(int argc, char **argv, const char **inst) {
    int j = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--instance") && i + 1 < argc) {
            *inst = argv[++i];
        } else if (!strncmp(argv[i], "--instance=", 11)) {
            *inst = argv[i] + 11;
        } else {
            argv[j++] = argv[i];
        }
    }
    argv[j] = NULL;
    return j;
}

int main(int argc, char **argv) {
    const char *inst = NULL;
    argc = take_instance(argc, argv, &inst);
    if (kn_instance(inst, kn_cli_instance)) {
        fprintf(stderr, "kanon: error: instance names are 1-31 characters of [A-Za-z0-9_-]\n");
        return KN_EXIT_ERR;
    }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        if (argc >= 3 && !strcmp(argv[1], "help")) argv[1] = argv[2], argv[2] = "--help";
        else {
            usage(argc < 2 ? stderr : stdout);
            return argc < 2 ? KN_EXIT_ERR : KN_EXIT_OK;
        }
    }
    for (int i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name)) continue;
        if (kn_has_flag(argc - 1, argv + 1, "--help") || kn_has_flag(argc - 1, argv + 1, "-h")) {
            fputs(commands[i].help, stdout);
            return KN_EXIT_OK;
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "kanon: error: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return KN_EXIT_ERR;
}

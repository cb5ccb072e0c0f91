/*
 * contract.h - how the conductor starts a cartridge and hears from it: the
 * process half of the cross-process contract (kanon_shm.h is the shared
 * bytes). Nothing here is spelled out twice: both sides use these names.
 *
 * Starting. The conductor runs `kanon-cartridge live SOURCE --display NAME
 * --instance I --deck N --id ID --report-fd 3 --include DIR --hide DIR
 * --compile-timeout S --state-mb MB [--restore]` with its descriptors set as below, or hands the
 * same arguments to a waiting spare (`kanon-cartridge spare`) as its job: one SOCK_SEQPACKET
 * message on KN_FD_JOB holding a JSON array of the argument strings after "live" (at most
 * KN_JOB_ARGS of them, KN_JOB_MAX bytes), with the deck's KN_SEG_KINDS segment descriptors attached
 * (SCM_RIGHTS, in kind order). A cartridge starts with nothing else: it closes every descriptor
 * from KN_FD_FIRST_FREE on.
 *
 * Reporting. The report lines tell the conductor what the cartridge is
 * doing.
 * One JSON object per line on KN_FD_REPORT, written by the cartridge and
 * read, never trusted, by the conductor (a malformed or unknown line is
 * logged and ignored; user code can write on this pipe too, so a line can
 * only ever affect its own deck). Every line has KN_REPORT_EVENT, and most
 * KN_REPORT_T, the wall time (s) at which it happened. In order of a
 * cartridge's life:
 *
 *   testing   compiled; test-rendering on a scratch copy   ms (compile)
 *   compiled  passed the test, waiting for the token       ms, test_ms, latency
 *             (the frames its code declares in k->latency, route.h);
 *             a cc-tier cartridge (--so) adds tier "cc" and how its build
 *             compared with the tcc build of the same source over
 *             `compared` frames from a copy of the state: same (true: sample
 *             for sample, so the takeover needs no fade), and if not, diff
 *             (the largest difference) and diff_frame (the first frame
 *             that differs, counted from the copy's first)
 *   running   took over: its first frame is `frame`        frame
 *   note      something the user should know               message
 *   blocked   the sandbox refused a call of the user's code syscall
 *   error     the code is refused (compile error, test)    message, and
 *             state_need (bytes) when only the deck's state segment was
 *             too small: the conductor may make it larger and start the
 *             same version again (the state cap, --state-mb, permitting;
 *             at a swap with the old state at KN_FD_OLD_STATE)
 *   fatal     the cartridge cannot go on (API misuse)      message
 */
#ifndef KANON_CONTRACT_H
#define KANON_CONTRACT_H

/* descriptors a live cartridge starts with */
#define KN_FD_JOB       0 /* spare only: the job socket */
#define KN_FD_REPORT    3
#define KN_FD_SEG(kind) (3 + (int)(kind)) /* ring 4, state 5, param 6, snap 7 */
/* Only a successor whose deck's state grows at this swap (state_need
 * below): the deck's state segment as it is, while fds 5 and 7 are the
 * larger new pair. The successor copies it into the new state when it
 * takes over (the old producer has passed the token, so it writes no
 * more); the conductor makes the new pair the deck's once it runs. */
#define KN_FD_OLD_STATE 8
/* Routing (route.h), read-only: the routes segment, and every source's
 * ring (deck slots 0..15, then the device input, which may be closed: no
 * input). A spare gets them in its job message after the deck's four. */
#define KN_FD_ROUTES     9
#define KN_FD_SRC(i)     (10 + (int)(i))
#define KN_FD_SRCS       17 /* KN_SRCS */
#define KN_JOB_FDS       (4 + 1 + KN_FD_SRCS)
#define KN_FD_FIRST_FREE (KN_FD_SRC(KN_FD_SRCS))

/* modes and options (long options, without the leading "--") */
#define KN_MODE_LIVE  "live"
#define KN_MODE_SPARE "spare"
/* The second tier: `kanon-cartridge cc FILE --display NAME --include DIR
 * --output SO --compile-timeout S` runs the system C compiler under limits (no network,
 * its own process group: kill the group) to build SO; the conductor starts
 * it with stdout and stderr on a file and reads the exit status. A live
 * cartridge given --so SO loads that build (and compiles FILE with tcc
 * too, to compare). `kanon render --tier tcc|auto` (auto: cc, or tcc if
 * cc fails, with a note). */
#define KN_MODE_CC      "cc"
#define KN_OPT_SO       "so"
#define KN_OPT_TIER     "tier"
#define KN_TIER_TCC     "tcc"
#define KN_TIER_CC      "cc"
#define KN_TIER_AUTO    "auto"
#define KN_OPT_BUILD    "patch.so" /* the build's name in the conductor's private directory */
#define KN_OPT_DISPLAY  "display"
#define KN_OPT_INSTANCE "instance"
#define KN_OPT_DECK     "deck"
#define KN_OPT_ID       "id"
#define KN_OPT_REPORT   "report-fd"
#define KN_OPT_INCLUDE  "include"
#define KN_OPT_HIDE     "hide"
#define KN_OPT_RESTORE  "restore"
/* Limits (also `kanon check` and `render`; `kanon up` sets them for decks).
 * The compile's wall-clock limit covers faust: past it the cartridge says
 * so (an error line live, the message offline) and exits 1. The state cap
 * is the most a deck's state segment may grow to (KN_STATE_START_MB
 * first, more when a program asks, see state_need above). */
#define KN_OPT_COMPILE_TIMEOUT     "compile-timeout" /* seconds */
#define KN_COMPILE_TIMEOUT_DEFAULT 10
#define KN_COMPILE_TIMEOUT_MAX     3600
#define KN_OPT_STATE_MB            "state-mb" /* MiB */
/* A Faust program's voices (`play` and `render --voices N`): overrides its
 * [nvoices:N]; 0 keeps the program's own. */
#define KN_OPT_VOICES       "voices"
#define KN_VOICES_OPT_MAX   32
#define KN_STATE_MB_DEFAULT 256
#define KN_STATE_MB_MAX     1024
#define KN_STATE_START_MB   16 /* a new deck's state segment, or the cap if smaller */
#define KN_ARG(opt)         "--" opt

/* `kanon render` options that `kanon` passes to `kanon-cartridge render`
 * (the CLI must know which ones take a value to find FILE among them) */
#define KN_OPT_OUTPUT   "output"
#define KN_OPT_SECONDS  "seconds"
#define KN_OPT_RATE     "rate"
#define KN_OPT_CHANNELS "channels"
#define KN_OPT_BLOCK    "block"
#define KN_OPT_SET      "set"
#define KN_OPT_BPM      "bpm"    /* the timeline's tempo (timeline.h) */
#define KN_OPT_BAR      "bar"    /* beats per bar */
#define KN_OPT_EVENTS   "events" /* a JSON file of timed events, by beat */
#define KN_OPT_START    "start"  /* the beat of the render's first sample */
#define KN_OPT_INPUT    "input"  /* a sound file into the deck's port "in" (infile.c) */

/* the spare's job message */
#define KN_JOB_MAX  (1 << 16)
#define KN_JOB_ARGS 60

/* shared limits */
#define KN_BLOCK_MAX  4096       /* frames per block, the most `--block` allows */
#define KN_SOURCE_MAX (8u << 20) /* bytes of a source file */
#define KN_RUNAWAY    1000.0f    /* +60 dBFS: no sane DSP output gets here */

/* keys */
#define KN_REPORT_EVENT      "event"
#define KN_REPORT_T          "t"
#define KN_REPORT_MESSAGE    "message"
#define KN_REPORT_MS         "ms"
#define KN_REPORT_TEST_MS    "test_ms"
#define KN_REPORT_FRAME      "frame"
#define KN_REPORT_SYSCALL    "syscall"
#define KN_REPORT_STATE_NEED "state_need"
#define KN_REPORT_LATENCY    "latency"
#define KN_REPORT_TIER       "tier"
#define KN_REPORT_SAME       "same"
#define KN_REPORT_DIFF       "diff"
#define KN_REPORT_DIFF_FRAME "diff_frame"
#define KN_REPORT_COMPARED   "compared"

/* events */
#define KN_REPORT_TESTING  "testing"
#define KN_REPORT_COMPILED "compiled"
#define KN_REPORT_RUNNING  "running"
#define KN_REPORT_NOTE     "note"
#define KN_REPORT_BLOCKED  "blocked"
#define KN_REPORT_ERROR    "error"
#define KN_REPORT_FATAL    "fatal"

#endif

/*
 * meters.c - `kanon meters`: peak and RMS (dBFS) per deck and for the
 * master, with each deck's DSP load, underruns and non-finite samples.
 *
 * Once: a table (or the conductor's reply with --json). --watch redraws
 * bars about 20 times a second until Ctrl-C. The conductor closes a meter
 * window about every 33 ms, so polling faster would show nothing new.
 *
 * The live view draws on the terminal's alternate screen with the cursor
 * hidden, and a signal only sets a flag: the loop then restores the screen
 * and the cursor itself, so the shell is left as it was found however the
 * view ends (Ctrl-C, SIGTERM, closed terminal, or the conductor gone: exit
 * 2).
 */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_DB   -60.0 /* the bars' left end; the right end is 0 dBFS */
#define FRAME_NS   50000000L
#define NAME_W     12
#define MAX_BAR    200
#define SILENCE_DB -119.95 /* the conductor reports silence as -120 */

const char *kn_fmt_db(double db, char buf[16]) {
    if (db <= SILENCE_DB)
        snprintf(buf, 16, "-inf");
    else
        snprintf(buf, 16, "%.1f", db);
    return buf;
}

/* ------------------------------------------------------------- once */

static void print_table(const cJSON *r) {
    const cJSON *d, *m = cJSON_GetObjectItem(r, "master");
    char pk[16], rms[16];
    printf("%-*s %10s %9s %6s %9s %6s\n", NAME_W, "DECK", "PEAK dBFS", "RMS dBFS", "LOAD",
           "UNDERRUNS", "NAN");
    cJSON_ArrayForEach(d, cJSON_GetObjectItem(r, "decks")) {
        printf("%-*s %10s %9s %5.1f%% %9.0f %6.0f\n", NAME_W, kn_jstr(d, "name"),
               kn_fmt_db(kn_jnum(d, "peak_db"), pk), kn_fmt_db(kn_jnum(d, "rms_db"), rms),
               kn_jnum(d, "load"), kn_jnum(d, "underruns"), kn_jnum(d, "nonfinite"));
    }
    printf("%-*s %10s %9s  limiter: %.0f frames limited\n", NAME_W, "master",
           kn_fmt_db(kn_jnum(m, "peak_db"), pk), kn_fmt_db(kn_jnum(m, "rms_db"), rms),
           kn_jnum(m, "limited_frames"));
}

/* ------------------------------------------------------------- watch */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
    stop_signal = sig;
}

/* No SA_RESTART: the frame's sleep returns at once on Ctrl-C. */
static void catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static int term_width(void) {
    struct winsize w;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) || w.ws_col < 20) return 80;
    return w.ws_col;
}

/* Bar cell of a level: 0..width. */
static int cell(double db, int width) {
    double x = (db - FLOOR_DB) / -FLOOR_DB;
    x = x < 0 ? 0 : x > 1 ? 1 : x;
    return (int)(x * width + 0.5);
}

/* '#' up to the RMS, '=' on to the peak, '|' at the peak. Red from -6
 * dBFS (where the limiter starts to act) when the output is a terminal. */
static void draw_bar(double peak_db, double rms_db, int width, int color) {
    int r = cell(rms_db, width), p = cell(peak_db, width);
    char bar[MAX_BAR + 1];
    for (int i = 0; i < width; i++) bar[i] = i < r ? '#' : i < p ? '=' : ' ';
    if (p > 0) bar[p - 1] = '|';
    bar[width] = 0;
    int hot = cell(-6, width);
    if (color && p > hot)
        printf("[%.*s\033[31m%s\033[0m]", hot, bar, bar + hot);
    else
        printf("[%s]", bar);
}

/* The dBFS ticks above the bars, every 12 dB, right to left so that 0
 * always shows and a label that would overlap its neighbour is left out. */
static void draw_scale(int width) {
    char line[MAX_BAR + 8];
    memset(line, ' ', sizeof line);
    int left = width + 3; /* where the last placed label starts */
    for (int db = 0; db >= (int)FLOOR_DB; db -= 12) {
        char lab[8];
        int n = snprintf(lab, sizeof lab, "%d", db);
        int at = 1 + cell(db, width) - n / 2;
        if (at < 0) at = 0;
        if (at + n > width + 2) at = width + 2 - n;
        if (at + n >= left) continue;
        memcpy(line + at, lab, (size_t)n);
        left = at;
    }
    line[width + 2] = 0;
    printf("%-*s%s %6s %6s %6s %5s %5s\033[K\n", NAME_W + 1, "", line, "PEAK", "RMS", "LOAD",
           "XRUN", "NAN");
}

/* A count in at most 5 characters, so the line never wraps. */
static const char *fmt_count(double n, char buf[16]) {
    if (n < 10000)
        snprintf(buf, 16, "%.0f", n);
    else if (n < 1e7)
        snprintf(buf, 16, "%.0fk", n / 1e3);
    else
        snprintf(buf, 16, "%.0fM", n / 1e6);
    return buf;
}

static void draw_frame(const cJSON *r, int color) {
    int width = term_width() - (NAME_W + 1) - 2 - 35;
    width = width < 10 ? 10 : width > MAX_BAR ? MAX_BAR : width;
    const cJSON *d, *m = cJSON_GetObjectItem(r, "master");
    char pk[16], rms[16];
    printf("\033[Hkanon meters, instance %s: dBFS, %g..0; Ctrl-C to quit\033[K\n", kn_cli_instance,
           FLOOR_DB);
    draw_scale(width);
    cJSON_ArrayForEach(d, cJSON_GetObjectItem(r, "decks")) {
        printf("%-*.*s ", NAME_W, NAME_W, kn_jstr(d, "name"));
        draw_bar(kn_jnum(d, "peak_db"), kn_jnum(d, "rms_db"), width, color);
        printf(" %6s %6s %5.1f%% %5.0f %5.0f\033[K\n", kn_fmt_db(kn_jnum(d, "peak_db"), pk),
               kn_fmt_db(kn_jnum(d, "rms_db"), rms), kn_jnum(d, "load"), kn_jnum(d, "underruns"),
               kn_jnum(d, "nonfinite"));
    }
    if (!cJSON_GetArraySize(cJSON_GetObjectItem(r, "decks")))
        printf("%-*s (no decks playing)\033[K\n", NAME_W, "");
    printf("%-*s ", NAME_W, "master");
    draw_bar(kn_jnum(m, "peak_db"), kn_jnum(m, "rms_db"), width, color);
    char lim[16];
    printf(" %6s %6s  limited %s\033[K\n\033[J", kn_fmt_db(kn_jnum(m, "peak_db"), pk),
           kn_fmt_db(kn_jnum(m, "rms_db"), rms), fmt_count(kn_jnum(m, "limited_frames"), lim));
    fflush(stdout);
}

static void sleep_until(struct timespec *next) {
    next->tv_nsec += FRAME_NS;
    if (next->tv_nsec >= 1000000000L) next->tv_sec++, next->tv_nsec -= 1000000000L;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > next->tv_sec || (now.tv_sec == next->tv_sec && now.tv_nsec > next->tv_nsec))
        *next = now; /* fell behind (a slow terminal): don't race to catch up */
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL);
}

static int watch(void) {
    int color = isatty(STDOUT_FILENO);
    static char buf[1 << 16]; /* one write per frame: no flicker */
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    catch_signals();
    printf("\033[?1049h\033[?25l\033[2J"); /* alternate screen, cursor hidden */
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    int st = KN_EXIT_OK;
    while (!stop_signal) {
        cJSON *r = kn_request_quiet(kn_cmd("meters"), 2000);
        if (!r) {
            st = KN_EXIT_NOCONDUCTOR;
            break;
        }
        int ok = cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"));
        if (ok && !stop_signal) draw_frame(r, color);
        cJSON_Delete(r);
        if (!ok) {
            st = KN_EXIT_ERR;
            break;
        }
        sleep_until(&next);
    }
    printf("\033[0m\033[?25h\033[?1049l"); /* back to the screen and cursor we found */
    fflush(stdout);
    if (st == KN_EXIT_NOCONDUCTOR)
        fprintf(stderr, "kanon meters: the conductor (instance '%s') went away\n", kn_cli_instance);
    else if (st == KN_EXIT_ERR)
        fprintf(stderr, "kanon meters: error: the conductor refused `meters`\n");
    return st;
}

int cmd_meters(int argc, char **argv) {
    kn_args a;
    int st = kn_args_parse(&a, argc, argv, KN_OPT_JSON | KN_OPT_WATCH, 0, 0);
    if (st) return st;
    if (a.watch && a.json) {
        fprintf(stderr, "kanon meters: error: --watch draws for a terminal; poll `kanon meters "
                        "--json` for data\n");
        return KN_EXIT_ERR;
    }
    if (a.watch) {
        /* Fail before taking over the screen if nobody is there. */
        cJSON *r = kn_request(kn_cmd("ping"));
        st = kn_reply_status(r, "meters");
        cJSON_Delete(r);
        return st ? st : watch();
    }
    cJSON *r = kn_request(kn_cmd("meters"));
    st = kn_reply_status(r, "meters");
    if (!st && a.json)
        kn_print_json(r);
    else if (!st)
        print_table(r);
    cJSON_Delete(r);
    return st;
}

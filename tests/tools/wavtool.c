/*
 * wavtool - exact, scriptable analysis of WAV recordings for kanon's end-to-end tests.
 *
 * Every subcommand prints one JSON object on stdout (or, with --field NAME, only that
 * field's value as plain text, so shell tests need no jq).  Exit status: 0 success,
 * 1 a check given on the command line failed (the report is still printed), 2 usage or
 * I/O error (message on stderr, nothing on stdout).
 *
 *   wavtool stat FILE [--channel C] [--skip SECONDS] [--length SECONDS]
 *       Fields: file, rate, channels, frames (whole file), seconds, channel (-1 = all),
 *       window_start, window_frames, peak, peak_frame, peak_dbfs, rms, rms_dbfs, dc, nan,
 *       max_step, max_step_frame, first_nonsilent, freq, freq_method, freq_channel,
 *       freq_crossings.
 *       Amplitude figures (peak, rms, dc) cover the selected channel (default: all
 *       channels together) inside the window, over finite samples only; `nan` counts the
 *       non-finite samples.  max_step is the largest |x[i]-x[i-1]| between consecutive
 *       frames of one channel inside the window.  Frame numbers (peak_frame,
 *       max_step_frame, first_nonsilent) are file frame indices; -1 means none.
 *       first_nonsilent is the first frame with |x| > 1e-6.
 *       freq is measured on the selected channel (channel 0 when all are selected):
 *       freq_method "zero_crossing" = least-squares fit of the linearly interpolated times
 *       of positive-going zero crossings (with hysteresis), used when those crossings are
 *       regular (every residual < 5% of a period); otherwise "fft_peak" = the strongest
 *       spectral peak of a Hann-windowed FFT with parabolic interpolation of the log
 *       magnitude (this is the loudest partial, not necessarily the fundamental); "none"
 *       for silence (freq 0).
 *       A window given with --length must lie inside the file (else exit 2), so a short
 *       recording cannot silently pass a windowed check.
 *
 *   wavtool level FILE --seconds-from A --seconds-to B [--channel C]
 *       Convenience alias for `stat FILE --skip A --length B-A` (same fields; the useful
 *       ones are rms_dbfs and peak_dbfs).
 *
 *   wavtool compare A B [--tol T] [--min-overlap SECONDS] [--search SECONDS | --offset D]
 *       Finds the frame offset d (B[i] lines up with A[i+d]; d may be negative; searched in
 *       +-SEARCH s, default 10) at which the files agree, then verifies the whole overlap
 *       (all channels).  Fields: file_a, file_b, rate, channels, frames_a, frames_b, offset,
 *       offset_seconds, overlap_frames, overlap_seconds, max_abs_diff, max_diff_frame,
 *       first_diff_frame, tol, nonfinite_frames, a_first_nonsilent, b_first_nonsilent,
 *       align_anchor, window_start, window_frames, window_max_abs_diff, and ok (only with
 *       --tol).  Diff frame numbers are in A's coordinates; first_diff_frame is the first
 *       frame whose difference exceeds tol (0 without --tol), -1 if none.  A non-finite
 *       sample makes that frame's difference infinite (max_abs_diff null / "inf").
 *       With --tol, exit 1 unless max_abs_diff <= T and the overlap is >= --min-overlap
 *       (default 1 s).  Different rates or channel counts are an error (exit 2).  Frames of
 *       either file outside the overlap are not compared (check them with stat).
 *     Alignment: a window of B (its onset - the first frame above max(1e-6, -60 dB of its
 *       peak) - preceded by up to 64 frames of lead-in, 4096 frames after it) is scored at
 *       every offset by its max |diff|; the lead-in of silence pins the onset even for a
 *       periodic sound.  The exact minimum is found by visiting every offset with early
 *       exit against the best so far (seeded by a cheap pass over a 64-frame window; the
 *       window's loudest frames are checked first), so wrong offsets cost a few frames each.
 *       The same is done for A's onset window searched in B, which is what aligns files
 *       when B has extra material before the shared part.  From each anchor the exact
 *       minimum and the smallest-|d| near-tie (score <= 2*min + 1e-4*peak) are verified
 *       over the whole overlap, and among those with near-best window scores the longest
 *       overlap wins (then the lower score, then the smaller |d|, then B's anchor).  So an
 *       exactly periodic signal without onset (alignable only modulo its period) gets the
 *       equivalent offset with the longest overlap, and a difference inside that overlap
 *       can never be dodged by choosing another equivalent offset.  The flip side: if B
 *       ends in material A lacks and the content is periodic without onset, the check
 *       fails rather than passes.
 *     --offset D: no search; B[i] is compared with A[i+D] (align_anchor "given").  For a
 *       recording against a render when the caller knows where the render's frame 0 fell
 *       in the recording (from status), so a shift of even one frame fails: a search
 *       would find the shifted offset and pass.
 *
 *   wavtool steps FILE --max STEP [--channel C] [--skip SECONDS] [--length SECONDS]
 *       Discontinuity detector.  Fields: file, rate, channel, window_start, window_frames,
 *       limit, max_step, max_step_frame, max_step_channel, violations,
 *       first_violation_frame, ok.  Exit 1 if any |x[i]-x[i-1]| > STEP or a sample is
 *       non-finite; first_violation_frame is the frame i of the first violation.
 *
 *   wavtool gen sine FREQ SECONDS RATE OUT.wav [--amp A] [--channels N] [--delay SECONDS]
 *       Writes a float32 WAV fixture (mono by default): --delay seconds of silence, then
 *       A*sin(2*pi*FREQ*k/RATE) for k = 0.. (so a delayed copy is an exact shift).
 *       Fields: file, rate, channels, frames, freq, amp, delay_frames.
 *
 * Options for every subcommand:
 *   --field NAME   print only NAME's value (numbers as %.10g; non-finite as inf/nan,
 *                  which are null in the JSON form; booleans as true/false).
 *   --check EXPR   extra assertion on a numeric field, repeatable: NAME<V, NAME<=V,
 *                  NAME>V, NAME>=V, NAME=V, NAME!=V, or NAME=V~TOL (|NAME-V| <= TOL).
 *                  A non-finite field value fails every check.  Failures go to stderr
 *                  and make the exit status 1.
 * dBFS values are 20*log10(x) floored at -200 (so digital silence reads -200, not -inf).
 */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sndfile.h>

enum { EXIT_CHECK_FAILED = 1, EXIT_USAGE = 2 };

#define SILENCE_THRESHOLD 1e-6
#define DB_FLOOR          -200.0
#define MAX_FIELDS        48
#define MAX_CHECKS        32
/* Alignment window of `compare`: frames of B after its first non-silent frame ... */
#define ALIGN_CORE_FRAMES 4096
/* ... plus this many frames of the (silent) lead-in before it, so that a sound's onset
 * pins the offset even when the sound itself is periodic. */
#define ALIGN_LEAD_FRAMES 64
/* Short window and candidate count of the cheap first alignment pass. */
#define ALIGN_COARSE_FRAMES 64
#define ALIGN_CANDIDATES    8
/* Window scores within 2*best + ALIGN_NEAR_REL*peak count as near-ties (peak: the larger
 * of the two files' peaks), i.e. differences 80 dB below the signal do not rank offsets. */
#define ALIGN_NEAR_REL 1e-4
/* A file's onset, for alignment, is its first frame above max(SILENCE_THRESHOLD,
 * ALIGN_ONSET_REL * its peak), so a low noise floor is not mistaken for the onset. */
#define ALIGN_ONSET_REL 1e-3

static const char *usage_text =
    "usage:\n"
    "  wavtool stat FILE [--channel C] [--skip SECONDS] [--length SECONDS]\n"
    "  wavtool level FILE --seconds-from A --seconds-to B [--channel C]\n"
    "  wavtool compare A B [--tol T] [--min-overlap SECONDS] [--search SECONDS | --offset D]\n"
    "  wavtool steps FILE --max STEP [--channel C] [--skip SECONDS] [--length SECONDS]\n"
    "  wavtool gen sine FREQ SECONDS RATE OUT.wav [--amp A] [--channels N] [--delay SECONDS]\n"
    "common options: --field NAME, --check EXPR (NAME<V NAME<=V NAME>V NAME>=V NAME=V NAME!=V "
    "NAME=V~TOL)\n"
    "exit: 0 ok, 1 check failed, 2 usage/IO error\n";

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("wavtool: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(EXIT_USAGE);
}

/* ---------- option values ---------- */

static double parse_double(const char *s, const char *what) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v)) die("%s: not a number: '%s'", what, s);
    return v;
}

static long parse_long(const char *s, const char *what) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0') die("%s: not an integer: '%s'", what, s);
    return v;
}

/* ---------- report: ordered fields printed as JSON or as one plain value ---------- */

typedef enum { F_NUM, F_INT, F_STR, F_BOOL } field_kind;

typedef struct {
    const char *name;
    field_kind kind;
    double num;
    long long i;
    const char *str; /* points into argv or a literal; never owned */
} field;

typedef struct {
    field f[MAX_FIELDS];
    int n;
} report;

static field *report_add(report *r, const char *name, field_kind kind) {
    if (r->n == MAX_FIELDS) die("internal: too many report fields");
    field *f = &r->f[r->n++];
    memset(f, 0, sizeof *f);
    f->name = name;
    f->kind = kind;
    return f;
}

static void report_num(report *r, const char *name, double v) {
    report_add(r, name, F_NUM)->num = v;
}
static void report_int(report *r, const char *name, long long v) {
    report_add(r, name, F_INT)->i = v;
}
static void report_str(report *r, const char *name, const char *v) {
    report_add(r, name, F_STR)->str = v;
}
static void report_bool(report *r, const char *name, bool v) {
    report_add(r, name, F_BOOL)->i = v;
}

static const field *report_find(const report *r, const char *name) {
    for (int k = 0; k < r->n; k++)
        if (strcmp(r->f[k].name, name) == 0) return &r->f[k];
    return NULL;
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

/* JSON has no inf/nan: those become null there, and inf/-inf/nan in plain output. */
static void print_value(const field *f, bool json) {
    switch (f->kind) {
    case F_NUM:
        if (json && !isfinite(f->num))
            fputs("null", stdout);
        else
            printf("%.10g", f->num);
        break;
    case F_INT: printf("%lld", f->i); break;
    case F_BOOL: fputs(f->i ? "true" : "false", stdout); break;
    case F_STR:
        if (json)
            print_json_string(f->str);
        else
            fputs(f->str, stdout);
        break;
    }
}

static void report_print(const report *r, const char *only_field) {
    if (only_field) {
        const field *f = report_find(r, only_field);
        print_value(f, false);
        putchar('\n');
        return;
    }
    putchar('{');
    for (int k = 0; k < r->n; k++) {
        if (k) fputs(", ", stdout);
        print_json_string(r->f[k].name);
        fputs(": ", stdout);
        print_value(&r->f[k], true);
    }
    puts("}");
}

/* ---------- --check NAME<op>VALUE[~TOL] ---------- */

typedef struct {
    const char *field;
    const char *checks[MAX_CHECKS];
    int nchecks;
} common_opts;

typedef struct {
    char name[64];
    char op[3];
    double value, tol;
} check_expr;

static check_expr parse_check(const char *expr) {
    check_expr c = {.tol = -1};
    size_t len = strcspn(expr, "<>=!");
    if (len == 0 || len >= sizeof c.name || expr[len] == '\0')
        die("--check '%s': expected NAME<op>VALUE, op one of < <= > >= = != (and =V~TOL)", expr);
    memcpy(c.name, expr, len);
    const char *p = expr + len;
    size_t oplen = (p[1] == '=') ? 2 : 1;
    memcpy(c.op, p, oplen);
    if (strcmp(c.op, "!") == 0) die("--check '%s': unknown operator", expr);
    if (strcmp(c.op, "==") == 0) strcpy(c.op, "=");
    p += oplen;
    char *end;
    c.value = strtod(p, &end);
    if (end == p) die("--check '%s': missing value", expr);
    if (*end == '~' && strcmp(c.op, "=") == 0) {
        const char *t = end + 1;
        c.tol = strtod(t, &end);
        if (end == t || c.tol < 0) die("--check '%s': bad tolerance", expr);
    }
    if (*end != '\0') die("--check '%s': trailing characters '%s'", expr, end);
    return c;
}

static bool check_holds(const check_expr *c, double x) {
    if (!isfinite(x)) return false;
    if (strcmp(c->op, "<") == 0) return x < c->value;
    if (strcmp(c->op, "<=") == 0) return x <= c->value;
    if (strcmp(c->op, ">") == 0) return x > c->value;
    if (strcmp(c->op, ">=") == 0) return x >= c->value;
    if (strcmp(c->op, "!=") == 0) return x != c->value;
    if (c->tol >= 0) return fabs(x - c->value) <= c->tol;
    return x == c->value;
}

static double field_as_number(const field *f) {
    return f->kind == F_NUM ? f->num : (double)f->i;
}

/* Returns how many --check expressions failed; reports each on stderr. */
static int run_checks(const report *r, const common_opts *o) {
    int failed = 0;
    for (int k = 0; k < o->nchecks; k++) {
        check_expr c = parse_check(o->checks[k]);
        const field *f = report_find(r, c.name);
        if (!f) die("--check '%s': no field '%s'", o->checks[k], c.name);
        if (f->kind == F_STR) die("--check '%s': field '%s' is not numeric", o->checks[k], c.name);
        double x = field_as_number(f);
        if (!check_holds(&c, x)) {
            fprintf(stderr, "wavtool: check failed: %s (%s is %.10g)\n", o->checks[k], c.name, x);
            failed++;
        }
    }
    return failed;
}

/* Validates --field/--check names before any output, then prints the report and
 * turns the outcome into the exit status. */
static int finish(const report *r, const common_opts *o, bool subcommand_ok) {
    if (o->field && !report_find(r, o->field)) {
        fprintf(stderr, "wavtool: no field '%s'; fields:", o->field);
        for (int k = 0; k < r->n; k++) fprintf(stderr, " %s", r->f[k].name);
        fputc('\n', stderr);
        exit(EXIT_USAGE);
    }
    for (int k = 0; k < o->nchecks; k++) parse_check(o->checks[k]); /* syntax first */
    int failed = run_checks(r, o);
    report_print(r, o->field);
    return (failed || !subcommand_ok) ? EXIT_CHECK_FAILED : 0;
}

/* ---------- audio files ---------- */

typedef struct {
    const char *path;
    float *data; /* interleaved, frames * channels */
    long long frames;
    int channels;
    int rate;
} audio;

static void audio_load(audio *a, const char *path) {
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf) die("cannot open '%s': %s", path, sf_strerror(NULL));
    if (info.channels < 1 || info.samplerate < 1 || info.frames < 0) {
        sf_close(sf);
        die("'%s': unusable header (channels %d, rate %d)", path, info.channels, info.samplerate);
    }
    size_t samples = (size_t)info.frames * (size_t)info.channels;
    a->data = malloc((samples ? samples : 1) * sizeof(float));
    if (!a->data) die("'%s': out of memory for %zu samples", path, samples);
    sf_count_t got = sf_readf_float(sf, a->data, info.frames);
    sf_close(sf);
    if (got != info.frames)
        die("'%s': read %lld of %lld frames", path, (long long)got, (long long)info.frames);
    a->path = path;
    a->frames = info.frames;
    a->channels = info.channels;
    a->rate = info.samplerate;
}

static void audio_free(audio *a) {
    free(a->data);
    a->data = NULL;
}

static inline float sample(const audio *a, long long frame, int ch) {
    return a->data[frame * a->channels + ch];
}

static double to_dbfs(double x) {
    return x > 1e-10 ? 20.0 * log10(x) : DB_FLOOR;
}

/* Frames [start, start+frames) of the file, from --skip/--length seconds. */
typedef struct {
    long long start, frames;
} window;

static window window_from_seconds(const audio *a, double skip, double length, bool has_length) {
    if (skip < 0) die("--skip must be >= 0");
    if (has_length && length < 0) die("--length must be >= 0");
    window w;
    w.start = llround(skip * a->rate);
    if (w.start > a->frames)
        die("'%s': skip %.6g s (frame %lld) is past the end (%lld frames)", a->path, skip, w.start,
            a->frames);
    w.frames = has_length ? llround(length * a->rate) : a->frames - w.start;
    if (w.start + w.frames > a->frames)
        die("'%s': window [%lld, %lld) extends past the end of the file (%lld frames)", a->path,
            w.start, w.start + w.frames, a->frames);
    return w;
}

/* Channel range [*c0, *c1) for --channel (-1 = all). */
static void channel_range(const audio *a, int channel, int *c0, int *c1) {
    if (channel >= a->channels)
        die("'%s' has %d channel(s); --channel %d", a->path, a->channels, channel);
    *c0 = channel < 0 ? 0 : channel;
    *c1 = channel < 0 ? a->channels : channel + 1;
}

/* ---------- amplitude statistics ---------- */

typedef struct {
    double peak, rms, dc;
    long long peak_frame, nonfinite, first_nonsilent;
} amp_stats;

static amp_stats measure_amplitude(const audio *a, window w, int c0, int c1) {
    amp_stats s = {.peak_frame = -1, .first_nonsilent = -1};
    double sum = 0, sumsq = 0;
    long long count = 0;
    for (long long i = w.start; i < w.start + w.frames; i++) {
        for (int c = c0; c < c1; c++) {
            double x = sample(a, i, c);
            if (!isfinite(x)) {
                s.nonfinite++;
                continue;
            }
            double m = fabs(x);
            if (m > s.peak) s.peak = m, s.peak_frame = i;
            if (m > SILENCE_THRESHOLD && s.first_nonsilent < 0) s.first_nonsilent = i;
            sum += x;
            sumsq += x * x;
            count++;
        }
    }
    if (count) {
        s.dc = sum / count;
        s.rms = sqrt(sumsq / count);
    }
    return s;
}

/* ---------- consecutive-sample steps (discontinuities) ---------- */

typedef struct {
    double max_step;
    long long max_step_frame;
    int max_step_channel;
    long long violations, first_violation_frame;
} step_stats;

/* A step involving a non-finite sample counts as a violation (it is certainly a fault)
 * but not towards max_step, which stays a finite, comparable number. */
static step_stats scan_steps(const audio *a, window w, int c0, int c1, double limit) {
    step_stats s = {.max_step_frame = -1, .max_step_channel = -1, .first_violation_frame = -1};
    for (long long i = w.start + 1; i < w.start + w.frames; i++) {
        bool violated = false;
        for (int c = c0; c < c1; c++) {
            double step = fabs((double)sample(a, i, c) - (double)sample(a, i - 1, c));
            if (isfinite(step) && step > s.max_step)
                s.max_step = step, s.max_step_frame = i, s.max_step_channel = c;
            if (!(step <= limit)) violated = true;
        }
        if (violated) {
            if (s.first_violation_frame < 0) s.first_violation_frame = i;
            s.violations++;
        }
    }
    return s;
}

/* ---------- frequency estimation ---------- */

typedef struct {
    double hz;
    const char *method;
    long long crossings;
} freq_est;

/* Positive-going zero crossings, each time linearly interpolated between the two samples
 * around it.  Hysteresis (the signal must first dip below -h) keeps noise near zero from
 * producing extra crossings.  Returns the number of crossing times stored in t. */
static long long find_crossings(const double *y, long long n, double h, double *t) {
    long long count = 0;
    bool armed = false;
    for (long long i = 1; i < n; i++) {
        if (y[i - 1] < -h) armed = true;
        if (armed && y[i - 1] < 0 && y[i] >= 0) {
            t[count++] = (double)(i - 1) + (-y[i - 1]) / (y[i] - y[i - 1]);
            armed = false;
        }
    }
    return count;
}

/* Least-squares period of t[k] = t0 + k*P; the fit is accepted only if every crossing is
 * within 5% of a period of the line, i.e. the waveform crosses zero once per period. */
static bool fit_period(const double *t, long long n, double *period) {
    if (n < 4) return false;
    double kmean = (n - 1) / 2.0, tmean = 0;
    for (long long k = 0; k < n; k++) tmean += t[k];
    tmean /= n;
    double sxy = 0, sxx = 0;
    for (long long k = 0; k < n; k++) {
        sxy += (k - kmean) * (t[k] - tmean);
        sxx += (k - kmean) * (k - kmean);
    }
    double p = sxy / sxx;
    if (!(p >= 2.0)) return false;
    for (long long k = 0; k < n; k++)
        if (fabs(t[k] - (tmean + (k - kmean) * p)) > 0.05 * p) return false;
    *period = p;
    return true;
}

static void fft_inplace(double *re, double *im, size_t n) {
    for (size_t i = 1, j = 0; i < n; i++) { /* bit-reversal permutation */
        size_t bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            double tr = re[i], ti = im[i];
            re[i] = re[j], im[i] = im[j];
            re[j] = tr, im[j] = ti;
        }
    }
    for (size_t len = 2; len <= n; len <<= 1) {
        size_t half = len / 2;
        for (size_t k = 0; k < half; k++) {
            double wr = cos(-2.0 * M_PI * k / len), wi = sin(-2.0 * M_PI * k / len);
            for (size_t i = k; i < n; i += len) {
                size_t j = i + half;
                double xr = re[j] * wr - im[j] * wi, xi = re[j] * wi + im[j] * wr;
                re[j] = re[i] - xr, im[j] = im[i] - xi;
                re[i] += xr, im[i] += xi;
            }
        }
    }
}

/* Strongest bin of a Hann-windowed FFT over the first power-of-two samples, refined by a
 * parabola through the log magnitudes of the peak bin and its neighbours. */
static double freq_by_fft_peak(const double *y, long long n, int rate) {
    size_t len = 1;
    while (len * 2 <= (size_t)n && len < (1u << 20)) len *= 2;
    if (len < 8) return 0;
    double *re = malloc(len * sizeof *re), *im = calloc(len, sizeof *im);
    if (!re || !im) die("out of memory for FFT");
    for (size_t i = 0; i < len; i++) re[i] = y[i] * (0.5 - 0.5 * cos(2.0 * M_PI * i / len));
    fft_inplace(re, im, len);
    size_t best = 1;
    double best_mag = -1;
    for (size_t k = 1; k < len / 2; k++) {
        double m = re[k] * re[k] + im[k] * im[k];
        if (m > best_mag) best_mag = m, best = k;
    }
    double lm[3];
    for (int d = -1; d <= 1; d++) {
        size_t k = best + d;
        lm[d + 1] = 0.5 * log(re[k] * re[k] + im[k] * im[k] + 1e-300);
    }
    free(re);
    free(im);
    double denom = lm[0] - 2 * lm[1] + lm[2];
    double delta = denom < 0 ? 0.5 * (lm[0] - lm[2]) / denom : 0;
    return (best + delta) * rate / (double)len;
}

static freq_est estimate_freq(const audio *a, window w, int channel) {
    freq_est f = {.hz = 0, .method = "none"};
    long long n = w.frames;
    if (n < 8) return f;
    double *y = malloc(n * sizeof *y), *t = malloc(n * sizeof *t);
    if (!y || !t) die("out of memory for frequency analysis");
    double mean = 0, peak = 0;
    for (long long i = 0; i < n; i++) {
        double x = sample(a, w.start + i, channel);
        y[i] = isfinite(x) ? x : 0.0;
        mean += y[i];
    }
    mean /= n;
    for (long long i = 0; i < n; i++) {
        y[i] -= mean; /* crossings of the AC part, so a DC offset cannot skew them */
        if (fabs(y[i]) > peak) peak = fabs(y[i]);
    }
    if (peak > SILENCE_THRESHOLD) {
        double period;
        long long count = find_crossings(y, n, 0.1 * peak, t);
        f.crossings = count;
        if (fit_period(t, count, &period)) {
            f.hz = a->rate / period;
            f.method = "zero_crossing";
        } else {
            f.hz = freq_by_fft_peak(y, n, a->rate);
            f.method = "fft_peak";
        }
    }
    free(y);
    free(t);
    return f;
}

/* ---------- common option handling ---------- */

enum {
    OPT_FIELD = 1000,
    OPT_CHECK,
    OPT_CHANNEL,
    OPT_SKIP,
    OPT_LENGTH,
    OPT_FROM,
    OPT_TO,
    OPT_TOL,
    OPT_MIN_OVERLAP,
    OPT_SEARCH,
    OPT_OFFSET,
    OPT_MAX,
    OPT_AMP,
    OPT_CHANNELS,
    OPT_DELAY,
    OPT_HELP,
};

#define COMMON_LONG_OPTIONS                                                                        \
    {"field", required_argument, 0, OPT_FIELD}, {"check", required_argument, 0, OPT_CHECK},        \
        {"help", no_argument, 0, OPT_HELP}, {                                                      \
        0, 0, 0, 0                                                                                 \
    }

/* Handles an option every subcommand accepts; false if `opt` is not one of them. */
static bool common_option(int opt, const char *arg, common_opts *o) {
    switch (opt) {
    case OPT_FIELD: o->field = arg; return true;
    case OPT_CHECK:
        if (o->nchecks == MAX_CHECKS) die("too many --check options");
        o->checks[o->nchecks++] = arg;
        return true;
    case OPT_HELP: fputs(usage_text, stdout); exit(0);
    default: return false;
    }
}

static void bad_usage(void) __attribute__((noreturn));
static void bad_usage(void) {
    fputs(usage_text, stderr);
    exit(EXIT_USAGE);
}

/* getopt_long over the subcommand's arguments (argv[0] is the subcommand name). */
static int next_option(int argc, char **argv, const struct option *opts) {
    return getopt_long(argc, argv, "", opts, NULL);
}

/* ---------- stat / level ---------- */

static int stat_file(const char *path, int channel, double skip, double length, bool has_length,
                     const common_opts *o) {
    audio a;
    audio_load(&a, path);
    int c0, c1;
    channel_range(&a, channel, &c0, &c1);
    window w = window_from_seconds(&a, skip, length, has_length);
    amp_stats s = measure_amplitude(&a, w, c0, c1);
    step_stats st = scan_steps(&a, w, c0, c1, INFINITY);
    freq_est f = estimate_freq(&a, w, c0);

    report r = {.n = 0};
    report_str(&r, "file", path);
    report_int(&r, "rate", a.rate);
    report_int(&r, "channels", a.channels);
    report_int(&r, "frames", a.frames);
    report_num(&r, "seconds", (double)a.frames / a.rate);
    report_int(&r, "channel", channel);
    report_int(&r, "window_start", w.start);
    report_int(&r, "window_frames", w.frames);
    report_num(&r, "peak", s.peak);
    report_int(&r, "peak_frame", s.peak_frame);
    report_num(&r, "peak_dbfs", to_dbfs(s.peak));
    report_num(&r, "rms", s.rms);
    report_num(&r, "rms_dbfs", to_dbfs(s.rms));
    report_num(&r, "dc", s.dc);
    report_int(&r, "nan", s.nonfinite);
    report_num(&r, "max_step", st.max_step);
    report_int(&r, "max_step_frame", st.max_step_frame);
    report_int(&r, "first_nonsilent", s.first_nonsilent);
    report_num(&r, "freq", f.hz);
    report_str(&r, "freq_method", f.method);
    report_int(&r, "freq_channel", c0);
    report_int(&r, "freq_crossings", f.crossings);
    int rc = finish(&r, o, true);
    audio_free(&a);
    return rc;
}

static int cmd_stat(int argc, char **argv) {
    static const struct option opts[] = {{"channel", required_argument, 0, OPT_CHANNEL},
                                         {"skip", required_argument, 0, OPT_SKIP},
                                         {"length", required_argument, 0, OPT_LENGTH},
                                         COMMON_LONG_OPTIONS};
    common_opts o = {0};
    int channel = -1, opt;
    double skip = 0, length = 0;
    bool has_length = false;
    while ((opt = next_option(argc, argv, opts)) != -1) {
        if (common_option(opt, optarg, &o)) continue;
        switch (opt) {
        case OPT_CHANNEL: channel = (int)parse_long(optarg, "--channel"); break;
        case OPT_SKIP: skip = parse_double(optarg, "--skip"); break;
        case OPT_LENGTH:
            length = parse_double(optarg, "--length");
            has_length = true;
            break;
        default: bad_usage();
        }
    }
    if (argc - optind != 1) bad_usage();
    if (channel < -1) die("--channel must be >= 0");
    return stat_file(argv[optind], channel, skip, length, has_length, &o);
}

static int cmd_level(int argc, char **argv) {
    static const struct option opts[] = {{"channel", required_argument, 0, OPT_CHANNEL},
                                         {"seconds-from", required_argument, 0, OPT_FROM},
                                         {"seconds-to", required_argument, 0, OPT_TO},
                                         COMMON_LONG_OPTIONS};
    common_opts o = {0};
    int channel = -1, opt;
    double from = -1, to = -1;
    while ((opt = next_option(argc, argv, opts)) != -1) {
        if (common_option(opt, optarg, &o)) continue;
        switch (opt) {
        case OPT_CHANNEL: channel = (int)parse_long(optarg, "--channel"); break;
        case OPT_FROM: from = parse_double(optarg, "--seconds-from"); break;
        case OPT_TO: to = parse_double(optarg, "--seconds-to"); break;
        default: bad_usage();
        }
    }
    if (argc - optind != 1) bad_usage();
    if (from < 0 || to < 0) die("level needs --seconds-from and --seconds-to (>= 0)");
    if (to < from) die("--seconds-to (%g) is before --seconds-from (%g)", to, from);
    if (channel < -1) die("--channel must be >= 0");
    return stat_file(argv[optind], channel, from, to - from, true, &o);
}

/* ---------- steps ---------- */

static int cmd_steps(int argc, char **argv) {
    static const struct option opts[] = {{"max", required_argument, 0, OPT_MAX},
                                         {"channel", required_argument, 0, OPT_CHANNEL},
                                         {"skip", required_argument, 0, OPT_SKIP},
                                         {"length", required_argument, 0, OPT_LENGTH},
                                         COMMON_LONG_OPTIONS};
    common_opts o = {0};
    int channel = -1, opt;
    double skip = 0, length = 0, limit = -1;
    bool has_length = false;
    while ((opt = next_option(argc, argv, opts)) != -1) {
        if (common_option(opt, optarg, &o)) continue;
        switch (opt) {
        case OPT_MAX: limit = parse_double(optarg, "--max"); break;
        case OPT_CHANNEL: channel = (int)parse_long(optarg, "--channel"); break;
        case OPT_SKIP: skip = parse_double(optarg, "--skip"); break;
        case OPT_LENGTH:
            length = parse_double(optarg, "--length");
            has_length = true;
            break;
        default: bad_usage();
        }
    }
    if (argc - optind != 1) bad_usage();
    if (limit < 0) die("steps needs --max STEP (>= 0)");
    if (channel < -1) die("--channel must be >= 0");

    audio a;
    audio_load(&a, argv[optind]);
    int c0, c1;
    channel_range(&a, channel, &c0, &c1);
    window w = window_from_seconds(&a, skip, length, has_length);
    step_stats s = scan_steps(&a, w, c0, c1, limit);
    if (s.violations)
        fprintf(stderr,
                "wavtool: %s: %lld step(s) above %g, first at frame %lld (max %.10g at %lld)\n",
                a.path, s.violations, limit, s.first_violation_frame, s.max_step, s.max_step_frame);

    report r = {.n = 0};
    report_str(&r, "file", a.path);
    report_int(&r, "rate", a.rate);
    report_int(&r, "channel", channel);
    report_int(&r, "window_start", w.start);
    report_int(&r, "window_frames", w.frames);
    report_num(&r, "limit", limit);
    report_num(&r, "max_step", s.max_step);
    report_int(&r, "max_step_frame", s.max_step_frame);
    report_int(&r, "max_step_channel", s.max_step_channel);
    report_int(&r, "violations", s.violations);
    report_int(&r, "first_violation_frame", s.first_violation_frame);
    report_bool(&r, "ok", s.violations == 0);
    int rc = finish(&r, &o, s.violations == 0);
    audio_free(&a);
    return rc;
}

/* ---------- compare ---------- */

/* Largest |B[ib][c] - A[ia][c]| over channels; any non-finite sample makes it +inf so
 * that NaNs can never hide inside a max(). */
static double frame_diff(const audio *a, long long ia, const audio *b, long long ib) {
    double m = 0;
    for (int c = 0; c < a->channels; c++) {
        double d = fabs((double)sample(b, ib, c) - (double)sample(a, ia, c));
        if (!(d <= m)) m = isfinite(d) ? d : INFINITY;
    }
    return m;
}

static long long first_frame_above(const audio *a, double threshold) {
    for (long long i = 0; i < a->frames; i++)
        for (int c = 0; c < a->channels; c++)
            if (!(fabsf(sample(a, i, c)) <= threshold)) return i;
    return -1;
}

static long long first_nonsilent_frame(const audio *a) {
    return first_frame_above(a, SILENCE_THRESHOLD);
}

static double file_peak(const audio *a) {
    double m = 0;
    for (long long k = 0; k < a->frames * a->channels; k++)
        if (fabsf(a->data[k]) > m) m = fabsf(a->data[k]); /* NaN compares false: skipped */
    return m;
}

/* The alignment window, in the probe's frames: the core [core_start, end) must lie inside
 * the reference for an offset to be considered; the lead-in [lead_start, core_start) is
 * compared where it exists there.  `order` lists the window's frames loudest first;
 * `near_slack` is the absolute part of near_best(). */
typedef struct {
    long long lead_start, core_start, end;
    long long *order;
    double near_slack;
} align_window;

/* Offsets are visited by rank 0, +1, -1, +2, -2, ...: ties go to the smallest |d|. */
static long long rank_of(long long d) {
    return d == 0 ? 0 : d > 0 ? 2 * d - 1 : -2 * d;
}
static long long offset_of_rank(long long r) {
    return r == 0 ? 0 : (r & 1) ? (r + 1) / 2 : -(r / 2);
}

/* Whether window score v is as good as `best` for practical purposes.  An exactly periodic
 * signal (440 Hz at 48 kHz repeats every 1200 frames) plus a little noise scores equally
 * well one period away; such near-ties are settled by overlap length and |d|, not noise. */
static bool near_best(double v, double best, double slack) {
    return v <= 2.0 * best + slack;
}

/* Whether a running max has already lost against `limit`; `ties_win` if equal is enough. */
static bool exceeds(double m, double limit, bool ties_win) {
    return ties_win ? m > limit : m >= limit;
}

typedef struct {
    float loudness;
    long long frame;
} loud_frame;

static int by_loudness_desc(const void *x, const void *y) {
    const loud_frame *p = x, *q = y;
    if (p->loudness != q->loudness) return p->loudness < q->loudness ? 1 : -1;
    return p->frame < q->frame ? -1 : p->frame > q->frame;
}

/* Loud probe frames are where a wrong offset shows a large difference soonest (against
 * silence, or against a waveform out of phase), so checking them first makes early exit
 * effective; the max over the window does not depend on the order. */
static long long *loudest_first(const audio *p, long long lo, long long hi) {
    size_t n = (size_t)(hi - lo);
    loud_frame *lf = malloc((n ? n : 1) * sizeof *lf);
    long long *order = malloc((n ? n : 1) * sizeof *order);
    if (!lf || !order) die("out of memory for alignment");
    for (size_t k = 0; k < n; k++) {
        float m = 0;
        for (int c = 0; c < p->channels; c++) {
            float x = fabsf(sample(p, lo + (long long)k, c));
            if (!(x <= m)) m = isfinite(x) ? x : INFINITY;
        }
        lf[k] = (loud_frame){m, lo + (long long)k};
    }
    qsort(lf, n, sizeof *lf, by_loudness_desc);
    for (size_t k = 0; k < n; k++) order[k] = lf[k].frame;
    free(lf);
    return order;
}

/* Max diff between probe[i] and ref[i+d] over probe frames [lo, hi) that exist in ref,
 * giving up (returning the running max) as soon as it exceeds `limit`.  Used on the short
 * window of the coarse pass. */
static double max_diff_range(const audio *ref, const audio *probe, long long d, long long lo,
                             long long hi, double limit, long long *where) {
    if (lo < -d) lo = -d;
    double m = 0;
    *where = lo;
    for (long long i = lo; i < hi; i++) {
        double x = frame_diff(ref, i + d, probe, i);
        if (x > m) {
            m = x, *where = i;
            if (exceeds(m, limit, false)) break;
        }
    }
    return m;
}

/* Same over the whole alignment window in loudness order, trying frame `witness` (where
 * the best offset so far peaked) first: a wrong offset usually fails there at once, which
 * keeps degenerate all-ties cases (e.g. a silent reference) linear. */
static double max_diff_window(const audio *ref, const audio *probe, long long d,
                              const align_window *w, long long witness, double limit, bool ties_win,
                              long long *where) {
    double m = 0;
    *where = -1;
    if (witness >= w->lead_start && witness + d >= 0) {
        m = frame_diff(ref, witness + d, probe, witness);
        *where = witness;
        if (exceeds(m, limit, ties_win)) return m;
    }
    for (long long k = 0; k < w->end - w->lead_start; k++) {
        long long i = w->order[k];
        if (i + d < 0) continue; /* lead-in frame before the reference starts */
        double x = frame_diff(ref, i + d, probe, i);
        if (x > m || *where < 0) {
            m = x, *where = i;
            if (exceeds(m, limit, ties_win)) break;
        }
    }
    return m;
}

typedef struct {
    long long offset, rank, witness;
    double value;
} align_candidate;

/* Keeps the ALIGN_CANDIDATES best (value, rank) pairs in ascending order. */
static void candidates_insert(align_candidate *c, int *n, align_candidate x) {
    int pos = *n;
    while (pos > 0 && (x.value < c[pos - 1].value)) pos--;
    if (pos >= ALIGN_CANDIDATES) return;
    int last = *n < ALIGN_CANDIDATES ? *n : ALIGN_CANDIDATES - 1;
    memmove(&c[pos + 1], &c[pos], (size_t)(last - pos) * sizeof *c);
    c[pos] = x;
    if (*n < ALIGN_CANDIDATES) (*n)++;
}

/* A cheap pass over a short window (lead-in plus the first frames of the core) finds a
 * few promising offsets; their exact window scores seed the exact search's bound. */
static align_candidate seed_alignment(const audio *ref, const audio *probe, const align_window *w,
                                      long long dmin, long long dmax, long long rmax) {
    align_candidate cand[ALIGN_CANDIDATES];
    int ncand = 0;
    long long coarse_end = w->core_start + ALIGN_COARSE_FRAMES;
    if (coarse_end > w->end) coarse_end = w->end;
    for (long long r = 0; r <= rmax; r++) {
        long long d = offset_of_rank(r), where;
        if (d < dmin || d > dmax) continue;
        double bound = ncand == ALIGN_CANDIDATES ? cand[ncand - 1].value : INFINITY;
        double v = max_diff_range(ref, probe, d, w->lead_start, coarse_end, bound, &where);
        if (v < bound) candidates_insert(cand, &ncand, (align_candidate){d, r, where, v});
    }
    align_candidate best = {.offset = 0, .rank = -1, .witness = -1, .value = INFINITY};
    for (int k = 0; k < ncand; k++) {
        long long where;
        double v = max_diff_window(ref, probe, cand[k].offset, w, -1, INFINITY, true, &where);
        if (v < best.value || (v == best.value && cand[k].rank < best.rank))
            best = (align_candidate){cand[k].offset, cand[k].rank, where, v};
    }
    return best;
}

/* Offset d in [dmin, dmax] minimising the window's max diff (exact ties go to the smallest
 * |d|) in *best, and the smallest-|d| offset scoring near it (see near_best) in *nearest.
 * Every offset is visited with early exit against the best so far, so the minimum is exact
 * while wrong offsets typically cost a few frames each. */
static void find_alignment(const audio *ref, const audio *probe, const align_window *w,
                           long long dmin, long long dmax, align_candidate *best_out,
                           align_candidate *nearest) {
    long long rmax = rank_of(dmin) > rank_of(dmax) ? rank_of(dmin) : rank_of(dmax);
    align_candidate best = seed_alignment(ref, probe, w, dmin, dmax, rmax);
    for (long long r = 0; r <= rmax; r++) {
        if (best.value == 0 && r >= best.rank) break; /* nothing later can beat an exact match */
        long long d = offset_of_rank(r), where;
        if (d < dmin || d > dmax || r == best.rank) continue;
        bool ties_win = best.rank < 0 || r < best.rank;
        double v = max_diff_window(ref, probe, d, w, best.witness, best.value, ties_win, &where);
        if (!exceeds(v, best.value, ties_win)) best = (align_candidate){d, r, where, v};
    }
    *best_out = *nearest = best;
    double tie_limit = 2.0 * best.value + w->near_slack;
    for (long long r = 0; r < best.rank; r++) {
        long long d = offset_of_rank(r), where;
        if (d < dmin || d > dmax) continue;
        double v = max_diff_window(ref, probe, d, w, best.witness, tie_limit, true, &where);
        if (near_best(v, best.value, w->near_slack)) {
            *nearest = (align_candidate){d, r, where, v};
            return;
        }
    }
}

typedef struct {
    long long overlap, max_frame, first_diff, nonfinite;
    double max_diff;
} overlap_diff;

/* Whole-overlap verification at offset d; frame numbers are in A's coordinates. */
static overlap_diff verify_overlap(const audio *a, const audio *b, long long d, double tol) {
    overlap_diff o = {.max_frame = -1, .first_diff = -1};
    long long i0 = d < 0 ? -d : 0, i1 = b->frames < a->frames - d ? b->frames : a->frames - d;
    for (long long i = i0; i < i1; i++) {
        double x = frame_diff(a, i + d, b, i);
        if (isinf(x)) o.nonfinite++;
        if (o.max_frame < 0 || x > o.max_diff) o.max_diff = x, o.max_frame = i + d;
        if (o.first_diff < 0 && !(x <= tol)) o.first_diff = i + d;
    }
    o.overlap = i1 > i0 ? i1 - i0 : 0;
    return o;
}

/* Offsets proposed by anchoring a window of `probe` at its first non-silent frame and
 * searching `ref` for it (probe[i] ~ ref[i+d], |d| <= search seconds): the exact minimum of
 * the window score and the smallest-|d| near-tie.  False if the probe is silent (nothing
 * to anchor on) or no offset keeps the window's core inside ref. */
typedef struct {
    long long window_start, window_frames; /* in probe's frames */
    align_candidate best, nearest;
} onset_alignment;

static bool align_on_onset(const audio *ref, const audio *probe, double search, double near_slack,
                           onset_alignment *out) {
    double threshold = ALIGN_ONSET_REL * file_peak(probe);
    long long onset =
        first_frame_above(probe, threshold > SILENCE_THRESHOLD ? threshold : SILENCE_THRESHOLD);
    if (onset < 0) return false;
    align_window w;
    w.near_slack = near_slack;
    w.core_start = onset;
    long long core = ALIGN_CORE_FRAMES;
    if (core > probe->frames - w.core_start) core = probe->frames - w.core_start;
    if (core > ref->frames) core = ref->frames;
    w.end = w.core_start + core;
    w.lead_start = w.core_start > ALIGN_LEAD_FRAMES ? w.core_start - ALIGN_LEAD_FRAMES : 0;

    long long s = llround(search * ref->rate);
    long long dmin = -w.core_start > -s ? -w.core_start : -s;
    long long dmax = ref->frames - w.end < s ? ref->frames - w.end : s;
    if (dmin > dmax) return false;
    w.order = loudest_first(probe, w.lead_start, w.end);
    find_alignment(ref, probe, &w, dmin, dmax, &out->best, &out->nearest);
    free(w.order);
    out->window_start = w.lead_start;
    out->window_frames = w.end - w.lead_start;
    return true;
}

/* One proposed offset of B against A and its whole-overlap verification. */
typedef struct {
    long long offset;
    const char *anchor; /* "a" or "b": whose onset window proposed it */
    long long window_start, window_frames;
    double window_value;
    overlap_diff ov;
} compare_candidate;

#define MAX_COMPARE_CANDIDATES 4

static void add_candidate(compare_candidate *c, int *n, const audio *a, const audio *b,
                          const onset_alignment *al, const align_candidate *x, bool from_a,
                          double tol) {
    long long d = from_a ? -x->offset : x->offset; /* A[j] ~ B[j+e] means B[i] ~ A[i-e] */
    for (int k = 0; k < *n; k++)
        if (c[k].offset == d) return;
    c[*n] = (compare_candidate){
        d,        from_a ? "a" : "b",          al->window_start, al->window_frames,
        x->value, verify_overlap(a, b, d, tol)};
    (*n)++;
}

/* Picks among the proposals: those whose window score is near the best one (see
 * near_best), then the longest overlap, then the lower window score, then the smallest
 * |d|.  Preferring the longest overlap (rather than the smallest whole-overlap diff) means
 * an equivalent offset of a periodic signal can never be chosen because its overlap
 * happens to skip a glitch: a difference anywhere in the overlap stays visible. */
static const compare_candidate *choose_candidate(const compare_candidate *c, int n, double slack) {
    double best = INFINITY;
    for (int k = 0; k < n; k++)
        if (c[k].window_value < best) best = c[k].window_value;
    const compare_candidate *pick = NULL;
    for (int k = 0; k < n; k++) {
        if (isfinite(best) && !near_best(c[k].window_value, best, slack)) continue;
        if (pick) {
            if (c[k].ov.overlap != pick->ov.overlap) {
                if (c[k].ov.overlap < pick->ov.overlap) continue;
            } else if (c[k].window_value != pick->window_value) {
                if (c[k].window_value > pick->window_value) continue;
            } else if (llabs(c[k].offset) >= llabs(pick->offset)) {
                continue;
            }
        }
        pick = &c[k];
    }
    return pick ? pick : &c[0];
}

static int cmd_compare(int argc, char **argv) {
    static const struct option opts[] = {{"tol", required_argument, 0, OPT_TOL},
                                         {"min-overlap", required_argument, 0, OPT_MIN_OVERLAP},
                                         {"search", required_argument, 0, OPT_SEARCH},
                                         {"offset", required_argument, 0, OPT_OFFSET},
                                         COMMON_LONG_OPTIONS};
    common_opts o = {0};
    double tol = 0, min_overlap = 1.0, search = 10.0;
    bool has_tol = false, has_offset = false;
    long long given = 0;
    int opt;
    while ((opt = next_option(argc, argv, opts)) != -1) {
        if (common_option(opt, optarg, &o)) continue;
        switch (opt) {
        case OPT_TOL:
            tol = parse_double(optarg, "--tol");
            has_tol = true;
            break;
        case OPT_MIN_OVERLAP: min_overlap = parse_double(optarg, "--min-overlap"); break;
        case OPT_SEARCH: search = parse_double(optarg, "--search"); break;
        case OPT_OFFSET:
            given = parse_long(optarg, "--offset");
            has_offset = true;
            break;
        default: bad_usage();
        }
    }
    if (argc - optind != 2) bad_usage();
    if (tol < 0 || min_overlap < 0 || search < 0)
        die("--tol, --min-overlap and --search must be >= 0");

    audio a, b;
    audio_load(&a, argv[optind]);
    audio_load(&b, argv[optind + 1]);
    if (a.channels != b.channels)
        die("channel counts differ: %s has %d, %s has %d", a.path, a.channels, b.path, b.channels);
    if (a.rate != b.rate)
        die("sample rates differ: %s is %d Hz, %s is %d Hz", a.path, a.rate, b.path, b.rate);
    if (a.frames == 0 || b.frames == 0)
        die("cannot align: %s has no frames", a.frames ? b.path : a.path);

    /* Anchor on B's onset (the common case: B is a recording of A, possibly delayed) and
     * also on A's onset searched for in B, which is the only one that works when B has
     * extra material before the shared part (a noise floor, a recorder started early). */
    long long need = llround(min_overlap * a.rate);
    compare_candidate cands[MAX_COMPARE_CANDIDATES];
    int ncand = 0;
    onset_alignment by_b, by_a;
    double peak = file_peak(&a) > file_peak(&b) ? file_peak(&a) : file_peak(&b);
    double slack = ALIGN_NEAR_REL * peak;
    if (has_offset) {
        cands[ncand++] =
            (compare_candidate){given, "given", 0, 0, 0, verify_overlap(&a, &b, given, tol)};
    } else if (align_on_onset(&a, &b, search, slack, &by_b)) {
        add_candidate(cands, &ncand, &a, &b, &by_b, &by_b.nearest, false, tol);
        add_candidate(cands, &ncand, &a, &b, &by_b, &by_b.best, false, tol);
    }
    if (!has_offset && align_on_onset(&b, &a, search, slack, &by_a)) {
        add_candidate(cands, &ncand, &a, &b, &by_a, &by_a.nearest, true, tol);
        add_candidate(cands, &ncand, &a, &b, &by_a, &by_a.best, true, tol);
    }
    if (ncand == 0) {
        if (first_nonsilent_frame(&a) >= 0 || first_nonsilent_frame(&b) >= 0)
            die("no offset within +-%g s fits either file's onset window inside the other", search);
        /* Both silent: nothing to align, compare as they are. */
        cands[ncand++] = (compare_candidate){0, "none", 0, 0, 0, verify_overlap(&a, &b, 0, tol)};
    }
    const compare_candidate *al = choose_candidate(cands, ncand, slack);
    overlap_diff ov = al->ov;
    bool ok = ov.overlap >= need && ov.max_diff <= tol;
    if (has_tol && !ok) {
        if (ov.overlap < need)
            fprintf(stderr, "wavtool: overlap %lld frames < --min-overlap %lld frames\n",
                    ov.overlap, need);
        if (!(ov.max_diff <= tol))
            fprintf(stderr,
                    "wavtool: max |diff| %.10g > tol %g (first at A frame %lld, offset %lld)\n",
                    ov.max_diff, tol, ov.first_diff, al->offset);
    }

    report r = {.n = 0};
    report_str(&r, "file_a", a.path);
    report_str(&r, "file_b", b.path);
    report_int(&r, "rate", a.rate);
    report_int(&r, "channels", a.channels);
    report_int(&r, "frames_a", a.frames);
    report_int(&r, "frames_b", b.frames);
    report_int(&r, "offset", al->offset);
    report_num(&r, "offset_seconds", (double)al->offset / a.rate);
    report_int(&r, "overlap_frames", ov.overlap);
    report_num(&r, "overlap_seconds", (double)ov.overlap / a.rate);
    report_num(&r, "max_abs_diff", ov.max_diff);
    report_int(&r, "max_diff_frame", ov.max_frame);
    report_int(&r, "first_diff_frame", ov.first_diff);
    report_num(&r, "tol", tol);
    report_int(&r, "nonfinite_frames", ov.nonfinite);
    report_int(&r, "a_first_nonsilent", first_nonsilent_frame(&a));
    report_int(&r, "b_first_nonsilent", first_nonsilent_frame(&b));
    report_str(&r, "align_anchor", al->anchor);
    report_int(&r, "window_start", al->window_start);
    report_int(&r, "window_frames", al->window_frames);
    report_num(&r, "window_max_abs_diff", al->window_value);
    if (has_tol) report_bool(&r, "ok", ok);
    int rc = finish(&r, &o, !has_tol || ok);
    audio_free(&a);
    audio_free(&b);
    return rc;
}

/* ---------- gen ---------- */

static int cmd_gen(int argc, char **argv) {
    static const struct option opts[] = {{"amp", required_argument, 0, OPT_AMP},
                                         {"channels", required_argument, 0, OPT_CHANNELS},
                                         {"delay", required_argument, 0, OPT_DELAY},
                                         COMMON_LONG_OPTIONS};
    common_opts o = {0};
    double amp = 0.5, delay = 0;
    long channels = 1;
    int opt;
    while ((opt = next_option(argc, argv, opts)) != -1) {
        if (common_option(opt, optarg, &o)) continue;
        switch (opt) {
        case OPT_AMP: amp = parse_double(optarg, "--amp"); break;
        case OPT_CHANNELS: channels = parse_long(optarg, "--channels"); break;
        case OPT_DELAY: delay = parse_double(optarg, "--delay"); break;
        default: bad_usage();
        }
    }
    if (argc - optind != 5 || strcmp(argv[optind], "sine") != 0) bad_usage();
    double freq = parse_double(argv[optind + 1], "FREQ");
    double seconds = parse_double(argv[optind + 2], "SECONDS");
    long rate = parse_long(argv[optind + 3], "RATE");
    const char *out = argv[optind + 4];
    if (freq < 0 || seconds < 0 || rate < 1 || rate > 1000000 || channels < 1 || channels > 64 ||
        delay < 0)
        die("gen: need FREQ >= 0, SECONDS >= 0, 1 <= RATE <= 1e6, 1 <= --channels <= 64, --delay "
            ">= 0");

    long long frames = llround(seconds * rate), delay_frames = llround(delay * rate);
    SF_INFO info = {.samplerate = (int)rate,
                    .channels = (int)channels,
                    .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf = sf_open(out, SFM_WRITE, &info);
    if (!sf) die("cannot create '%s': %s", out, sf_strerror(NULL));
    float *frame = malloc((size_t)channels * sizeof *frame);
    if (!frame) die("out of memory");
    for (long long i = 0; i < delay_frames + frames; i++) {
        long long k = i - delay_frames;
        /* Phase reduced in double before sin() so late samples are as exact as early ones. */
        double x = k < 0 ? 0.0 : amp * sin(2.0 * M_PI * fmod(freq * (double)k / rate, 1.0));
        for (long c = 0; c < channels; c++) frame[c] = (float)x;
        if (sf_writef_float(sf, frame, 1) != 1)
            die("write to '%s' failed: %s", out, sf_strerror(sf));
    }
    free(frame);
    if (sf_close(sf) != 0) die("closing '%s' failed", out);

    report r = {.n = 0};
    report_str(&r, "file", out);
    report_int(&r, "rate", rate);
    report_int(&r, "channels", channels);
    report_int(&r, "frames", delay_frames + frames);
    report_num(&r, "freq", freq);
    report_num(&r, "amp", amp);
    report_int(&r, "delay_frames", delay_frames);
    return finish(&r, &o, true);
}

int main(int argc, char **argv) {
    if (argc < 2) bad_usage();
    const char *cmd = argv[1];
    /* Subcommand parsers see argv[1..]; getopt permutes so options may follow FILE.  Its
     * messages name argv[0], so make that "wavtool SUBCOMMAND". */
    static char prog[64];
    snprintf(prog, sizeof prog, "wavtool %s", cmd);
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    sub_argv[0] = prog;
    if (strcmp(cmd, "stat") == 0) return cmd_stat(sub_argc, sub_argv);
    if (strcmp(cmd, "level") == 0) return cmd_level(sub_argc, sub_argv);
    if (strcmp(cmd, "compare") == 0) return cmd_compare(sub_argc, sub_argv);
    if (strcmp(cmd, "steps") == 0) return cmd_steps(sub_argc, sub_argv);
    if (strcmp(cmd, "gen") == 0) return cmd_gen(sub_argc, sub_argv);
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    fprintf(stderr, "wavtool: unknown subcommand '%s'\n", cmd);
    bad_usage();
}

/*
 * faust.c - the Faust bridge: a .dsp file becomes C source that kanon
 * compiles like any other file.
 *
 *   1. `faust -lang c -cn kn_faust` turns the .dsp into C (a child process,
 *      before the sandbox closes; it dies with us, and the compile deadline
 *      covers it). Faust's errors ("f.dsp : 3 : ERROR : ...") are rewritten
 *      as "f.dsp:3: error: ...".
 *   2. The source tcc compiles is: a prelude (FAUSTFLOAT and the UIGlue and
 *      MetaGlue interfaces, declared here), Faust's C, and a wrapper giving
 *      kanon its setup() and process().
 *
 * The wrapper: Faust's DSP struct lives in kn_state ("faust"), so it
 * survives swaps; it is re-initialised only when its layout (the struct's
 * definition, hashed) or the rate changes, and otherwise only its
 * constants are recomputed (an edited constant is heard, the state kept).
 * Sliders, buttons and number entries become kanon parameters with their
 * labels, ranges and defaults (buttons and check buttons: 0..1, read
 * unsmoothed with kn_target; repeated labels get _2, _3, ...). Faust inputs, which a deck has no
 * source for, get a built-in test signal (short deterministic noise bursts, one per second) while
 * the parameter `input` is 1, so effects such as reverbs and filters can be heard and tested;
 * outputs map onto the deck's channels (one output goes to all channels).
 *
 * Polyphony: a program whose options declare "[nvoices:N]" gets N
 * instances of the DSP struct in "faust" and a kn_voices (nodes-c) in
 * "faust-voices"; the wrapper then defines event(), which hands notes and
 * CCs to the allocator, and process() runs each allocated voice's instance
 * with its freq, gain and gate zones set from the voice (Faust's
 * convention: those three labels are not parameters) and every knob copied
 * into it, adding the voices up and reporting each one's block peak (a
 * released voice is freed below -80 dB). Without the option the wrapper is
 * the one-instance code it always was (KN_FAUST_VOICES 0).
 */
#include "cartridge.h"
#include "input.h"

/* nodes-c's KN_VOICES_MAX (kanon/voices.h, not on the cartridge's include
 * path): the wrapper stops with an #error if the two ever disagree. */
#define FAUST_VOICES_MAX 32

#include <ctype.h>
#include <errno.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static const char prelude[] =
    "#define FAUSTFLOAT float\n"
    "#define __restrict__\n"
    "static inline int max(int a, int b) { return a > b ? a : b; }\n" /* Faust's C expects */
    "static inline int min(int a, int b) { return a < b ? a : b; }\n" /* these two */
    /* Faust's Soundfile, as its C reads it (kn_faust_sound below) */
    "typedef struct Soundfile {\n"
    "    void *fBuffers;\n"
    "    int *fLength, *fSR, *fOffset;\n"
    "    int fChannels, fParts, fIsDouble;\n"
    "} Soundfile;\n"
    "Soundfile *kn_faust_soundfile(void *k, const char *label, const char *url);\n"
    "static Soundfile *defaultsound;\n"
    "typedef struct UIGlue {\n"
    "    void *uiInterface;\n"
    "    void (*openTabBox)(void *, const char *);\n"
    "    void (*openHorizontalBox)(void *, const char *);\n"
    "    void (*openVerticalBox)(void *, const char *);\n"
    "    void (*closeBox)(void *);\n"
    "    void (*addButton)(void *, const char *, FAUSTFLOAT *);\n"
    "    void (*addCheckButton)(void *, const char *, FAUSTFLOAT *);\n"
    "    void (*addVerticalSlider)(void *, const char *, FAUSTFLOAT *, FAUSTFLOAT, FAUSTFLOAT,"
    " FAUSTFLOAT, FAUSTFLOAT);\n"
    "    void (*addHorizontalSlider)(void *, const char *, FAUSTFLOAT *, FAUSTFLOAT, FAUSTFLOAT,"
    " FAUSTFLOAT, FAUSTFLOAT);\n"
    "    void (*addNumEntry)(void *, const char *, FAUSTFLOAT *, FAUSTFLOAT, FAUSTFLOAT,"
    " FAUSTFLOAT, FAUSTFLOAT);\n"
    "    void (*addHorizontalBargraph)(void *, const char *, FAUSTFLOAT *, FAUSTFLOAT, "
    "FAUSTFLOAT);\n"
    "    void (*addVerticalBargraph)(void *, const char *, FAUSTFLOAT *, FAUSTFLOAT, FAUSTFLOAT);\n"
    "    void (*addSoundfile)(void *, const char *, const char *, Soundfile **);\n"
    "    void (*declare)(void *, FAUSTFLOAT *, const char *, const char *);\n"
    "} UIGlue;\n"
    "typedef struct MetaGlue {\n"
    "    void *metaInterface;\n"
    "    void (*declare)(void *, const char *, const char *);\n"
    "} MetaGlue;\n"
    "#line 1 \"(faust output)\"\n";

static const char wrapper[] =
    "\n#line 1 \"(kanon faust wrapper)\"\n"
    "#include <kanon.h>\n"
    "#include <stdio.h>\n"
    "#define KN_FAUST_IO 64\n"
    "typedef struct { unsigned long size; double rate; unsigned int seed; unsigned long layout; } "
    "kn_faust_meta;\n"
    "static kn_faust *dsp;\n"
    "static kn_faust_meta *meta;\n"
    "static kn_param *params[KN_FAUST_PARAMS], *input;\n"
    "static FAUSTFLOAT *zones[KN_FAUST_PARAMS];\n"
    "static int nparams, is_button[KN_FAUST_PARAMS];\n"
    "static kn_ctx *ctx;\n"
    "static kn_param *newest;\n"
    "#define KN_FAUST_NV (KN_FAUST_VOICES > 0 ? KN_FAUST_VOICES : 1)\n"
    "#if KN_FAUST_VOICES\n"
    "#include <kanon/voices.h>\n"
    "#include <string.h>\n"
    "#if KN_FAUST_VOICES > KN_VOICES_MAX\n"
    "#error faust.c's FAUST_VOICES_MAX is more than kanon/voices.h's KN_VOICES_MAX\n"
    "#endif\n"
    "static kn_voices *vc;\n"
    "static long voice_zone[3]; /* freq, gain, gate: offsets in a kn_faust (-1: none) */\n"
    "static long zone_at[KN_FAUST_PARAMS]; /* every knob's offset: set in each instance */\n"
    "#endif\n"
    "static void ui_box(void *u, const char *l) { (void)u; (void)l; }\n"
    "static void ui_close(void *u) { (void)u; }\n"
    "/* A label becomes a parameter name of [A-Za-z0-9_-]; a name already\n"
    "   taken (two 'gain' sliders in different groups) gets _2, _3, ...\n"
    "   kn_param_decl hands out knobs in order, so one older than the newest\n"
    "   was taken by an earlier widget. Past KN_FAUST_PARAMS it refuses the\n"
    "   program, naming the limit. */\n"
    "static void ui_param(const char *label, FAUSTFLOAT *zone, double def, double lo, double hi,"
    " int button) {\n"
    "    char base[32], name[32]; int j = 0;\n"
    "#if KN_FAUST_VOICES\n"
    "    static const char *const voiced[3] = {\"freq\", \"gain\", \"gate\"};\n"
    "    for (int v = 0; v < 3; v++)\n"
    "        if (!strcmp(label, voiced[v])) { voice_zone[v] = (char *)zone - (char *)dsp; return; "
    "}\n"
    "#endif\n"
    "    for (int i = 0; label[i] && j < 27; i++) {\n"
    "        char c = label[i];\n"
    "        base[j++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')"
    " || c == '_' || c == '-' ? c : '_';\n"
    "    }\n"
    "    if (!j) base[j++] = 'p';\n"
    "    base[j] = 0;\n"
    "    if (lo > hi) { double t = lo; lo = hi; hi = t; }\n"
    "    for (int n = 1; n <= KN_FAUST_PARAMS + 1; n++) {\n"
    "        int digits = n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : 4;\n"
    "        if (n == 1) snprintf(name, sizeof name, \"%s\", base);\n"
    "        else snprintf(name, sizeof name, \"%.*s_%d\", 30 - digits, base, n);\n"
    "        kn_param *p = kn_param_decl(ctx, name, lo, hi, def);\n"
    "        if (newest && p <= newest) continue;\n"
    "        newest = p;\n"
    "#if KN_FAUST_VOICES\n"
    "        zone_at[nparams] = (char *)zone - (char *)dsp;\n"
    "#endif\n"
    "        params[nparams] = p; is_button[nparams] = button; zones[nparams++] = zone;\n"
    "        return;\n"
    "    }\n"
    "}\n"
    "static void ui_button(void *u, const char *l, FAUSTFLOAT *z) { (void)u; ui_param(l, z, 0, 0, "
    "1, 1); }\n"
    "static void ui_slider(void *u, const char *l, FAUSTFLOAT *z, FAUSTFLOAT init, FAUSTFLOAT lo,"
    " FAUSTFLOAT hi, FAUSTFLOAT step) { (void)u; (void)step; ui_param(l, z, init, lo, hi, 0); }\n"
    "static void ui_bargraph(void *u, const char *l, FAUSTFLOAT *z, FAUSTFLOAT lo, FAUSTFLOAT hi)"
    " { (void)u; (void)l; (void)z; (void)lo; (void)hi; }\n"
    "/* The DSP struct keeps a Soundfile pointer, in shared state: every\n"
    "   setup() points it at this process's copy of the sound again. */\n"
    "static void ui_soundfile(void *u, const char *l, const char *url, Soundfile **zone)"
    " { (void)u; *zone = kn_faust_soundfile(ctx, l, url); }\n"
    "static void ui_declare(void *u, FAUSTFLOAT *z, const char *k, const char *v)"
    " { (void)u; (void)z; (void)k; (void)v; }\n"
    "void setup(kn_ctx *k) {\n"
    "    ctx = k;\n"
    "    nparams = 0;\n"
    "    newest = 0;\n"
    "    dsp = kn_state(k, \"faust\", sizeof(kn_faust) * KN_FAUST_NV);\n"
    "    meta = kn_state(k, \"faust-meta\", sizeof(kn_faust_meta));\n"
    "    defaultsound = kn_faust_soundfile(k, 0, 0);\n"
    "    classInitkn_faust((int)k->rate);\n"
    "    if (meta->size != sizeof(kn_faust) * KN_FAUST_NV || meta->layout != KN_FAUST_LAYOUT ||"
    " meta->rate != k->rate) {\n"
    "        for (int v = 0; v < KN_FAUST_NV; v++) /* new or changed layout: start fresh */\n"
    "            initkn_faust(&dsp[v], (int)k->rate);\n"
    "        meta->size = sizeof(kn_faust) * KN_FAUST_NV; meta->layout = KN_FAUST_LAYOUT;\n"
    "        meta->rate = k->rate; meta->seed = 22222u;\n"
    "    } else {\n"
    "        for (int v = 0; v < KN_FAUST_NV; v++) /* edited constants; state kept */\n"
    "            instanceConstantskn_faust(&dsp[v], (int)k->rate);\n"
    "    }\n"
    "#if KN_FAUST_VOICES\n"
    "    vc = kn_state(k, \"faust-voices\", sizeof(kn_voices));\n"
    "    if (vc->voices != KN_FAUST_VOICES)\n"
    "        kn_voices_init(vc, k->rate, KN_FAUST_VOICES, KN_VOICES_POLY, KN_STEAL_OLDEST);\n"
    "    voice_zone[0] = voice_zone[1] = voice_zone[2] = -1;\n"
    "#endif\n"
    "    UIGlue ui = {0, ui_box, ui_box, ui_box, ui_close, ui_button, ui_button, ui_slider,"
    " ui_slider, ui_slider, ui_bargraph, ui_bargraph, ui_soundfile, ui_declare};\n"
    "    buildUserInterfacekn_faust(dsp, &ui);\n"
    "    if (getNumInputskn_faust(dsp) > 0) input = kn_param_decl(k, \"input\", 0, 1, 1);\n"
    "}\n"
    "/* The test signal for Faust inputs: a 50 ms noise burst every second. */\n"
    "static void test_input(float *x, int frames, unsigned long frame) {\n"
    "    double on = input && kn_get(input) > 0.5;\n"
    "    for (int i = 0; i < frames; i++) {\n"
    "        meta->seed = meta->seed * 1664525u + 1013904223u;\n"
    "        unsigned long f = (frame + (unsigned long)i) % (unsigned long)ctx->rate;\n"
    "        float n = (float)(meta->seed >> 8) / 8388608.0f - 1.0f;\n"
    "        x[i] = on && f < (unsigned long)(ctx->rate / 20) ? 0.25f * n : 0.0f;\n"
    "    }\n"
    "}\n"
    "#if KN_FAUST_VOICES\n"
    "void event(kn_ctx *k, const kn_event *e) { (void)k; kn_voices_event(vc, e); }\n"
    "static void voice_set(kn_faust *d, int which, float value) {\n"
    "    if (voice_zone[which] >= 0) *(FAUSTFLOAT *)((char *)d + voice_zone[which]) = value;\n"
    "}\n"
    "/* Voice v's instance over the block, added into out; its peak (Faust's\n"
    "   polyphony ends a release when a block's peak falls below a threshold).\n"
    "   A voice restarted while its gate was on gets one sample of gate 0 first,\n"
    "   so that its envelopes see a new rising edge. */\n"
    "static float voice_run(int v, float **out, int channels, float **ins, int ni, int no,"
    " int frames, float (*scratch)[8192]) {\n"
    "    kn_faust *d = &dsp[v];\n"
    "    float *outs[KN_FAUST_IO], *vins[KN_FAUST_IO], peak = 0;\n"
    "    voice_set(d, 0, (float)(440.0 * pow(2.0, (kn_voices_note(vc, v) - 69) / 12.0)));\n"
    "    voice_set(d, 1, (float)kn_voices_velocity(vc, v) / 127.0f);\n"
    "    int at = 0;\n"
    "    if (kn_voices_started(vc, v) && voice_zone[2] >= 0 &&"
    " *(FAUSTFLOAT *)((char *)d + voice_zone[2]) > 0) {\n"
    "        voice_set(d, 2, 0);\n"
    "        for (int o = 0; o < no; o++) outs[o] = scratch[o];\n"
    "        computekn_faust(d, 1, ins, outs);\n"
    "        at = 1;\n"
    "    }\n"
    "    voice_set(d, 2, (float)kn_voices_gate(vc, v));\n"
    "    for (int i = 0; i < ni; i++) vins[i] = ins[i] + at;\n"
    "    for (int o = 0; o < no; o++) outs[o] = scratch[o] + at;\n"
    "    if (frames > at) computekn_faust(d, frames - at, vins, outs);\n"
    "    for (int o = 0; o < no; o++)\n"
    "        for (int i = 0; i < frames; i++) {\n"
    "            float x = scratch[o][i];\n"
    "            peak = fabsf(x) > peak ? fabsf(x) : peak;\n"
    "            if (o < channels) out[o][i] += x;\n"
    "        }\n"
    "    return peak;\n"
    "}\n"
    "#endif\n"
    "void process(kn_ctx *k, float **out, int frames) {\n"
    "    static float in0[8192], scratch[KN_FAUST_IO][8192];\n"
    "    float *ins[KN_FAUST_IO], *outs[KN_FAUST_IO];\n"
    "    int ni = getNumInputskn_faust(dsp), no = getNumOutputskn_faust(dsp);\n"
    "    if (frames > 8192 || ni > KN_FAUST_IO || no > KN_FAUST_IO) return;\n"
    "    for (int i = 0; i < nparams; i++)\n"
    "        *zones[i] = (FAUSTFLOAT)(is_button[i] ? kn_target(params[i]) : kn_get(params[i]));\n"
    "    if (ni) test_input(in0, frames, k->frame);\n"
    "    for (int i = 0; i < ni; i++) ins[i] = in0;\n"
    "#if KN_FAUST_VOICES\n"
    "    for (int v = 1; v < KN_FAUST_NV; v++) /* the knobs, in every voice's instance */\n"
    "        for (int i = 0; i < nparams; i++)\n"
    "            *(FAUSTFLOAT *)((char *)&dsp[v] + zone_at[i]) = *zones[i];\n"
    "    for (int v = 0; v < KN_FAUST_NV; v++)\n"
    "        if (kn_voices_active(vc, v))\n"
    "            kn_voices_level(vc, v, voice_run(v, out, k->channels, ins, ni, no, frames,"
    " scratch));\n"
    "#else\n"
    "    for (int o = 0; o < no; o++) outs[o] = o < k->channels ? out[o] : scratch[o];\n"
    "    computekn_faust(dsp, frames, ins, outs);\n"
    "#endif\n"
    "    for (int c = no; c < k->channels && no > 0; c++)\n"
    "        for (int i = 0; i < frames; i++) out[c][i] = out[c % no][i];\n"
    "}\n";

/* Rewrites faust's "path : 3 : ERROR : msg" lines as "display:3: error: msg". */
static void faust_errors(const char *text, const char *display, char *err, size_t errlen) {
    size_t used = 0;
    err[0] = 0;
    for (const char *line = text; *line && used + 1 < errlen;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        const char *e = strstr(buf, " : ERROR : ");
        int lineno = 0;
        char *colon = strstr(buf, " : ");
        if (colon && e) lineno = atoi(colon + 3); /* -1: faust knows no line */
        if (e && !strcmp(e + 11, "undefined symbol : process"))
            snprintf(buf + (e - buf) + 11, sizeof buf - (size_t)(e - buf) - 11,
                     "undefined symbol : process (a Faust program defines `process`; this file "
                     "defines none: a library or a UI layout?)");
        int n =
            e ? (lineno > 0
                     ? snprintf(err + used, errlen - used, "%s:%d: error: %s\n", display, lineno,
                                e + 11)
                     : snprintf(err + used, errlen - used, "%s: error: %s\n", display, e + 11))
              : (len ? snprintf(err + used, errlen - used, "%s: error: %s\n", display, buf) : 0);
        used += n > 0 ? (size_t)n : 0;
        line = nl ? nl + 1 : line + len;
    }
    while (used && used <= errlen && err[used - 1] == '\n') err[--used] = 0;
}

/* Runs faust; returns its C output (malloc'd) or NULL with err filled. */
static char *run_faust(const char *path, const char *display, const char *include_dir, char *err,
                       size_t errlen) {
    char out[] = "/tmp/kanon-faust-XXXXXX";
    int fd = mkstemp(out);
    int pipefd[2];
    if (fd < 0 || pipe(pipefd)) {
        snprintf(err, errlen, "%s: error: cannot create a temporary file: %s", display,
                 strerror(errno));
        return NULL;
    }
    close(fd);
    snprintf(kn_faust_tmp, sizeof kn_faust_tmp, "%s", out); /* the time limit removes it */
    kn_faust_running = 1;
    pid_t pid = fork(); /* no nng or threads in a cartridge: fork is safe here */
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        struct rlimit as; /* the room kn_sandbox_compile_limits left faust */
        if (!getrlimit(RLIMIT_AS, &as)) as.rlim_cur = as.rlim_max, setrlimit(RLIMIT_AS, &as);
        dup2(pipefd[1], 2);
        dup2(pipefd[1], 1);
        char *argv[] = {
            "faust", "-lang", "c",          "-cn", "kn_faust", "-I", (char *)include_dir,
            "-o",    out,     (char *)path, NULL};
        execvp("faust", argv);
        fprintf(stderr, "cannot run faust: %s (install Debian's faust package)\n", strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    static char msgs[16384];
    size_t got = 0;
    ssize_t r;
    while ((r = read(pipefd[0], msgs + got, sizeof msgs - 1 - got)) > 0) got += (size_t)r;
    msgs[got] = 0;
    close(pipefd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    kn_faust_running = 0;
    char *src = NULL;
    if (pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        FILE *f = fopen(out, "rb");
        if (f) {
            fseek(f, 0, SEEK_END);
            long n = ftell(f);
            fseek(f, 0, SEEK_SET);
            src = n > 0 ? malloc((size_t)n + 1) : NULL;
            if (src && fread(src, 1, (size_t)n, f) == (size_t)n) src[n] = 0;
            fclose(f);
        }
    }
    unlink(out);
    kn_faust_tmp[0] = 0;
    if (src) return src;
    if (pid > 0 && WIFSIGNALED(st)) {
        /* faust itself failed: out of memory (it inherits an address-space
         * limit, and large programs take hundreds of MiB: bad_alloc aborts
         * it), or a crash of its own (faust 2.54.9 on 2dKirchhoffThinPlate.dsp) */
        struct rlimit as;
        char sig[96], mem[120] = "";
        int s = WTERMSIG(st);
        kn_signal_text(s, sig, sizeof sig);
        if ((s == SIGABRT || s == SIGKILL) && !getrlimit(RLIMIT_AS, &as) &&
            as.rlim_max != RLIM_INFINITY)
            snprintf(mem, sizeof mem, " (it may have run out of memory: faust may use %llu MiB)",
                     (unsigned long long)(as.rlim_max >> 20));
        else if (s == SIGSEGV)
            snprintf(mem, sizeof mem, " (a crash of faust itself, not of kanon)");
        snprintf(err, errlen, "%s: error: faust was killed by %s%s%s%s", display, sig, mem,
                 got ? "; it said:\n" : "", got ? msgs : "");
        return NULL;
    }
    faust_errors(got ? msgs : "faust failed without a message", display, err, errlen);
    return NULL;
}

/* ------------------------------------------------ headers faust's C needs
 *
 * A Faust program reaches foreign code through `ffunction` and
 * `fconstant`, which name a header: faust's C output #includes it. kanon
 * compiles that output with tcc, a C compiler, on this machine, so two
 * kinds of header cannot work, and tcc's own message ("';' expected",
 * "include file not found") would not say why: a C++ header (the
 * faust-stk instruments' instrument.h defines classes), and a header of
 * another platform (the SHARC Audio Module's fast_pow2.h). They are found
 * before tcc runs and refused in words. */

/* Headers of other platforms that Faust's own examples name. */
static const struct {
    const char *header, *what;
} platform_headers[] = {
    {"fast_pow2.h", "a math header of Analog Devices' SHARC processors (the SAM examples target "
                    "the SHARC Audio Module)"},
};

/* path of `name` in the directories faust's C is compiled with, or "" */
static void find_header(const char *name, const char *const *dirs, int ndirs, char *out, size_t n) {
    out[0] = 0;
    for (int i = 0; i < ndirs && !out[0]; i++) {
        snprintf(out, n, "%s/%s", dirs[i], name);
        if (access(out, R_OK)) out[0] = 0;
    }
}

/* The first C++ construct of a header (and of the headers it includes
 * with quotes, beside it, a few levels deep): "class LookupTable" at
 * file:line in `where`; 0 if it looks like C. */
static int cxx_in(const char *file, int depth, char *where, size_t n) {
    FILE *f = depth < 4 ? fopen(file, "r") : NULL;
    if (!f) return 0;
    char line[1024], dir[4096];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    static const char *starts[] = {"class ",  "template", "namespace ", "using namespace",
                                   "public:", "private:", "protected:"};
    int found = 0;
    for (int lineno = 1; !found && fgets(line, sizeof line, f); lineno++) {
        char *c = strstr(line, "//");
        if (c) *c = 0; /* a comment may say anything */
        char *t = line + strspn(line, " \t");
        t[strcspn(t, "\r\n")] = 0;
        const char *hit = NULL;
        for (size_t k = 0; k < sizeof starts / sizeof *starts && !hit; k++)
            if (!strncmp(t, starts[k], strlen(starts[k]))) hit = t;
        char *q = strstr(t, "::"); /* Class::member( */
        if (!hit && q && q > t && (isalnum((unsigned char)q[-1]) || q[-1] == '_') &&
            (isalpha((unsigned char)q[2]) || q[2] == '_' || q[2] == '~'))
            hit = t;
        if (!hit && !strncmp(t, "#include", 8)) {
            char inc[256];
            const char *a = t + 8 + strspn(t + 8, " \t");
            if (*a == '<' && sscanf(a + 1, "%255[^>]", inc) == 1 && !strchr(inc, '.'))
                hit = t; /* <cmath>, <vector>: the C++ library */
            else if (*a == '"' && sscanf(a + 1, "%255[^\"]", inc) == 1) {
                char sub[4400];
                snprintf(sub, sizeof sub, "%s/%s", dir, inc);
                found = cxx_in(sub, depth + 1, where, n);
            }
        }
        if (hit && !found) {
            const char *base = strrchr(file, '/');
            snprintf(where, n, "`%.60s` at %s:%d", hit, base ? base + 1 : file, lineno);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

/* The line of the .dsp that names `header` (in an ffunction), or 0. */
static int dsp_line(const char *path, const char *header) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1024];
    int at = 0;
    for (int lineno = 1; !at && fgets(line, sizeof line, f); lineno++) {
        const char *h = strstr(line, header);
        if (h && h > line && (h[-1] == '<' || h[-1] == '"')) at = lineno;
    }
    fclose(f);
    return at;
}

/* 0, or -1 with err saying which header faust's C needs and why it cannot
 * be compiled here. */
static int check_headers(const char *gen, const char *path, const char *display,
                         const char *include_dir, char *err, size_t errlen) {
    const char *dirs[] = {include_dir, "/usr/local/include", "/usr/include",
                          KN_TCC_LIB_DIR "/include"};
    for (const char *l = gen; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        char name[256];
        if (strncmp(l, "#include ", 9) || sscanf(l + 10, "%255[^\">]", name) != 1) continue;
        if (!strcmp(name, "math.h") || !strcmp(name, "stdint.h") || !strcmp(name, "stdlib.h"))
            continue; /* faust's own */
        char file[4400], where[300], at[32] = "";
        int ln = dsp_line(path, name);
        if (ln) snprintf(at, sizeof at, "%d:", ln);
        find_header(name, dirs, (int)(sizeof dirs / sizeof *dirs), file, sizeof file);
        for (size_t k = 0; k < sizeof platform_headers / sizeof *platform_headers; k++)
            if (!strcmp(name, platform_headers[k].header)) {
                snprintf(err, errlen,
                         "%s:%s error: the program needs %s, %s; kanon compiles Faust's C on "
                         "this machine, where that header does not exist",
                         display, at, name, platform_headers[k].what);
                return -1;
            }
        if (!file[0]) {
            snprintf(err, errlen,
                     "%s:%s error: the program needs the header %s (named by an ffunction or "
                     "fconstant), which is not on this machine (looked beside the file and in "
                     "%s, %s): a header of another platform?",
                     display, at, name, dirs[1], dirs[2]);
            return -1;
        }
        if (cxx_in(file, 0, where, sizeof where)) {
            snprintf(err, errlen,
                     "%s:%s error: the program needs %s, which is C++ (%s): kanon compiles "
                     "Faust's C output with a C compiler (tcc), so C++ helpers named by an "
                     "ffunction cannot be used",
                     display, at, name, where);
            return -1;
        }
    }
    return 0;
}

static int voices_option; /* --voices N; 0: the program's [nvoices:N] */

void kn_faust_set_voices(int n) {
    voices_option = n;
}

/* A polyphonic instrument: the N of --voices N, else of `declare options
 * "[nvoices:N]"` (its C declares the options in its metadata), at most
 * FAUST_VOICES_MAX (saying so); 0 for any other program, which stays one
 * instance as before. */
static int faust_voices(const char *gen, const char *display) {
    if (voices_option > 0)
        return voices_option < FAUST_VOICES_MAX ? voices_option : FAUST_VOICES_MAX;
    const char *o = strstr(gen, "\"options\", \""), *end = o ? strchr(o + 12, '"') : NULL;
    const char *nv = o ? strstr(o + 12, "[nvoices:") : NULL;
    if (!nv || nv > end) return 0;
    long n = strtol(nv + 9, NULL, 10);
    if (n > FAUST_VOICES_MAX) {
        fprintf(stderr, "%s: note: [nvoices:%ld]: kanon plays at most %d voices; it plays %d\n",
                display, n, FAUST_VOICES_MAX, FAUST_VOICES_MAX);
        n = FAUST_VOICES_MAX;
    }
    return n > 0 ? (int)n : 0;
}

char *kn_faust_source(const char *path, const char *display, const char *include_dir, char *err,
                      size_t errlen) {
    char *gen = run_faust(path, display, include_dir ? include_dir : ".", err, errlen);
    if (!gen) return NULL;
    if (check_headers(gen, path, display, include_dir ? include_dir : ".", err, errlen)) {
        free(gen);
        return NULL;
    }
    /* The DSP struct's definition, hashed: a different layout of the same
     * size must not inherit the old bytes. */
    uint64_t h = 1469598103934665603u;
    const char *a = strstr(gen, "typedef struct {"), *b = a ? strstr(a, "} kn_faust;") : NULL;
    for (const char *q = a; q && q < b; q++) h = (h ^ (unsigned char)*q) * 1099511628211u;
    char layout[160];
    snprintf(layout, sizeof layout,
             "\n#define KN_FAUST_LAYOUT %lluUL\n#define KN_FAUST_PARAMS %d\n"
             "#define KN_FAUST_VOICES %d\n",
             (unsigned long long)h, KN_MAX_PARAMS, faust_voices(gen, display));
    size_t n = sizeof prelude + strlen(gen) + sizeof layout + sizeof wrapper + 1;
    char *all = malloc(n);
    if (all) snprintf(all, n, "%s%s%s%s", prelude, gen, layout, wrapper);
    free(gen);
    return all;
}

/* ----------------------------------------------------------- soundfiles
 *
 * Faust's `soundfile("label[url:{'a.wav';'b.wav'}]", n)` reads sound
 * files through the host: its C asks the UI for a Soundfile (addSoundfile)
 * and then reads fBuffers[channel][fOffset[part] + i] for i below
 * fLength[part]. kanon loads each file with libsndfile, converts it to the
 * deck's rate with libsamplerate (sinc, medium quality, as the sample
 * nodes do) when it differs, and keeps the result in this process's
 * memory, not in the deck's state: the DSP struct only holds a pointer,
 * which every setup() points at this process's copy again. A cartridge
 * loads a sound once, in the setup() of its test render, so the setup()
 * at the takeover finds it loaded. Relative paths are the .dsp's
 * directory's (the cartridge runs there). A file that cannot be read
 * refuses the version, naming it (Faust's own hosts play silence instead;
 * a silent typo is worse live). */

#define SF_PARTS 256 /* Faust's MAX_SOUNDFILE_PARTS: part numbers the DSP may use */
#define SF_CHAN  64  /* Faust's MAX_CHAN: channels the DSP may read */

/* Faust's Soundfile (the prelude's): pointers first, as in its C++ original. */
typedef struct kn_faust_sound {
    float **buffers;
    int *length, *sr, *offset;
    int channels, parts, is_double;
} kn_faust_sound;

/* A sound of `frames` silent frames in every part and channel. */
static kn_faust_sound *sound_alloc(int channels, long frames) {
    kn_faust_sound *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->buffers = calloc(SF_CHAN, sizeof *s->buffers);
    s->length = calloc(SF_PARTS, sizeof(int));
    s->sr = calloc(SF_PARTS, sizeof(int));
    s->offset = calloc(SF_PARTS, sizeof(int));
    s->channels = channels;
    for (int c = 0; c < channels && s->buffers; c++)
        s->buffers[c] = calloc((size_t)(frames > 0 ? frames : 1), sizeof(float));
    if (!s->buffers || !s->length || !s->sr || !s->offset ||
        (channels && !s->buffers[channels - 1]))
        return NULL; /* out of memory: the caller says so */
    for (int c = channels; c < SF_CHAN; c++) s->buffers[c] = s->buffers[c % channels];
    return s;
}

/* One file, at `rate`, interleaved (malloc'd); NULL with why[] filled. */
static float *sound_read(const char *path, double rate, long *frames, int *channels, char *why,
                         size_t n) {
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf) {
        snprintf(why, n, "%s", sf_strerror(NULL));
        return NULL;
    }
    long got_frames = (long)info.frames, ch = info.channels;
    float *raw = malloc((size_t)(got_frames > 0 ? got_frames : 1) * (size_t)ch * sizeof(float));
    long got = raw ? (long)sf_readf_float(sf, raw, got_frames) : -1;
    sf_close(sf);
    if (got < 0) {
        snprintf(why, n, "out of memory");
        free(raw);
        return NULL;
    }
    *channels = (int)ch;
    if (info.samplerate == (int)rate && rate == (int)rate) {
        *frames = got;
        return raw;
    }
    long cap = (long)ceil((double)got * rate / info.samplerate) + 1;
    float *out = malloc((size_t)cap * (size_t)ch * sizeof(float));
    SRC_DATA d = {.data_in = raw,
                  .data_out = out,
                  .input_frames = got,
                  .output_frames = cap,
                  .src_ratio = rate / info.samplerate};
    int err = out ? src_simple(&d, SRC_SINC_MEDIUM_QUALITY, (int)ch) : -1;
    free(raw);
    if (err) {
        snprintf(why, n, "cannot convert it from %d Hz: %s", info.samplerate,
                 out ? src_strerror(err) : "out of memory");
        free(out);
        return NULL;
    }
    *frames = d.output_frames_gen;
    return out;
}

/* Sounds loaded by this process, by label, URL and rate. */
static struct {
    char *key;
    kn_faust_sound *sound;
} sounds[64];

kn_faust_sound *kn_faust_soundfile(kn_ctx *k, const char *label, const char *url) {
    static kn_faust_sound *empty;
    if (!label) { /* Faust's defaultsound: one silent frame, until a sound is given */
        if (!empty && !(empty = sound_alloc(1, 1)))
            kn_cart_fatal((const kn_cart *)k, "soundfile: out of memory");
        for (int p = 0; p < SF_PARTS; p++) empty->length[p] = 1, empty->sr[p] = (int)k->rate;
        empty->parts = 1;
        return empty;
    }
    char key[1200];
    snprintf(key, sizeof key, "%s\n%s\n%g", label, url ? url : "", k->rate);
    int slot = -1;
    for (int i = 0; i < 64; i++) {
        if (sounds[i].key && !strcmp(sounds[i].key, key)) return sounds[i].sound;
        if (!sounds[i].key && slot < 0) slot = i;
    }
    if (slot < 0) kn_cart_fatal((const kn_cart *)k, "soundfile \"%s\": more than 64 sounds", label);
    /* the parts: {'a.wav';'b.wav'}; no URL: the label names the file */
    char list[1024], *names[SF_PARTS];
    int nparts = 0;
    snprintf(list, sizeof list, "%s", url && url[0] ? url : label);
    for (char *tok = strtok(list, "{};"); tok && nparts < SF_PARTS; tok = strtok(NULL, "{};")) {
        while (*tok == ' ' || *tok == '\'' || *tok == '"') tok++;
        size_t len = strlen(tok);
        while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\'' || tok[len - 1] == '"'))
            tok[--len] = 0;
        if (len) names[nparts++] = tok;
    }
    if (!nparts)
        kn_cart_fatal((const kn_cart *)k, "soundfile \"%s\": no file named (url: %s)", label, url);
    float *data[SF_PARTS];
    long frames[SF_PARTS], total = 0;
    int chans[SF_PARTS], channels = 1;
    for (int p = 0; p < nparts; p++) {
        char why[300];
        data[p] = sound_read(names[p], k->rate, &frames[p], &chans[p], why, sizeof why);
        if (!data[p])
            kn_cart_fatal((const kn_cart *)k,
                          "soundfile \"%s\": cannot read %s (beside the .dsp): %s", label, names[p],
                          why);
        if (frames[p] < 1) frames[p] = 1; /* an empty file: one silent frame */
        if (chans[p] > channels) channels = chans[p];
        total += frames[p];
    }
    if (channels > SF_CHAN || total > 0x7fffffff)
        kn_cart_fatal((const kn_cart *)k, "soundfile \"%s\": too large (%d channels, %ld frames)",
                      label, channels, total);
    kn_faust_sound *s = sound_alloc(channels, total);
    if (!s) kn_cart_fatal((const kn_cart *)k, "soundfile \"%s\": out of memory", label);
    long at = 0;
    for (int p = 0; p < nparts; p++) {
        for (int c = 0; c < channels; c++) /* a mono part fills every channel */
            for (long i = 0; i < frames[p]; i++)
                s->buffers[c][at + i] = data[p][i * chans[p] + c % chans[p]];
        s->length[p] = (int)frames[p];
        s->offset[p] = (int)at;
        s->sr[p] = (int)k->rate;
        at += frames[p];
        free(data[p]);
    }
    for (int p = nparts; p < SF_PARTS; p++) { /* Faust repeats the parts it was given */
        s->length[p] = s->length[p % nparts];
        s->offset[p] = s->offset[p % nparts];
        s->sr[p] = s->sr[p % nparts];
    }
    s->parts = nparts;
    sounds[slot].key = strdup(key);
    sounds[slot].sound = s;
    return s;
}

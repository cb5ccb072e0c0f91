/*
 * front.h - the compile front end and the check command, shared by
 * kanon-cartridge and `kanon check` (which links front.c, check.c and
 * limits.c: one light process, nothing else of the cartridge).
 *
 *   front.c   a user's file compiled in memory by libtcc; diagnostics in
 *             FILE:LINE: error: form
 *   check.c   the check command: compile, then print what `kanon check`
 *             prints (text or --json), under the compile's limits
 *   limits.c  the compile's limits: address space, a wall-clock deadline
 *             whose alarm writes a prepared error; the run's limits
 *
 * Depends on libtcc, cJSON and libc; never on shm/ segments or the rest of
 * the cartridge.
 */
#ifndef KANON_FRONT_H
#define KANON_FRONT_H

#include "include/kanon.h"
#include <signal.h>
#include <stddef.h>

typedef void (*kn_setup_fn)(kn_ctx *);
typedef void (*kn_process_fn)(kn_ctx *, float **, int);
typedef void (*kn_event_fn)(kn_ctx *, const kn_event *);

/* libtcc's runtime and its own headers (include/ below it) */
#ifndef KN_TCC_LIB_DIR
#define KN_TCC_LIB_DIR "/usr/lib/x86_64-linux-gnu/tcc"
#endif

/* A compiled user program. */
typedef struct kn_program {
    void *tcc; /* TCCState, owns the code (tcc tier) */
    void *dl;  /* dlopen handle, owns the code (cc tier: tier.c) */
    kn_setup_fn setup;
    kn_process_fn process;
    kn_event_fn event; /* NULL: the file defines no event() */
    double compile_ms;
} kn_program;

/* A name the compiled code may call, and its address. */
typedef struct kn_symbol {
    const char *name;
    const void *addr;
} kn_symbol;

/* kanon.h's functions that the cartridge itself implements (api.c,
 * faust.c), added to every compile by address. One list: the cartridge
 * gives their addresses, `kanon check` stands-ins (it never runs the code). */
// clang-format off
#define KN_API_SYMBOLS(X) \
    X(kn_state) X(kn_param_decl) X(kn_get) X(kn_smooth) X(kn_target) X(kn_beat_at) \
    X(kn_in) X(kn_midi_out) X(kn_bind) X(kn_faust_soundfile)
// clang-format on

/* Compiles `path` (shown to the user as `display`), or `text` if not NULL
 * (made by a translator, e.g. Faust's; it is freed). Symbols resolve
 * against `syms`, then this process. On failure returns -1 and leaves a
 * message in err ("display:LINE: error: ..."). */
int kn_front_compile(kn_program *p, const char *path, const char *display, const char *include_dir,
                     char *text, const kn_symbol *syms, size_t nsyms, char *err, size_t errlen);
/* The directory a file's own #include "..." and samples are found in:
 * include_dir, else the file's (in buf). */
const char *kn_front_incdir(const char *path, const char *include_dir, char *buf, size_t n);
void kn_program_free(kn_program *p);
/* 1 if the file is Faust source (.dsp): compiled through faust.c. */
int kn_is_faust(const char *name);
/* A display name safe to put inside a #line directive. */
void kn_line_name(const char *display, char *out, size_t n);
/* Where kanon.h and kanon/NAME.h are. */
const char *kn_include_dir(void);
/* The error a compile that hit its time limit reports (made before the
 * limit is armed: a signal handler only writes it): names the limit, who
 * was at work (faust or the C compiler) and `how` to raise it. */
void kn_compile_limit_text(char *buf, size_t n, const char *display, double seconds, int faust,
                           const char *how);

/* ---- check.c ---- */

/* How a compile is asked for (the cartridge's kn_compile, or check's own). */
typedef int (*kn_compile_fn)(kn_program *p, const char *path, const char *display,
                             const char *include_dir, char *err, size_t errlen);
typedef struct kn_check_opts {
    const char *file, *display, *include_dir;
    int json;
    double compile_seconds;
    size_t mem_bytes;
} kn_check_opts;
/* Compiles and reports as `kanon check` does: 0 ok, 1 a compile error. */
int kn_check(const kn_check_opts *o, kn_compile_fn compile);
/* A compile failure as printed: the compiler's text (with a newline), or
 * with json an object with every diagnostic line split into its parts.
 * malloc'd. */
char *kn_compile_error_text(const char *display, const char *err, int json);
/* A compile failure, on stderr or (json) stdout; returns 1. */
int kn_report_compile_error(const char *display, const char *err, int json);
/* Prints o (a cJSON object; freed) as the one line of --json output. */
struct cJSON;
void kn_json_line(struct cJSON *o);
/* Arms the compile's time limit with its error, in the form asked for. */
void kn_arm_compile_alarm(const char *display, double seconds, int json);

/* ---- limits.c ---- */

void kn_sandbox_compile_limits(double seconds, size_t mem_bytes);
void kn_sandbox_run_limits(size_t mem_bytes);
void kn_sandbox_deadline(double seconds);
/* Until kn_sandbox_run_limits: the compile's limit writes `tcc_text`, or
 * `faust_text` while faust runs, on fd and exits 1. */
void kn_sandbox_compile_alarm(int fd, const char *tcc_text, const char *faust_text);
/* While faust runs (a child process), and its output file: the compile's
 * time limit says which compiler it stopped, and removes the file. */
extern volatile sig_atomic_t kn_faust_running;
extern char kn_faust_tmp[64];

#endif

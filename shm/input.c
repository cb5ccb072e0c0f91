/* input.c - see input.h. */
#include "input.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kn_number(const char *label, const char *s, double lo, double hi, int whole, const char *unit,
              double *out, char *msg, size_t n) {
    char *end = NULL;
    double v = s && *s ? strtod(s, &end) : NAN;
    /* isfinite also refuses "nan", "inf" and overflows such as 1e400 (HUGE_VAL) */
    if (end && !*end && isfinite(v) && v >= lo && v <= hi && (!whole || v == floor(v))) {
        *out = v;
        return 0;
    }
    const char *kind = whole ? "a whole number" : "a finite number";
    const char *sp = unit && *unit ? " " : "";
    if (isfinite(lo) && isfinite(hi))
        snprintf(msg, n, "%s must be %s between %.15g and %.15g%s%s (got '%s')", label, kind, lo,
                 hi, sp, unit ? unit : "", s ? s : "");
    else
        snprintf(msg, n, "%s must be %s (got '%s')", label, kind, s ? s : "");
    return -1;
}

const char *kn_overwrite_refusal(const char *path) {
    struct stat st;
    if (stat(path, &st)) return NULL; /* nothing there (or unreachable: opening will say so) */
    if (!S_ISREG(st.st_mode)) return "is not a regular file";
    if (st.st_size == 0) return NULL; /* nothing to lose */
    unsigned char h[12] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, h, sizeof h) : -1;
    if (fd >= 0) close(fd);
    int riff = !memcmp(h, "RIFF", 4) || !memcmp(h, "RF64", 4) || !memcmp(h, "BW64", 4);
    if (got != (ssize_t)sizeof h || !riff || memcmp(h + 8, "WAVE", 4))
        return "exists and is not a WAV file";
    return NULL;
}

int kn_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

const char *kn_signal_text(int sig, char *buf, size_t n) {
    const char *abbrev = sigabbrev_np(sig), *descr = sigdescr_np(sig);
    /* what kanon's own uses of them mean */
    const char *why = sig == SIGALRM   ? ": a time limit ran out"
                      : sig == SIGKILL ? ": by another process, or the kernel out of memory"
                      : sig == SIGXCPU ? ": CPU time over its limit"
                                       : "";
    char d[64];
    snprintf(d, sizeof d, "%s", descr ? descr : "unknown to this system");
    if (d[0] && d[1] && !isupper((unsigned char)d[1])) d[0] = (char)tolower((unsigned char)d[0]);
    if (abbrev)
        snprintf(buf, n, "SIG%s (%s%s)", abbrev, d, why);
    else
        snprintf(buf, n, "signal %d (%s%s)", sig, d, why);
    return buf;
}

int kn_private_dir(char *out, size_t n) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || tmp[0] != '/') tmp = "/tmp";
    if (snprintf(out, n, "%s/kanon-cc-XXXXXX", tmp) >= (int)n) return -ENAMETOOLONG;
    return mkdtemp(out) ? 0 : -errno; /* mode 0700 */
}

void kn_private_dir_remove(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlinkat(dirfd(d), e->d_name, 0);
    if (d) closedir(d);
    rmdir(dir);
}

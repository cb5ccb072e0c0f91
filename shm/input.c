/* input.c - see input.h. */
#include "input.h"

#include <fcntl.h>
#include <math.h>
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

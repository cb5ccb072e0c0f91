/*
 * test_input.c - shm/input.c, the checks all three binaries share.
 *
 * Proves:
 *   - kn_number takes the whole word as a finite number within lo..hi (and
 *     whole where asked), and refuses nan, inf, 1e400, -1 out of range,
 *     "", "12abc" and 2.5 for a whole number, with the sentence that names
 *     the option, the range and what was given;
 *   - kn_overwrite_refusal lets a missing, empty, RIFF/RF64 WAVE file be
 *     written over, and refuses text, a short file, a directory, /dev/null;
 *   - kn_same_file sees a file through a symlink, and not two files.
 */
#include "check.h"
#include "input.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int refused(const char *s, double lo, double hi, int whole, const char *want) {
    char msg[300] = "";
    double v = -42;
    int rc = kn_number("--x", s, lo, hi, whole, "ms", &v, msg, sizeof msg);
    if (rc == 0 || v != -42 || (want && strcmp(msg, want))) {
        printf("  '%s': rc %d, v %g, msg '%s'\n", s ? s : "(null)", rc, v, msg);
        return 0;
    }
    return 1;
}

static double accepted(const char *s, double lo, double hi, int whole) {
    char msg[300];
    double v = NAN;
    return kn_number("--x", s, lo, hi, whole, "", &v, msg, sizeof msg) ? NAN : v;
}

static void write_file(const char *path, const char *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) fwrite(bytes, 1, n, f), fclose(f);
}

int main(void) {
    CHECK(refused("nan", 0, 86400, 0,
                  "--x must be a finite number between 0 and 86400 ms (got 'nan')"));
    CHECK(refused("inf", 0, 86400, 0, NULL));
    CHECK(refused("-inf", -INFINITY, INFINITY, 0, "--x must be a finite number (got '-inf')"));
    CHECK(refused("1e400", 0, 86400, 0, NULL));
    CHECK(refused("-1", 0, 86400, 0, NULL));
    CHECK(refused("86400.5", 0, 86400, 0, NULL));
    CHECK(refused("", 0, 86400, 0, "--x must be a finite number between 0 and 86400 ms (got '')"));
    CHECK(refused(NULL, 0, 86400, 0, NULL));
    CHECK(refused("12abc", 0, 86400, 0, NULL));
    CHECK(refused("2.5", 1, 8, 1, "--x must be a whole number between 1 and 8 ms (got '2.5')"));
    CHECK(refused("4294967296", 1, 4294967295.0, 1,
                  "--x must be a whole number between 1 and 4294967295 ms (got '4294967296')"));
    CHECK(accepted("0", 0, 86400, 0) == 0);
    CHECK(accepted("86400", 0, 86400, 0) == 86400);
    CHECK(accepted("1e3", 0, 86400, 0) == 1000);
    CHECK(accepted("-0.5", -1, 1, 0) == -0.5);
    CHECK(accepted("44100", 8000, 384000, 1) == 44100);
    CHECK(accepted("1e300", -INFINITY, INFINITY, 0) == 1e300);

    char dir[] = "/tmp/kanon-test-input.XXXXXX", p[256], q[256];
    if (!mkdtemp(dir)) return 1;
    snprintf(p, sizeof p, "%s/missing.wav", dir);
    CHECK(kn_overwrite_refusal(p) == NULL);
    snprintf(p, sizeof p, "%s/empty.wav", dir);
    write_file(p, "", 0);
    CHECK(kn_overwrite_refusal(p) == NULL);
    snprintf(p, sizeof p, "%s/riff.wav", dir);
    write_file(p, "RIFF\x24\0\0\0WAVEfmt ", 16);
    CHECK(kn_overwrite_refusal(p) == NULL);
    snprintf(p, sizeof p, "%s/rf64.wav", dir);
    write_file(p, "RF64\xff\xff\xff\xffWAVEds64", 16);
    CHECK(kn_overwrite_refusal(p) == NULL);
    snprintf(p, sizeof p, "%s/aiff.wav", dir);
    write_file(p, "FORM\0\0\0\0AIFFCOMM", 16);
    CHECK(kn_overwrite_refusal(p) &&
          !strcmp(kn_overwrite_refusal(p), "exists and is not a WAV file"));
    snprintf(p, sizeof p, "%s/short.wav", dir);
    write_file(p, "RIFF", 4);
    CHECK(kn_overwrite_refusal(p) != NULL);
    snprintf(p, sizeof p, "%s/sine.c", dir);
    write_file(p, "#include <kanon.h>\n", 19);
    CHECK(kn_overwrite_refusal(p) != NULL);
    CHECK(kn_overwrite_refusal(dir) && !strcmp(kn_overwrite_refusal(dir), "is not a regular file"));
    CHECK(kn_overwrite_refusal("/dev/null") != NULL);

    snprintf(q, sizeof q, "%s/alias.c", dir);
    CHECK(symlink("sine.c", q) == 0);
    CHECK(kn_same_file(p, q) == 1);
    snprintf(q, sizeof q, "%s/./sine.c", dir);
    CHECK(kn_same_file(p, q) == 1);
    snprintf(q, sizeof q, "%s/riff.wav", dir);
    CHECK(kn_same_file(p, q) == 0);
    snprintf(q, sizeof q, "%s/missing.wav", dir);
    CHECK(kn_same_file(q, q) == 0);

    const char *names[] = {"empty.wav", "riff.wav", "rf64.wav", "aiff.wav",
                           "short.wav", "sine.c",   "alias.c"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
    return check_report();
}

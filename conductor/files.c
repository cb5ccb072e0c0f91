/*
 * files.c - reading the user's files from the event loop: never blocking
 * (a FIFO or a device is refused, not waited on), never more than
 * KN_SOURCE_MAX, and a hash to tell a real save from a touch.
 */
#include "conductor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t kn_fnv1a(const char *p, size_t n) {
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211u;
    return h;
}

/* Opens a regular file for reading without ever blocking the event loop
 * (a FIFO or device would): NULL with errno set otherwise. */
FILE *kn_open_regular(const char *path) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        int e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        close(fd);
        errno = e;
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) close(fd);
    return f;
}

char *kn_slurp(const char *path, size_t *len) {
    FILE *f = kn_open_regular(path);
    if (!f) return NULL;
    char *buf = malloc(KN_SOURCE_MAX + 1);
    size_t n = buf ? fread(buf, 1, KN_SOURCE_MAX + 1, f) : 0;
    fclose(f);
    if (buf && n > KN_SOURCE_MAX) {
        free(buf);
        errno = EFBIG;
        return NULL;
    }
    *len = n;
    return buf;
}

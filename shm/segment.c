/* segment.c - see segment.h. */
#include "segment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whether s is made only of [A-Za-z0-9_-] (names end up in paths). */
static int name_chars_ok(const char *s) {
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

int kn_instance(const char *arg, char out[KN_NAME_MAX]) {
    const char *s = arg ? arg : getenv("KANON_INSTANCE");
    if (arg && !*arg) return -EINVAL; /* an explicit empty name is a mistake */
    if (!s || !*s) s = "default";
    size_t n = strlen(s);
    if (n >= KN_NAME_MAX || !name_chars_ok(s)) return -EINVAL;
    memcpy(out, s, n + 1);
    return 0;
}

int kn_deck_name_check(const char *name, char *err, size_t errlen) {
    size_t n = name ? strlen(name) : 0;
    const char *cut = n > 64 ? "..." : ""; /* quote enough to recognise it */
    if (n == 0)
        snprintf(err, errlen,
                 "a deck name is 1-%d characters: letters, digits, '_' and '-'; none was given",
                 KN_NAME_MAX - 1);
    else if (n >= KN_NAME_MAX)
        snprintf(err, errlen, "deck name '%.64s%s' is %zu characters; the limit is %d", name, cut,
                 n, KN_NAME_MAX - 1);
    else if (!name_chars_ok(name))
        snprintf(err, errlen, "deck name '%s' may contain only letters, digits, '_' and '-'", name);
    else if (!strcmp(name, "master"))
        snprintf(err, errlen, "deck name 'master' is reserved for the master bus");
    else
        return 0;
    return -1;
}

int kn_runtime_dir(char out[KN_PATH_MAX]) {
    const char *x = getenv("XDG_RUNTIME_DIR");
    int n = (x && *x) ? snprintf(out, KN_PATH_MAX, "%s/kanon", x)
                      : snprintf(out, KN_PATH_MAX, "/tmp/kanon-%u", (unsigned)getuid());
    if (n < 0 || n >= KN_PATH_MAX) return -ENAMETOOLONG;
    if (mkdir(out, 0700) < 0 && errno != EEXIST) return -errno;
    struct stat st;
    /* lstat: refuse a symlink planted by someone else in a shared /tmp. */
    if (lstat(out, &st) < 0) return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != getuid()) return -EPERM;
    if ((st.st_mode & 0777) != 0700 && chmod(out, 0700) < 0) return -errno;
    return 0;
}

int kn_runtime_path(const char *instance, const char *suffix, char out[KN_PATH_MAX]) {
    char dir[KN_PATH_MAX];
    int rc = kn_runtime_dir(dir);
    if (rc < 0) return rc;
    int n = snprintf(out, KN_PATH_MAX, "%s/%s.%s", dir, instance, suffix);
    return (n < 0 || n >= KN_PATH_MAX) ? -ENAMETOOLONG : 0;
}

int kn_seg_create(const char *label, size_t bytes, void **map, int *fd_out) {
    int fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -errno;
    int rc = 0;
    if (ftruncate(fd, (off_t)bytes) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        rc = -errno;
    void *p = rc ? MAP_FAILED : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (!rc && p == MAP_FAILED) rc = -errno;
    if (rc) {
        close(fd);
        return rc;
    }
    *map = p;
    *fd_out = fd;
    return 0;
}

static int seg_map(int fd, enum kn_seg_kind kind, int prot, void **map, size_t *bytes) {
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0) return -errno;
    if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) return -EPERM;
    if ((size_t)st.st_size < sizeof(kn_seg_header)) return -EPROTO;
    void *p = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return -errno;
    const kn_seg_header *h = p;
    if (h->magic != KN_MAGIC || h->version != KN_LAYOUT_VERSION || h->kind != kind ||
        h->bytes != (uint64_t)st.st_size) {
        munmap(p, (size_t)st.st_size);
        return -EPROTO;
    }
    *map = p;
    *bytes = (size_t)st.st_size;
    return 0;
}

int kn_seg_map(int fd, enum kn_seg_kind kind, void **map, size_t *bytes) {
    return seg_map(fd, kind, PROT_READ | PROT_WRITE, map, bytes);
}

int kn_seg_map_ro(int fd, enum kn_seg_kind kind, const void **map, size_t *bytes) {
    void *p;
    int rc = seg_map(fd, kind, PROT_READ, &p, bytes);
    if (!rc) *map = p;
    return rc;
}

int kn_seg_reopen_ro(int fd) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int ro = open(path, O_RDONLY | O_CLOEXEC);
    return ro < 0 ? -errno : ro;
}

void kn_seg_unmap(void *map, size_t bytes) {
    if (map) munmap(map, bytes);
}

int kn_seg_reclaim(const char *instance) {
    char prefix[KN_PATH_MAX];
    int plen = snprintf(prefix, sizeof prefix, "kanon.%u.%s.", (unsigned)getuid(), instance);
    DIR *d = opendir("/dev/shm");
    if (!d) return -errno;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, (size_t)plen) != 0) continue;
        char name[KN_PATH_MAX + 2];
        snprintf(name, sizeof name, "/%s", e->d_name);
        if (shm_unlink(name) == 0) n++;
    }
    closedir(d);
    return n;
}

void kn_state_format(kn_state_seg *s, size_t bytes, enum kn_seg_kind kind) {
    s->hdr.magic = KN_MAGIC;
    s->hdr.version = KN_LAYOUT_VERSION;
    s->hdr.kind = (uint16_t)kind;
    s->hdr.bytes = bytes;
    s->count = 0;
    s->heap_offset = (sizeof *s + 63) & ~(uint64_t)63;
    s->heap_used = 0;
}

int kn_state_valid(const kn_state_seg *s, size_t bytes) {
    uint64_t heap = (sizeof *s + 63) & ~(uint64_t)63;
    if (bytes < heap || s->hdr.bytes != bytes || s->heap_offset != heap ||
        s->heap_used > bytes - heap || s->count > KN_MAX_REGIONS)
        return 0;
    for (uint32_t i = 0; i < s->count; i++) {
        const kn_region *r = &s->region[i];
        if (strnlen(r->name, KN_NAME_MAX) == KN_NAME_MAX || r->offset < heap ||
            r->offset > heap + s->heap_used || r->size > heap + s->heap_used - r->offset)
            return 0;
    }
    return 1;
}

size_t kn_param_bytes(void) {
    return sizeof(kn_param_seg);
}

void kn_param_format(kn_param_seg *p) {
    p->hdr.magic = KN_MAGIC;
    p->hdr.version = KN_LAYOUT_VERSION;
    p->hdr.kind = KN_SEG_PARAM;
    p->hdr.bytes = sizeof *p;
    atomic_store_explicit(&p->count, 0, memory_order_release);
}

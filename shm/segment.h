/*
 * segment.h - creating and mapping kanon's shared-memory segments, and the
 * per-user runtime directory.
 *
 * A segment is an anonymous memfd, never a name in /dev/shm: nobody can
 * open, squat on or truncate it by name. The conductor creates it, sizes
 * it, seals it against shrinking and growing (F_SEAL_SHRINK | F_SEAL_GROW,
 * then F_SEAL_SEAL), maps it, and hands the file descriptor only to the
 * cartridges of that deck (KN_FD_* in kanon_shm.h). A sealed segment cannot
 * change size, so no cartridge can make the conductor's mapping fault with
 * SIGBUS. The runtime directory ($XDG_RUNTIME_DIR/kanon or /tmp/kanon-<uid>)
 * is 0700 and must be owned by the user.
 * Every function returns 0 on success or a negative errno.
 */
#ifndef KANON_SEGMENT_H
#define KANON_SEGMENT_H

#include "kanon_shm.h"
#include <stddef.h>

#define KN_PATH_MAX 256

/* The instance name: argument if non-NULL, else $KANON_INSTANCE (if set
 * and not empty), else "default". Returns -EINVAL unless it is 1..31 of
 * [A-Za-z0-9_-]. */
int kn_instance(const char *arg, char out[KN_NAME_MAX]);

/* A deck name is 1..31 of [A-Za-z0-9_-] and not "master" (the mixer's
 * bus). 0 if `name` is one; else -1 with err saying what is wrong. */
int kn_deck_name_check(const char *name, char *err, size_t errlen);

/* Creates (if needed) and checks the user's private runtime directory. */
int kn_runtime_dir(char out[KN_PATH_MAX]);

/* <runtime dir>/<instance>.<suffix>, e.g. "sock", "lock", "log". */
int kn_runtime_path(const char *instance, const char *suffix, char out[KN_PATH_MAX]);

/* Creates a zero-filled, sealed segment of `bytes` (close-on-exec) and maps
 * it; `label` only names it in /proc/PID/maps ("memfd:kanon.ring"). */
int kn_seg_create(const char *label, size_t bytes, void **map, int *fd);
/* Maps the segment behind fd; checks that it is sealed against resizing
 * and that its header's magic, version, kind and size are right. */
int kn_seg_map(int fd, enum kn_seg_kind kind, void **map, size_t *bytes);
/* The same, read-only: the mapping cannot be made writable (a read-only
 * descriptor from kn_seg_reopen_ro refuses PROT_WRITE). */
int kn_seg_map_ro(int fd, enum kn_seg_kind kind, const void **map, size_t *bytes);
/* A new read-only descriptor of a segment (close-on-exec), or a negative
 * errno: what a cartridge gets of segments it may read but not write. */
int kn_seg_reopen_ro(int fd);
void kn_seg_unmap(void *map, size_t bytes);
/* Unlinks every /dev/shm/kanon.<uid>.<instance>.* name (kanon before 0.9
 * named its segments; a conductor killed then left them); returns how
 * many. */
int kn_seg_reclaim(const char *instance);

/* Formats fresh state (KN_SEG_STATE or KN_SEG_SNAP) and parameter segments. */
void kn_state_format(kn_state_seg *s, size_t bytes, enum kn_seg_kind kind);
/* 1 if a state segment's header, heap and region directory are consistent
 * (a cartridge may have written garbage over them). */
int kn_state_valid(const kn_state_seg *s, size_t bytes);
void kn_param_format(kn_param_seg *p);
size_t kn_param_bytes(void);

#endif

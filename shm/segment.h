/*
 * segment.h - naming, creating, opening and reclaiming kanon's POSIX
 * shared-memory segments and the per-user runtime directory.
 *
 * Names are private to the user and the instance:
 *     /kanon.<uid>.<instance>.d<NN>.<ring|state|param>
 * Segments are created O_EXCL with mode 0600; the runtime directory
 * ($XDG_RUNTIME_DIR/kanon or /tmp/kanon-<uid>) is 0700 and must be owned by
 * the user. Every function returns 0 on success or a negative errno.
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

/* Shared-memory name of one of a deck's segments. */
void kn_seg_name(char out[KN_PATH_MAX], const char *instance, int deck, enum kn_seg_kind kind);

/* Creates a zero-filled segment of `bytes` (fails with -EEXIST if present). */
int kn_seg_create(const char *name, size_t bytes, void **map);
/* Maps an existing segment; checks the header's magic, version and kind. */
int kn_seg_open(const char *name, enum kn_seg_kind kind, void **map, size_t *bytes);
void kn_seg_unmap(void *map, size_t bytes);
int kn_seg_unlink(const char *name);
/* Unlinks every segment of this user's `instance`; returns how many. */
int kn_seg_reclaim(const char *instance);

/* Formats fresh state (KN_SEG_STATE or KN_SEG_SNAP) and parameter segments. */
void kn_state_format(kn_state_seg *s, size_t bytes, enum kn_seg_kind kind);
/* 1 if a state segment's header, heap and region directory are consistent
 * (a cartridge may have written garbage over them). */
int kn_state_valid(const kn_state_seg *s, size_t bytes);
void kn_param_format(kn_param_seg *p);
size_t kn_param_bytes(void);

#endif

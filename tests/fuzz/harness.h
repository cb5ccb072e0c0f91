/*
 * harness.h - a real kanon conductor inside a libFuzzer process, shared by
 * fuzz_control.c and fuzz_osc.c.
 *
 * fz_setup() builds the conductor the way conductor/main.c does (instance
 * "fuzz-<pid>", dummy audio backend, inotify, mixer, recorder, history and
 * runtime directories under a private temp dir, OSC on a free 127.0.0.1
 * port), with /bin/false as the cartridge binary, then adds fixtures:
 * decks "pad", "sine" and "hiss" (created by real `play` requests) whose
 * parameter segments hold what a cartridge would have declared, three
 * history versions of "pad", and a control-surface map (examples/maps/
 * 8knob.json, its reply port a closed local port). Fixture sources and
 * maps are also kept at a stable path, FZ_FIXTURES, for the seed corpora.
 *
 * fz_between() runs after every input: the event loop's periodic work
 * (reaping cartridges, deck housekeeping, meters, OSC feedback), then a
 * reset: decks the input created are stopped, fixtures it removed come
 * back, mixer settings return to unity.
 *
 * Cleanup: the process forks at start-up; the parent (the pid run.sh waits
 * on, a child subreaper) waits for the fuzzer, reaps any orphaned
 * cartridges and removes the instance's /dev/shm segments and temp dir
 * even after a crash (FZ_NO_FORK=1 turns it off, for debuggers).
 *
 * Isolation: the process moves into a network namespace of its own with
 * only a loopback (root or unprivileged user namespaces; FZ_NO_NETNS=1
 * turns it off), so no fuzzed OSC subscription or reply leaves it.
 *
 * Safety: the conductor's fopen() goes through fz_fopen (its sources are
 * compiled with -Dfopen=fz_fopen): reading paths under /dev, /proc, /sys
 * and anything that is not a regular file or directory is refused
 * (EACCES), so a fuzzed `play` or `map_load` never blocks on a tty or FIFO
 * or opens a device.
 */
#ifndef KANON_FUZZ_HARNESS_H
#define KANON_FUZZ_HARNESS_H

#include "conductor.h"
#include "osc.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define FZ_FIXTURES "/tmp/kanon-fuzz-fixtures"

extern kn_conductor fz_c;

/* Builds everything once; exits the process with a message on failure. */
void fz_setup(void);
/* Periodic work and reset after one input. */
void fz_between(void);
/* Set by a harness: fz_between keeps a recording (into the temp dir)
 * running most of the time, so record_stop and status meet one. */
extern int fz_keep_recording;
/* Reloads the per-run surface map (after a fuzzed map_load replaced it). */
void fz_reload_map(void);
/* Harness failure: prints to the real stderr and aborts (libFuzzer saves
 * the input as a crash). */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Prints to the real stderr (libFuzzer may have closed fd 2). */
void fz_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

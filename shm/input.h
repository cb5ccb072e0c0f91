/*
 * input.h - checks every kanon binary makes on what the user typed: numbers
 * on the command line, and files about to be written over; and how a
 * signal is named to the user. Here, and not per binary, so that `kanon`,
 * `kanon-conductor` and `kanon-cartridge` accept the same numbers, refuse
 * the same files and report the same deaths with the same words.
 * libc only.
 */
#ifndef KANON_INPUT_H
#define KANON_INPUT_H

#include <stddef.h>

/* Reads all of `s` as a finite number in lo..hi (a whole number if
 * `whole`; lo and hi both -+INFINITY: any finite number). Returns 0 with *out set, or -1 with
 * msg set to a sentence that names `label`, the range and `unit`, e.g.
 * "--seconds must be a finite number between 0 and 86400 (got 'nan')". */
int kn_number(const char *label, const char *s, double lo, double hi, int whole, const char *unit,
              double *out, char *msg, size_t n);

/* Why `path` must not be written over, or NULL if it may be: it does not
 * exist, or it is a regular file that is empty or holds a WAV (RIFF, RF64
 * or BW64 with WAVE). The phrase fits "PATH <phrase>; refusing ...". */
const char *kn_overwrite_refusal(const char *path);

/* 1 if a and b are the same file (device and inode), else 0 (also when
 * either does not exist). */
int kn_same_file(const char *a, const char *b);

/* A signal in words, never a bare number: "SIGSEGV (segmentation fault)",
 * "SIGALRM (alarm clock: a time limit ran out)", or for a number this
 * system does not name, "signal 77 (unknown to this system)". Returns buf. */
const char *kn_signal_text(int sig, char *buf, size_t n);

/* A private directory for a compiler's output (the cc tier): a new 0700
 * directory kanon-cc-XXXXXX under $TMPDIR or /tmp, its path in out.
 * 0, or -errno. Removed, with every file in it, by kn_private_dir_remove. */
int kn_private_dir(char *out, size_t n);
void kn_private_dir_remove(const char *dir);

#endif

/*
 * report.h - the report lines: how a live cartridge tells the conductor
 * what it is doing (the second cross-process contract, beside the shared
 * bytes of kanon_shm.h).
 *
 * One JSON object per line on KN_FD_REPORT, written by the cartridge and
 * read, never trusted, by the conductor (a malformed or unknown line is
 * logged and ignored; user code can write on this pipe too, so a line can
 * only ever affect its own deck). Every line has KN_REPORT_EVENT, and most
 * KN_REPORT_T, the wall time (s) at which it happened. In order of a
 * cartridge's life:
 *
 *   testing   compiled; test-rendering on a scratch copy   ms (compile)
 *   compiled  passed the test, waiting for the token       ms, test_ms
 *   running   took over: its first frame is `frame`        frame
 *   note      something the user should know               message
 *   blocked   the sandbox refused a call of the user's code syscall
 *   error     the code is refused (compile error, test)    message
 *   fatal     the cartridge cannot go on (API misuse)      message
 */
#ifndef KANON_REPORT_H
#define KANON_REPORT_H

/* keys */
#define KN_REPORT_EVENT   "event"
#define KN_REPORT_T       "t"
#define KN_REPORT_MESSAGE "message"
#define KN_REPORT_MS      "ms"
#define KN_REPORT_TEST_MS "test_ms"
#define KN_REPORT_FRAME   "frame"
#define KN_REPORT_SYSCALL "syscall"

/* events */
#define KN_REPORT_TESTING  "testing"
#define KN_REPORT_COMPILED "compiled"
#define KN_REPORT_RUNNING  "running"
#define KN_REPORT_NOTE     "note"
#define KN_REPORT_BLOCKED  "blocked"
#define KN_REPORT_ERROR    "error"
#define KN_REPORT_FATAL    "fatal"

#endif

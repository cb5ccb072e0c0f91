/* escape_uring.c - tries io_uring, whose IORING_OP_SOCKET made a socket
 * past the rule against socket() and sent OSC to another deck. Expected:
 * io_uring_setup, _enter and _register fail with EPERM; the code plays on. */
#include "escape.h"
#include <linux/io_uring.h>
#include <sys/syscall.h>

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now() && fault_calls == FAULT_AFTER + 1) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        long fd = syscall(SYS_io_uring_setup, 8, &p);
        attempt("io_uring_setup", fd);
        if (fd >= 0) close((int)fd);
        attempt("io_uring_enter", syscall(SYS_io_uring_enter, 0, 1, 0, 0, NULL, 0));
        attempt("io_uring_register", syscall(SYS_io_uring_register, 0, 0, NULL, 0));
        escape_report("uring");
    }
    victim(k, out, frames);
}

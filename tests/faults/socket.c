/* socket.c - tries to open sockets after the takeover (TCP, UDP, UNIX).
 * The seccomp filter makes socket() fail with EPERM: no fault, the code
 * plays on. The results go to the fault log as "socket=R/ERRNO,R/ERRNO,R/ERRNO". */
#include "fault.h"
#include <errno.h>
#include <sys/socket.h>

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now() && fault_calls == FAULT_AFTER + 1) {
        int domain[3] = {AF_INET, AF_INET, AF_UNIX},
            type[3] = {SOCK_STREAM, SOCK_DGRAM, SOCK_STREAM};
        int r[3], e[3];
        for (int i = 0; i < 3; i++) {
            r[i] = socket(domain[i], type[i], 0);
            e[i] = errno;
            if (r[i] >= 0) close(r[i]);
        }
        char what[128];
        snprintf(what, sizeof what, "socket=%d/%d,%d/%d,%d/%d", r[0], e[0], r[1], e[1], r[2], e[2]);
        fault_mark(what);
    }
    victim(k, out, frames);
}

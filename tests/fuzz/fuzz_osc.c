/*
 * fuzz_osc.c - libFuzzer harness for OSC: every input is one UDP payload,
 * handed to kn_osc_dispatch() as kn_osc_handle would (a private, writable
 * copy of the bytes) on a real conductor with a control-surface map loaded
 * (see harness.h), as if sent from 127.0.0.1:<reply port> to a conductor
 * started with --osc-trust-udp (so /kanon/play is handled, not refused).
 *
 * The reply port is a socket this harness owns (nothing else receives the
 * replies). After each input it drains it. Oracle, besides
 * ASan/UBSan/LSan: everything the conductor sent there is a well-formed
 * OSC message, and every /kanon/error carries one non-empty string.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <lo/lo.h>
#include <lo/lo_lowlevel.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in from;
static int reply_sock = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fz_setup();
    reply_sock = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    from = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof from;
    int big = 4 << 20;
    setsockopt(reply_sock, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (reply_sock < 0 || bind(reply_sock, (struct sockaddr *)&from, sizeof from) ||
        getsockname(reply_sock, (struct sockaddr *)&from, &l))
        fz_fail("fuzz_osc: cannot bind the reply socket: %s", strerror(errno));
    return 0;
}

static void hex(const uint8_t *p, size_t n, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 3 < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%02x", p[i]);
    out[k] = 0;
}

static void check_replies(const uint8_t *data, size_t size) {
    static char buf[65536];
    for (;;) {
        ssize_t n = recv(reply_sock, buf, sizeof buf, 0);
        if (n < 0) return;
        const char *why = NULL;
        int res = 0;
        lo_message m = lo_message_deserialise(buf, (size_t)n, &res);
        if (!m) {
            why = "the conductor sent a malformed OSC message";
        } else if (!strcmp(buf, "/kanon/error")) {
            const char *types = lo_message_get_types(m);
            lo_arg **argv = lo_message_get_argv(m);
            if (!types || strcmp(types, "s"))
                why = "/kanon/error without exactly one string";
            else if (!(&argv[0]->s)[0])
                why = "/kanon/error with an empty message";
        }
        if (m) lo_message_free(m);
        if (why) {
            char in[1024], out[1024];
            hex(data, size, in, sizeof in);
            hex((const uint8_t *)buf, (size_t)n, out, sizeof out);
            fz_fail("fuzz_osc: %s\n  input (%zu bytes): %s\n  reply (%zd bytes): %s", why, size, in,
                    n, out);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* kn_osc_handle dispatches from its own writable 64 KiB buffer (liblo
     * may write to it). liblo 0.31 reads up to 8 bytes past a bundle whose
     * last element has length 0 (strcmp(pos, "#bundle") at the end): the
     * real buffer absorbs that, so the copy has the same (zeroed) slack
     * instead of ending at a page boundary now and then. */
    char *copy = calloc(1, size + 8);
    if (size) memcpy(copy, data, size);
    kn_osc_dispatch(copy, size, &from);
    free(copy);
    check_replies(data, size);
    fz_between();
    return 0;
}

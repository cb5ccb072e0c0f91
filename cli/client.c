/*
 * client.c - one request, one reply, over nng REQ/REP on the conductor's
 * ipc socket. A missing socket or refused connection means no conductor:
 * say so and how to start one (exit code 2).
 *
 * Every request carries "req", an id unique to it: nng's REQ socket
 * resends a request after a reconnect, and the conductor answers a repeated
 * id from its cache instead of acting twice (a `play` must not start two
 * cartridges). The ids are 128 random bits read once from /dev/urandom plus
 * a per-process counter, so no two requests share one, and polling loops
 * (which must see fresh answers) get a new id on every poll.
 */
#include "cli.h"
#include "segment.h"

#include <fcntl.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char kn_cli_instance[32] = "default";

/* A fresh request id: 32 hex digits. */
static void next_req_id(char out[33]) {
    static uint64_t hi, lo;
    static int seeded;
    if (!seeded) {
        uint64_t r[2] = {0, 0};
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, r, sizeof r) != (ssize_t)sizeof r) {
            /* No urandom (a chroot?): time and pid still separate processes. */
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            r[0] = (uint64_t)t.tv_sec * 1000000007u ^ (uint64_t)getpid() << 32;
            r[1] = (uint64_t)t.tv_nsec * 0x9e3779b97f4a7c15u ^ (uint64_t)(uintptr_t)&t;
        }
        if (fd >= 0) close(fd);
        hi = r[0], lo = r[1], seeded = 1;
    }
    if (++lo == 0) hi++;
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)hi, (unsigned long long)lo);
}

static cJSON *request(cJSON *req, int timeout_ms, int quiet) {
    char path[KN_PATH_MAX], url[KN_PATH_MAX + 8];
    if (kn_runtime_path(kn_cli_instance, "sock", path)) {
        fprintf(stderr,
                "kanon: error: cannot use the runtime directory (check $XDG_RUNTIME_DIR)\n");
        cJSON_Delete(req);
        return NULL;
    }
    snprintf(url, sizeof url, "ipc://%s", path);
    char id[33];
    next_req_id(id);
    cJSON_DeleteItemFromObjectCaseSensitive(req, "req");
    cJSON_AddStringToObject(req, "req", id);
    char *text = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    nng_socket s;
    int rc = nng_req0_open(&s);
    if (!rc) rc = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
    if (!rc) rc = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
    if (!rc) rc = nng_dial(s, url, NULL, 0); /* synchronous: fails at once if nobody listens */
    char *buf = NULL;
    size_t len = 0;
    if (!rc) rc = nng_send(s, text, strlen(text), 0);
    if (!rc) rc = nng_recv(s, &buf, &len, NNG_FLAG_ALLOC);
    free(text);
    cJSON *reply = NULL;
    if (!rc) {
        reply = cJSON_ParseWithLength(buf, len);
        nng_free(buf, len);
    }
    nng_close(s);
    if (!reply && !quiet) {
        if (rc == NNG_ECONNREFUSED || rc == NNG_ENOENT)
            fprintf(stderr,
                    "kanon: no conductor is running for instance '%s'; start one with `kanon up`\n",
                    kn_cli_instance);
        else
            fprintf(stderr, "kanon: the conductor (instance '%s') did not answer: %s\n",
                    kn_cli_instance, rc ? nng_strerror(rc) : "malformed reply");
    }
    return reply;
}

cJSON *kn_request(cJSON *req) {
    return request(req, 10000, 0);
}
cJSON *kn_request_quiet(cJSON *req, int timeout_ms) {
    return request(req, timeout_ms, 1);
}

cJSON *kn_cmd(const char *cmd) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "cmd", cmd);
    return o;
}

const char *kn_jstr(const cJSON *o, const char *key) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s ? s : "";
}

double kn_jnum(const cJSON *o, const char *key) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

int kn_reply_status(cJSON *reply, const char *what) {
    if (!reply) return KN_EXIT_NOCONDUCTOR;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) return KN_EXIT_OK;
    fprintf(stderr, "kanon %s: error: %s\n", what, kn_jstr(reply, "error"));
    return KN_EXIT_ERR;
}

int kn_request_status(cJSON *req, const char *what) {
    cJSON *reply = kn_request(req);
    int st = kn_reply_status(reply, what);
    cJSON_Delete(reply);
    return st;
}

const char *kn_bindir(void) {
    static char dir[4096];
    if (!dir[0]) {
        ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
        dir[n > 0 ? n : 0] = 0;
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
    }
    return dir;
}

void kn_print_json(const cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    if (s) puts(s);
    free(s);
    fflush(stdout);
}

int kn_has_flag(int argc, char **argv, const char *flag) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], flag)) return 1;
    return 0;
}

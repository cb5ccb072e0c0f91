/*
 * client.c - one request, one reply, over nng REQ/REP on the conductor's
 * ipc socket. A missing socket or refused connection means no conductor:
 * say so and how to start one (exit code 2).
 */
#include "cli.h"
#include "segment.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char kn_cli_instance[32] = "default";

static cJSON *request(cJSON *req, int timeout_ms, int quiet) {
    char path[KN_PATH_MAX], url[KN_PATH_MAX + 8];
    if (kn_runtime_path(kn_cli_instance, "sock", path)) {
        fprintf(stderr, "kanon: error: cannot use the runtime directory (check $XDG_RUNTIME_DIR)\n");
        cJSON_Delete(req);
        return NULL;
    }
    snprintf(url, sizeof url, "ipc://%s", path);
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

cJSON *kn_request(cJSON *req) { return request(req, 10000, 0); }
cJSON *kn_request_quiet(cJSON *req, int timeout_ms) { return request(req, timeout_ms, 1); }

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

int kn_has_flag(int argc, char **argv, const char *flag) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], flag)) return 1;
    return 0;
}

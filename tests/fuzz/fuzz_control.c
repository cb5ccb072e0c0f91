/*
 * fuzz_control.c - libFuzzer harness for the control protocol: every input
 * is one request body, handed to kn_control_dispatch() exactly as the nng
 * socket would (bytes + length, not NUL-terminated) on a real conductor
 * (see harness.h).
 *
 * Oracle, besides ASan/UBSan/LSan: the reply is non-NULL, is JSON, is an
 * object with a boolean "ok", and a refusal ("ok": false) carries a
 * non-empty "error" string.
 *
 * FZ_VERBOSE=1 prints every request and its reply (to replay a crash).
 *
 * Not dispatched (return -1: not added to the corpus): "record_start"
 * (writes a WAV at any absolute path, so a fuzzer could truncate a real
 * file) and "down" (asks the conductor to quit).
 */
#include "harness.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int verbose; /* FZ_VERBOSE=1: print each request and reply */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *v = getenv("FZ_VERBOSE");
    verbose = v && *v == '1';
    fz_setup();
    fz_keep_recording = 1;
    return 0;
}

static void check_reply(const uint8_t *data, size_t size, const char *reply) {
    if (!reply) fz_fail("fuzz_control: kn_control_dispatch returned NULL");
    cJSON *r = cJSON_Parse(reply);
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(r, "ok");
    const char *why = NULL;
    if (!cJSON_IsObject(r))
        why = "reply is not a JSON object";
    else if (!cJSON_IsBool(ok))
        why = "reply has no boolean \"ok\"";
    else if (cJSON_IsFalse(ok)) {
        const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "error"));
        if (!e || !*e) why = "refusal without a non-empty \"error\" string";
    }
    cJSON_Delete(r);
    if (why)
        fz_fail("fuzz_control: %s\n  request (%zu bytes): %.*s\n  reply: %s", why, size,
                (int)(size > 2000 ? 2000 : size), (const char *)data, reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cJSON *req = cJSON_ParseWithLength((const char *)data, size);
    const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "cmd"));
    int skip = cmd && (!strcmp(cmd, "record_start") || !strcmp(cmd, "down"));
    int map = cmd && !strcmp(cmd, "map_load");
    cJSON_Delete(req);
    if (skip) return -1;

    char *reply = kn_control_dispatch(&fz_c, (const char *)data, size);
    check_reply(data, size, reply);
    if (verbose)
        fz_say("> %.*s\n< %.500s", (int)(size > 500 ? 500 : size), (const char *)data, reply);
    free(reply);
    if (map) fz_reload_map(); /* the next input sees the usual surface */
    fz_between();
    return 0;
}

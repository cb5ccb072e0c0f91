/*
 * check.c - the check command: compile a file, run nothing, and say what
 * a deck would say of it. kanon-cartridge's `check` mode and `kanon check`
 * (cli/check.c, in its own process, with stand-ins for the addresses) both
 * come here, so their words are the same. With json, one object on
 * stdout: {ok,file,compile_ms,setup}, or on an error {ok:false,file,
 * diagnostics:[{file,line,column,kind,message}],text}.
 */
#include "front.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line of compiler output, "PATH:LINE[:COL]: KIND: MESSAGE", as an
 * object; NULL for a line of another shape (e.g. "In file included"). */
static cJSON *diagnostic(const char *line, size_t len) {
    static const char *kinds[] = {"error", "warning", "note"};
    char buf[1024];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        char tag[16];
        snprintf(tag, sizeof tag, ": %s: ", kinds[k]);
        char *at = strstr(buf, tag);
        if (!at) continue;
        *at = 0; /* buf is now PATH:LINE[:COL]; the numbers are read from the end */
        long nums[2] = {0, 0};
        int n = 0;
        char *colon;
        while (n < 2 && (colon = strrchr(buf, ':')) && colon[1] >= '0' && colon[1] <= '9' &&
               colon[1 + strspn(colon + 1, "0123456789")] == 0) {
            nums[n++] = strtol(colon + 1, NULL, 10);
            *colon = 0;
        }
        if (n == 0) return NULL;
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "file", buf);
        cJSON_AddNumberToObject(d, "line", (double)nums[n - 1]);
        if (n == 2) cJSON_AddNumberToObject(d, "column", (double)nums[0]);
        cJSON_AddStringToObject(d, "kind", kinds[k]);
        cJSON_AddStringToObject(d, "message", at + strlen(tag));
        return d;
    }
    return NULL;
}

/* Prints o (and frees it) as the one line of --json output. */
void kn_json_line(cJSON *o) {
    char *text = cJSON_PrintUnformatted(o);
    if (text) puts(text);
    free(text);
    cJSON_Delete(o);
}

char *kn_compile_error_text(const char *display, const char *err, int json) {
    if (!json) {
        size_t n = strlen(err) + 2;
        char *t = malloc(n);
        if (t) snprintf(t, n, "%s\n", err);
        return t;
    }
    cJSON *r = cJSON_CreateObject(), *list = cJSON_CreateArray();
    cJSON_AddBoolToObject(r, "ok", 0);
    cJSON_AddStringToObject(r, "file", display);
    for (const char *line = err; *line;) {
        size_t len = strcspn(line, "\n");
        cJSON *d = diagnostic(line, len);
        if (d) cJSON_AddItemToArray(list, d);
        line += len + (line[len] == '\n');
    }
    cJSON_AddItemToObject(r, "diagnostics", list);
    cJSON_AddStringToObject(r, "text", err);
    char *text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    size_t n = text ? strlen(text) : 0;
    char *t = text ? realloc(text, n + 2) : NULL;
    if (t) t[n] = '\n', t[n + 1] = 0;
    return t ? t : text;
}

/* Made now: when the limit strikes, a signal handler only writes it. */
void kn_arm_compile_alarm(const char *display, double seconds, int json) {
    char m[2][1024], *t[2];
    for (int k = 0; k < 2; k++) {
        kn_compile_limit_text(m[k], sizeof m[k], display, seconds, k, "--compile-timeout SECONDS");
        t[k] = kn_compile_error_text(display, m[k], json);
    }
    fflush(NULL); /* nothing of ours may be half-buffered when the handler writes */
    kn_sandbox_compile_alarm(json ? 1 : 2, t[0] ? t[0] : "", t[1] ? t[1] : "");
    free(t[0]);
    free(t[1]);
}

int kn_report_compile_error(const char *display, const char *err, int json) {
    char *t = kn_compile_error_text(display, err, json);
    if (t) fputs(t, json ? stdout : stderr);
    free(t);
    return 1;
}

int kn_check(const kn_check_opts *o, kn_compile_fn compile) {
    kn_program prog;
    char err[8192];
    kn_arm_compile_alarm(o->display, o->compile_seconds, o->json);
    kn_sandbox_compile_limits(o->compile_seconds, o->mem_bytes);
    if (compile(&prog, o->file, o->display, o->include_dir, err, sizeof err))
        return kn_report_compile_error(o->display, err, o->json);
    kn_sandbox_deadline(0);
    if (o->json) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddBoolToObject(r, "ok", 1);
        cJSON_AddStringToObject(r, "file", o->display);
        cJSON_AddNumberToObject(r, "compile_ms", prog.compile_ms);
        cJSON_AddBoolToObject(r, "setup", prog.setup != NULL);
        kn_json_line(r);
    } else {
        printf("%s: ok (compiled in %.2f ms%s)\n", o->display, prog.compile_ms,
               prog.setup ? "" : ", no setup()");
    }
    kn_program_free(&prog);
    return 0;
}

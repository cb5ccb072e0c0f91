/* escape_files.c - reaches for the session's private files and for the
 * machine: the conductor's control socket (deleting it would cut the user
 * off from the conductor), the runtime directory, this session's history
 * (where reverts are compiled from), raw devices (sound card, disks,
 * memory) and /sys. Expected: none of it is there for the deck's code
 * (private namespace), and /dev/null still works. */
#include "escape.h"
#include <dirent.h>

static long entries(const char *dir) {
    DIR *d = opendir(dir);
    long n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    if (fault_now() && fault_calls == FAULT_AFTER + 1) {
        char run[512], path[1024];
        const char *x = getenv("XDG_RUNTIME_DIR"), *inst = getenv("KANON_INSTANCE");
        if (x && *x)
            snprintf(run, sizeof run, "%s/kanon", x);
        else
            snprintf(run, sizeof run, "/tmp/kanon-%u", (unsigned)getuid());
        snprintf(path, sizeof path, "%s/%s.sock", run, inst ? inst : "default");
        attempt("unlink_socket", unlink(path));
        reached("runtime_dir", entries(run));
        /* this session's history: <state>/kanon/history/<instance>-<stamp> */
        const char *st = getenv("XDG_STATE_HOME");
        snprintf(path, sizeof path, "%s/kanon/history", st ? st : "/nonexistent");
        DIR *h = opendir(path);
        long files = 0;
        for (struct dirent *e; h && (e = readdir(h));) {
            if (!inst || strncmp(e->d_name, inst, strlen(inst))) continue;
            char sub[1400];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            files += entries(sub);
        }
        if (h) closedir(h);
        reached("history", files);
        attempt("dev_snd", open("/dev/snd/controlC0", O_RDWR));
        attempt("dev_mem", open("/dev/mem", O_RDONLY));
        reached("dev_block", entries("/dev/disk") + entries("/dev/block"));
        attempt("sys_power", open("/sys/power/state", O_WRONLY));
        int null = open("/dev/null", O_WRONLY);
        if (null < 0)
            attempt("dev_null_missing", 0); /* /dev/null must work: a success fails */
        else
            close(null);
        escape_report("files");
    }
    victim(k, out, frames);
}

/*
 * watch.c - notice saves of the files that decks play.
 *
 * inotify watches the *directory* of each file, not the file: editors that
 * save by writing a temporary file and renaming it over the original
 * (vim, emacs, VS Code, sed -i) replace the inode, which a file watch would
 * lose. A save is complete when its writer closes the file (IN_CLOSE_WRITE:
 * in place, truncate-and-write, several chunks, cp) or when a file is
 * renamed onto the name (IN_MOVED_TO). Each such event marks the deck dirty
 * with a short debounce; kn_decks_tick then reads the file once, so a burst
 * of writes compiles once and the newest content wins.
 */
#include "conductor.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

static int ifd = -1;

int kn_watch_open(void) {
    ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    return ifd < 0 ? -errno : 0;
}

int kn_watch_fd(void) {
    return ifd;
}

void kn_watch_close(void) {
    if (ifd >= 0) close(ifd);
    ifd = -1;
}

int kn_watch_deck(kn_conductor *c, kn_deck *d) {
    (void)c;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", d->path);
    char *slash = strrchr(dir, '/');
    if (!slash) return -EINVAL;
    snprintf(d->watch_name, sizeof d->watch_name, "%s", slash + 1);
    *slash = 0;
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
    /* Same directory, same wd: inotify merges them. */
    int wd = inotify_add_watch(ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM);
    if (wd < 0) return -errno;
    d->watch_wd = wd;
    return 0;
}

void kn_unwatch_deck(kn_conductor *c, kn_deck *d) {
    int wd = d->watch_wd;
    d->watch_wd = -1;
    if (wd < 0) return;
    for (int i = 0; i < KN_MAX_DECKS; i++)
        if (c->deck[i].used && c->deck[i].watch_wd == wd) return; /* still needed */
    inotify_rm_watch(ifd, wd);
}

static void on_event(kn_conductor *c, const struct inotify_event *e) {
    if (!e->len) return;
    for (int i = 0; i < KN_MAX_DECKS; i++) {
        kn_deck *d = &c->deck[i];
        if (!d->used || !d->name[0] || d->watch_wd != e->wd || strcmp(d->watch_name, e->name))
            continue;
        if (e->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
            if (!d->dirty_ns) d->saved_rt_ns = kn_real_ns();
            d->dirty_ns = kn_mono_ns() + c->debounce_ns;
        } else {
            kn_deck_event(c, d, "note", "%s was deleted or renamed; the deck plays on", d->display);
        }
    }
}

void kn_watch_handle(kn_conductor *c) {
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(ifd, buf, sizeof buf);
        if (n <= 0) return;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            on_event(c, e);
            p += sizeof *e + e->len;
        }
    }
}

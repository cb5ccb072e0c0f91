/*
 * rtkit.c - real-time scheduling through rtkit, where the process may not
 * take it itself.
 *
 * A user without RLIMIT_RTPRIO (a desktop session) cannot make a thread
 * SCHED_FIFO; rtkit, the daemon that PulseAudio and PipeWire use, can do it
 * for them over the system D-Bus (org.freedesktop.RealtimeKit1,
 * MakeThreadRealtimeWithPID) if the process caps its RLIMIT_RTTIME, which
 * kanon's do (the conductor here, the cartridges before their code runs).
 * Asked from the control thread only, never the audio thread: a D-Bus call
 * blocks (for at most CALL_TIMEOUT_US). Where there is no system bus or no
 * rtkit, it is asked once, and kanon plays at normal priority. sd-bus
 * (libsystemd) speaks the protocol.
 */
#include "conductor.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-bus.h>

#define CALL_TIMEOUT_US 200000
#define RTTIME_US       200000 /* rtkit's default ceiling for RLIMIT_RTTIME */

static int absent; /* no bus or no rtkit: not asked again */

int kn_rtkit_realtime(pid_t pid, pid_t tid, int prio, char *why, size_t n) {
    if (absent) {
        snprintf(why, n, "rtkit is not available");
        return -ENOENT;
    }
    /* rtkit refuses a process whose real-time CPU time is not capped */
    struct rlimit rt;
    if (pid == getpid() && (getrlimit(RLIMIT_RTTIME, &rt) || rt.rlim_max > RTTIME_US)) {
        rt.rlim_cur = rt.rlim_max = RTTIME_US;
        setrlimit(RLIMIT_RTTIME, &rt);
    }
    sd_bus *bus = NULL;
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    int rc = sd_bus_open_system(&bus);
    if (rc < 0) {
        absent = 1;
        snprintf(why, n, "no system D-Bus (%s)", strerror(-rc));
        return rc;
    }
    sd_bus_set_method_call_timeout(bus, CALL_TIMEOUT_US);
    rc = sd_bus_call_method(bus, "org.freedesktop.RealtimeKit1", "/org/freedesktop/RealtimeKit1",
                            "org.freedesktop.RealtimeKit1", "MakeThreadRealtimeWithPID", &e, &reply,
                            "ttu", (uint64_t)pid, (uint64_t)tid, (uint32_t)prio);
    if (rc < 0) {
        if (sd_bus_error_has_name(&e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
            sd_bus_error_has_name(&e, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
            absent = 1;
        snprintf(why, n, "rtkit refused: %s", e.message ? e.message : strerror(-rc));
    }
    sd_bus_error_free(&e);
    sd_bus_message_unref(reply);
    sd_bus_flush_close_unref(bus);
    return rc < 0 ? rc : 0;
}

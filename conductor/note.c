/*
 * note.c - notes without MIDI hardware: `kanon note DECK PITCH [VEL]
 * [--dur BEATS] [--at BEAT | --quant N]` and OSC /kanon/DECK/note iif.
 *
 * A note is a NOTE_ON timed event (timeline.h) on the frame of its beat
 * (--at: exactly the frame kn_tempo_beat_frame gives; --quant: the next
 * grid line the deck has not rendered; neither: the first frame the deck
 * has not rendered), and, with a duration, a NOTE_OFF on the frame of
 * beat + dur. Velocity 0 is a note off. Both events go in or neither:
 * a note whose off found the queue full would hang.
 */
#include "conductor.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

#define NOTE_DUR_MAX 1e6 /* beats */

int kn_cmd_note(kn_conductor *c, const char *deck, const kn_note *nt, uint64_t *frame, int *late,
                char *err, size_t n) {
    kn_deck *d = deck ? kn_deck_find(c, deck) : NULL;
    if (!d) {
        snprintf(err, n, "no deck named '%.40s' (see `kanon status`)", deck ? deck : "");
        return -ENOENT;
    }
    if (!(nt->pitch >= 0 && nt->pitch <= 127) || nt->pitch != floor(nt->pitch)) {
        snprintf(err, n,
                 "the pitch must be a MIDI note number, a whole number 0..127 (60 is "
                 "middle C)");
        return -EINVAL;
    }
    if (!(nt->velocity >= 0 && nt->velocity <= 127) || nt->velocity != floor(nt->velocity)) {
        snprintf(err, n, "the velocity must be a whole number 0..127 (0 is a note off)");
        return -EINVAL;
    }
    if (!(nt->dur >= 0 && nt->dur <= NOTE_DUR_MAX)) {
        snprintf(err, n, "--dur must be a number of beats, more than 0 and at most %g",
                 NOTE_DUR_MAX);
        return -EINVAL;
    }
    if (nt->dur > 0 && nt->velocity == 0) {
        snprintf(err, n, "a note off (velocity 0) takes no --dur");
        return -EINVAL;
    }
    if (nt->at_beat >= 0 && nt->quant > 0) {
        snprintf(err, n, "give --at BEAT or --quant N, not both");
        return -EINVAL;
    }
    int rc = nt->frame ? (*frame = nt->frame, 0)
                       : kn_cmd_when(c, deck, nt->at_beat, nt->quant, frame, err, n);
    if (rc) return rc;
    int two = nt->dur > 0;
    *late = *frame < kn_timeline_frontier(c, d); /* rendered already: it plays at once */
    if (kn_evq_count(&d->params->evq) + 1u + (unsigned)two > KN_EVQ_CAP) {
        snprintf(err, n, "deck %s has %d timed events waiting; try again once some have played",
                 d->name, KN_EVQ_CAP);
        return -EAGAIN;
    }
    kn_ev_slot e = {.frame = *frame,
                    .type = nt->velocity > 0 ? KN_EVQ_NOTE_ON : KN_EVQ_NOTE_OFF,
                    .note = (int32_t)nt->pitch,
                    .velocity = (int32_t)nt->velocity,
                    .channel = nt->channel};
    if ((rc = kn_timeline_push(c, d, &e, err, n)) || !two) return rc;
    e.type = KN_EVQ_NOTE_OFF;
    e.velocity = 0;
    double b0 = nt->at_beat >= 0 ? nt->at_beat : kn_timeline_beat(c, *frame);
    e.frame = kn_tempo_beat_frame(&c->tempo, c->rate, b0 + nt->dur);
    return kn_timeline_push(c, d, &e, err, n);
}

/* silent.c - outputs nothing (zeros). The fault tests start the victim deck
 * on it, pan the deck, and only then save good.c into the file, so the
 * victim is never heard on the sine deck's side of the recording. */
#include <kanon.h>

void process(kn_ctx *k, float **out, int frames) {
    (void)k, (void)out, (void)frames;
}

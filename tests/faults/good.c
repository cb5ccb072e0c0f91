/* good.c - the victim deck's healthy version: the victim signal (fault.h),
 * nothing else. The fault tests play it first, for more than 1 s, so the
 * deck has a good version to revert to. */
#define VICTIM_GOOD
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    victim(k, out, frames);
}

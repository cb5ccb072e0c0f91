/* syntax.c - does not compile (a missing semicolon and an undeclared name).
 * Expected: refused before takeover with the compiler's message
 * ("victim.c:N: error: ..."), the old version plays on. */
#include "fault.h"

void setup(kn_ctx *k) {
    victim_setup(k)
}

void process(kn_ctx *k, float **out, int frames) {
    victim(k, out, frames);
    out[0][0] += undeclared_name;
}

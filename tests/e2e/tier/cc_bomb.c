/* cc_bomb.c - a sine whose cc build is a compiler bomb (tests/e2e/test_tier.sh).
 * tcc never sees the bomb (__TINYC__): the deck plays its tcc build. For cc,
 * C30 expands to 2^30 tokens: the C compiler runs into its limits (address
 * space or CPU time) and is stopped, the tcc build playing on. */
#include <kanon.h>
#include <math.h>

#ifndef __TINYC__
#define C0  1
#define C1  C0 + C0
#define C2  C1 + C1
#define C3  C2 + C2
#define C4  C3 + C3
#define C5  C4 + C4
#define C6  C5 + C5
#define C7  C6 + C6
#define C8  C7 + C7
#define C9  C8 + C8
#define C10 C9 + C9
#define C11 C10 + C10
#define C12 C11 + C11
#define C13 C12 + C12
#define C14 C13 + C13
#define C15 C14 + C14
#define C16 C15 + C15
#define C17 C16 + C16
#define C18 C17 + C17
#define C19 C18 + C18
#define C20 C19 + C19
#define C21 C20 + C20
#define C22 C21 + C21
#define C23 C22 + C22
#define C24 C23 + C23
#define C25 C24 + C24
#define C26 C25 + C25
#define C27 C26 + C26
#define C28 C27 + C27
#define C29 C28 + C28
#define C30 C29 + C29
int kn_bomb = C30;
#endif

void process(kn_ctx *k, float **out, int frames) {
    double *ph = kn_state(k, "phase", sizeof *ph);
    for (int i = 0; i < frames; i++) {
        float s = 0.2f * sinf((float)(2 * M_PI * *ph));
        *ph += 330.0 / k->rate;
        if (*ph >= 1) *ph -= 1;
        for (int c = 0; c < k->channels; c++) out[c][i] = s;
    }
}

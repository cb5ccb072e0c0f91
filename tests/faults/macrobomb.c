/* macrobomb.c - a macro bomb: B22 expands to 2^22 tokens (B0+B0+...), and
 * 64 globals use it, so the compiler has 2^28 tokens to read: minutes of
 * work (each line ~2.7 s and ~280 MB here), all of it in the preprocessor
 * and parser, where nothing but a deadline can stop it.
 * Expected: the cartridge's own 10 s compile deadline (kanon up
 * --compile-timeout) ends it, in words: "victim.c: error: compiling took
 * longer than its time limit of 10 s (the C compiler was still at work);
 * raise the limit with `kanon up --compile-timeout SECONDS`"; the old
 * version plays on. */
#include "fault.h"

#define B0  1
#define B1  B0 + B0
#define B2  B1 + B1
#define B3  B2 + B2
#define B4  B3 + B3
#define B5  B4 + B4
#define B6  B5 + B5
#define B7  B6 + B6
#define B8  B7 + B7
#define B9  B8 + B8
#define B10 B9 + B9
#define B11 B10 + B10
#define B12 B11 + B11
#define B13 B12 + B12
#define B14 B13 + B13
#define B15 B14 + B14
#define B16 B15 + B15
#define B17 B16 + B16
#define B18 B17 + B17
#define B19 B18 + B18
#define B20 B19 + B19
#define B21 B20 + B20
#define B22 B21 + B21

int bomb00 = B22;
int bomb01 = B22;
int bomb02 = B22;
int bomb03 = B22;
int bomb04 = B22;
int bomb05 = B22;
int bomb06 = B22;
int bomb07 = B22;
int bomb08 = B22;
int bomb09 = B22;
int bomb10 = B22;
int bomb11 = B22;
int bomb12 = B22;
int bomb13 = B22;
int bomb14 = B22;
int bomb15 = B22;
int bomb16 = B22;
int bomb17 = B22;
int bomb18 = B22;
int bomb19 = B22;
int bomb20 = B22;
int bomb21 = B22;
int bomb22 = B22;
int bomb23 = B22;
int bomb24 = B22;
int bomb25 = B22;
int bomb26 = B22;
int bomb27 = B22;
int bomb28 = B22;
int bomb29 = B22;
int bomb30 = B22;
int bomb31 = B22;
int bomb32 = B22;
int bomb33 = B22;
int bomb34 = B22;
int bomb35 = B22;
int bomb36 = B22;
int bomb37 = B22;
int bomb38 = B22;
int bomb39 = B22;
int bomb40 = B22;
int bomb41 = B22;
int bomb42 = B22;
int bomb43 = B22;
int bomb44 = B22;
int bomb45 = B22;
int bomb46 = B22;
int bomb47 = B22;
int bomb48 = B22;
int bomb49 = B22;
int bomb50 = B22;
int bomb51 = B22;
int bomb52 = B22;
int bomb53 = B22;
int bomb54 = B22;
int bomb55 = B22;
int bomb56 = B22;
int bomb57 = B22;
int bomb58 = B22;
int bomb59 = B22;
int bomb60 = B22;
int bomb61 = B22;
int bomb62 = B22;
int bomb63 = B22;

void setup(kn_ctx *k) {
    victim_setup(k);
}

void process(kn_ctx *k, float **out, int frames) {
    victim(k, out, frames);
}

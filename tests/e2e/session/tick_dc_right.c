/* tick_dc_right.c - tick.c on the right channel, over a constant 0.2. */
#define TICK_CH 1
#define TICK_DC 0.2f
#include "tick.c"

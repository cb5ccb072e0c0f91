/* tick_right.c - tick.c on the right channel. */
#define TICK_CH 1
#include "tick.c"

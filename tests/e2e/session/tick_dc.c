/* tick_dc.c - tick.c with a constant 0.1 under the ticks: a version that
 * shows where it took over. */
#define TICK_DC 0.1f
#include "tick.c"

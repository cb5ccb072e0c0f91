/* level_right.c - level.c with the target on the right, the left silent. */
#define LEVEL_CH    1
#define LEVEL_OTHER 0.0f
#include "level.c"

/* level2.c - level.c's second version: the other channel at 0.4. */
#define LEVEL_OTHER 0.4f
#include "level.c"

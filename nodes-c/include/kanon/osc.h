/*
 * kanon/osc.h - old name of kanon/oscillator.h (renamed so that "osc"
 * means OSC, the control protocol of conductor/osc.c, everywhere in
 * kanon). Kept so DSP files that include it still compile.
 */
#include "oscillator.h"

/*
 * priority.h - who outranks whom on the CPU (conductor and cartridges agree).
 *
 * The conductor's audio thread must outrank every cartridge: a cartridge
 * that outranks the mixer can starve it, and then every deck goes silent
 * (device underflows) while each cartridge looks healthy. So:
 *
 *   conductor audio thread   SCHED_FIFO KN_AUDIO_RT_PRIO, set by the thread
 *                            itself on its first callback (JACK runs it at
 *                            JACK's own client priority instead)
 *   conductor, other threads SCHED_FIFO KN_CONDUCTOR_RT_PRIO, set before any
 *                            thread is created (they inherit it), with
 *                            SCHED_RESET_ON_FORK: the cartridges it starts
 *                            begin at normal priority
 *   cartridge render loop    SCHED_FIFO KN_CARTRIDGE_RT_PRIO (under the
 *                            cartridge's own RLIMIT_RTTIME), set by the
 *                            conductor when the cartridge takes over
 *                            (kn_proc_priority: a cartridge never holds
 *                            the right itself), and only while its audio
 *                            thread has a priority above it (not without
 *                            rights, or with KANON_AUDIO_RT=0) and the
 *                            cartridges do not overload the machine
 *
 * KN_AUDIO_RT_PRIO is what JACK gives its clients' process threads (jackd
 * -R runs at 10, its clients at 5), so on any backend the mixer runs like
 * a JACK client: above the cartridges, below JACK's server and the
 * kernel's IRQ threads (50).
 */
#ifndef KANON_PRIORITY_H
#define KANON_PRIORITY_H

#define KN_AUDIO_RT_PRIO     5
#define KN_CONDUCTOR_RT_PRIO 2 /* the conductor's other threads (control, nng, writer) */
#define KN_CARTRIDGE_RT_PRIO 1

#endif

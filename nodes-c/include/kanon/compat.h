/*
 * kanon/compat.h - what the old spellings of nodes-c need (docs/nodes.md,
 * "Old names"). An init that used not to take the rate is a macro that
 * counts its arguments: kn_delay_init(s, rate) calls the function,
 * kn_delay_init(s) (the old form) calls it with rate 0.
 */
#ifndef KANON_NODES_COMPAT_H
#define KANON_NODES_COMPAT_H

/* The argument after the first 2 (or 3): with the names passed after
 * __VA_ARGS__, the new form's name when the call has all its arguments,
 * the old form's when it has one fewer. */
#define KN_PICK2_(a, b, name, ...)    name
#define KN_PICK3_(a, b, c, name, ...) name

#endif

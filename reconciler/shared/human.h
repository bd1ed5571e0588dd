/*
 * human: how the readers' text forms show times and states to a person --
 * durations with units ("2m05s"), and colour only where it helps: on a
 * terminal, unless NO_COLOR is set (https://no-color.org) or TERM is "dumb".
 */
#ifndef DEPLOYEX_HUMAN_H
#define DEPLOYEX_HUMAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/util.h"

/* "850ms", "45s", "2m05s", "3h07m", "2d04h" into out (at least 16 bytes). */
void human_duration(uint64_t ms, char *out, size_t n);

enum human_colour { HUMAN_PLAIN, HUMAN_GREEN, HUMAN_YELLOW, HUMAN_RED, HUMAN_BOLD, HUMAN_DIM };

/* Whether text written to f should be coloured (decided once per call). */
bool human_colour_wanted(FILE *f);

/* Append text to out, wrapped in the colour's escape codes when on. */
void human_paint(struct buf *out, bool on, enum human_colour colour, const char *text);

#endif

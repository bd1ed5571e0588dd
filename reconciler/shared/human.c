/* human: durations and colour for the text forms.  See human.h. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reconciler/shared/human.h"
#include "base/banned.h"

void human_duration(uint64_t ms, char *out, size_t n)
{
        uint64_t s = ms / 1000;

        if (ms < 1000)
                snprintf(out, n, "%" PRIu64 "ms", ms);
        else if (s < 60)
                snprintf(out, n, "%" PRIu64 "s", s);
        else if (s < 3600)
                snprintf(out, n, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
        else if (s < 86400)
                snprintf(out, n, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
        else
                snprintf(out, n, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
}

bool human_colour_wanted(FILE *f)
{
        const char *no = getenv("NO_COLOR"), *term = getenv("TERM");

        if (no && no[0])
                return false;
        if (term && strcmp(term, "dumb") == 0)
                return false;
        return isatty(fileno(f)) == 1;
}

void human_paint(struct buf *out, bool on, enum human_colour colour, const char *text)
{
        static const char *const codes[] = {
                [HUMAN_PLAIN] = "", [HUMAN_GREEN] = "\033[32m", [HUMAN_YELLOW] = "\033[33m",
                [HUMAN_RED] = "\033[31m", [HUMAN_BOLD] = "\033[1m", [HUMAN_DIM] = "\033[2m",
        };

        if (!on || colour == HUMAN_PLAIN) {
                buf_puts(out, text);
                return;
        }
        buf_printf(out, "%s%s\033[0m", codes[colour], text);
}

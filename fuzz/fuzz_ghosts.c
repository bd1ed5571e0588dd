/* ghosts.json (ghosts_parse), and the round trip of an accepted list. */
#include <stdlib.h>

#include "fuzz/fuzz.h"
#include "state/ghosts.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
        struct buf err = BUF_INIT, out = BUF_INIT;
        struct ghost_list l, again;

        if (ghosts_parse((const char *)data, size, "fuzz", &l, &err) == 0) {
                ghosts_to_json(&l, &out);
                if (ghosts_parse(out.data, out.len, "fuzz-again", &again, &err) != 0)
                        abort();
                ghosts_release(&again);
                ghosts_release(&l);
        }
        buf_release(&err);
        buf_release(&out);
        return 0;
}

/* An override file (override_parse), and the round trip of what it accepts. */
#include <stdlib.h>

#include "fuzz/fuzz.h"
#include "state/override.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
        struct buf err = BUF_INIT, out = BUF_INIT;
        struct override o, again;

        if (override_parse((const char *)data, size, "fuzz", &o, &err) == 0) {
                override_to_json(&o, &out);
                /* What deployex writes it must read back. */
                if (override_parse(out.data, out.len, "fuzz-again", &again, &err) != 0)
                        abort();
                override_release(&again);
                override_release(&o);
        }
        buf_release(&err);
        buf_release(&out);
        return 0;
}

/* An instance record (state/{app}/instances/{n}.json), and its round trip. */
#include <stdlib.h>

#include "fuzz/fuzz.h"
#include "state/instance.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
        struct buf err = BUF_INIT, out = BUF_INIT;
        struct instance_record r, again;

        if (instance_record_parse((const char *)data, size, "fuzz", &r, &err) == 0) {
                instance_record_to_json(&r, &out);
                if (instance_record_parse(out.data, out.len, "fuzz-again", &again, &err) != 0)
                        abort();
        }
        buf_release(&err);
        buf_release(&out);
        return 0;
}

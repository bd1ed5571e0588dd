/* The bucket's current.json (release_desc_parse). */
#include "fuzz/fuzz.h"
#include "state/release.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
        struct buf err = BUF_INIT, out = BUF_INIT;
        struct release_desc r;

        if (release_desc_parse((const char *)data, size, "fuzz", &r, &err) == 0) {
                release_desc_to_json(&r, &out);
                release_desc_release(&r);
        }
        buf_release(&err);
        buf_release(&out);
        return 0;
}

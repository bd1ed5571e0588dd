/* journal.json (journal_parse), and the round trip of an accepted step. */
#include <stdlib.h>

#include "fuzz/fuzz.h"
#include "state/journal.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
        struct buf err = BUF_INIT, out = BUF_INIT;
        struct journal j, again;

        if (journal_parse((const char *)data, size, "fuzz", &j, &err) == 0) {
                journal_to_json(&j, &out);
                if (journal_parse(out.data, out.len, "fuzz-again", &again, &err) != 0)
                        abort();
        }
        buf_release(&err);
        buf_release(&out);
        return 0;
}

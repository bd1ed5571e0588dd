/* One history.jsonl line, and the round trip of an accepted event. */
#include <stdlib.h>

#include "fuzz/fuzz.h"
#include "state/history.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
        struct buf out = BUF_INIT;
        struct history_event e, again;

        if (history_parse_event((const char *)data, size, &e) == 0) {
                history_event_to_json(&e, &out);
                if (history_parse_event(out.data, out.len, &again) != 0)
                        abort();
        }
        buf_release(&out);
        return 0;
}

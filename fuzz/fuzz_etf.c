/*
 * A reply from a node: etf_check_depth() first, as beam_rpc() does, then
 * the printer (etf_format) on what it lets through.
 */
#include "fuzz/fuzz.h"
#include "beam/etf.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
        struct buf out = BUF_INIT;
        int index;

        if (size == 0 || size > 1 << 20)
                return 0;
        if (etf_check_depth((const char *)data, (int)size, 0, ETF_REPLY_DEPTH_MAX) == 0) {
                index = data[0] == 131 ? 1 : 0;
                (void)etf_format((const char *)data, &index, "fuzz@host", &out);
        }
        buf_release(&out);
        return 0;
}

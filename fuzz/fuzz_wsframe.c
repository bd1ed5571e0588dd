/* The WebSocket frame parser of the shell (web/wsframe.h): frame after frame, as the shell reads them. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "web/wsframe.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
        unsigned char *p = malloc(size ? size : 1);
        size_t off = 0;

        if (!p)
                return 0;
        memcpy(p, data, size);
        for (;;) {
                struct ws_frame f;
                int r = ws_frame_parse(p + off, size - off, 1024, &f);

                if (r <= 0) {
                        assert(r == 0 || r == -1002 || r == -1009);
                        break;
                }
                assert(f.size <= size - off && f.len <= 1024 && f.payload + f.len == p + off + f.size);
                off += f.size;
        }
        free(p);
        return 0;
}

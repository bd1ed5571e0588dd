/* wsframe: WebSocket client frames (wsframe.h). */
#include <stdint.h>

#include "web/wsframe.h"

int ws_frame_parse(unsigned char *p, size_t have, size_t max, struct ws_frame *ret)
{
        size_t hl = 2;
        uint64_t len;

        if (have < 2)
                return 0;
        if (!(p[1] & 0x80))
                return -1002;
        len = p[1] & 0x7f;
        if (len == 126) {
                if (have < 4)
                        return 0;
                len = (uint64_t)p[2] << 8 | p[3];
                hl = 4;
        } else if (len == 127) {
                if (have < 10)
                        return 0;
                len = 0;
                for (int i = 0; i < 8; i++)
                        len = len << 8 | p[2 + i];
                hl = 10;
        }
        if (len > max)
                return -1009;
        /* len <= max: no overflow below. */
        if (have - hl < 4 || have - hl - 4 < len)
                return 0;
        ret->opcode = p[0] & 0x0f;
        ret->fin = (p[0] & 0x80) != 0;
        ret->payload = p + hl + 4;
        ret->len = (size_t)len;
        ret->size = hl + 4 + (size_t)len;
        for (size_t i = 0; i < ret->len; i++)
                ret->payload[i] ^= p[hl + i % 4];
        return 1;
}

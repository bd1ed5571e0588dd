/*
 * wsframe: the frames a browser sends on a WebSocket (RFC 6455 §5.2), parsed
 * from untrusted bytes; a harness in fuzz/fuzz_wsframe.c.  Internal to web/.
 */
#ifndef DEPLOYEX_WEB_WSFRAME_H
#define DEPLOYEX_WEB_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>

struct ws_frame {
        unsigned opcode;        /* 0x1 text, 0x2 binary, 0x8 close, 0x9 ping, 0xA pong, 0x0 continuation */
        bool fin;
        unsigned char *payload; /* unmasked in place, inside the parsed bytes */
        size_t len;
        size_t size;            /* the whole frame: drop this many bytes before the next */
};

/*
 * The frame at p[0..have): 1 with *ret filled (its payload unmasked in
 * place), 0 when the bytes do not hold a whole frame yet, or minus the close
 * code to end with: -1002 an unmasked frame (a client must mask), -1009 a
 * payload over max.
 */
int ws_frame_parse(unsigned char *p, size_t have, size_t max, struct ws_frame *ret);

#endif

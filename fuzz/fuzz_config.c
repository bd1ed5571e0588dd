/* The configuration file (config_parse: every field, every app). */
#include "fuzz/fuzz.h"
#include "state/config.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
        struct buf err = BUF_INIT;
        struct config c;

        if (config_parse((const char *)data, size, "fuzz", &c, &err) == 0)
                config_release(&c);
        buf_release(&err);
        return 0;
}

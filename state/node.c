#include <string.h>
#include <unistd.h>

#include "state/node.h"
#include "base/banned.h"

void node_short_host(struct buf *out)
{
        char host[256];

        if (gethostname(host, sizeof(host)) < 0)
                str_copy(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        host[strcspn(host, ".")] = '\0';
        buf_puts(out, host[0] ? host : "localhost");
}

void node_name(const char *app, int n, struct buf *out)
{
        buf_reset(out);
        buf_printf(out, "%s-%d@", app, n);
        node_short_host(out);
}

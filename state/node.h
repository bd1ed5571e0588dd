/*
 * node: the Erlang node name of an instance, "APP-N@SHORTHOST" (DESIGN §5),
 * the host part being this machine's hostname up to its first dot.
 */
#ifndef DEPLOYEX_NODE_H
#define DEPLOYEX_NODE_H

#include "base/util.h"

void node_short_host(struct buf *out);
void node_name(const char *app, int n, struct buf *out);

#endif

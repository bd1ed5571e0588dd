/*
 * desired_merge: current.json ⊕ override − ghosts, the pure half of the
 * desired state (state/desired.h declares it beside the struct it fills;
 * desired_load(), reconciler/shared/desired_load.c, is the I/O around it).
 *
 * Part of the core: no I/O, no clock, libc alone (core-check).  Unlike the
 * planner it allocates, but only into the caller's struct desired, which
 * desired_release() frees: the copied pre-commands and restart tokens and the
 * error line.  Out of memory aborts, as xmalloc() does elsewhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reconciler/core/desired_merge.h"
#include "base/banned.h"

static void *alloc_or_abort(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);

        if (!p)
                abort();
        return p;
}

/* dst holds nothing: the strings of src's pre-commands are duplicated. */
static void copy_release(struct release_desc *dst, const struct release_desc *src)
{
        *dst = *src;
        dst->pre_commands = NULL;
        if (src->npre_commands == 0)
                return;
        dst->pre_commands = alloc_or_abort(src->npre_commands, sizeof(char *));
        for (size_t i = 0; i < src->npre_commands; i++) {
                size_t n = strlen(src->pre_commands[i]) + 1;

                dst->pre_commands[i] = memcpy(alloc_or_abort(n, 1), src->pre_commands[i], n);
        }
}

/* dst holds nothing: its own array of per-instance restart tokens. */
static void copy_override(struct override *dst, const struct override *src)
{
        size_t size = src->nrestart_instances * sizeof(*src->restart_instances);

        *dst = *src;
        dst->restart_instances = NULL;
        if (size)
                dst->restart_instances = memcpy(alloc_or_abort(1, size), src->restart_instances,
                                                size);
}

static const struct ghost *find_ghost(const struct ghost_list *ghosts, const char *version)
{
        for (size_t i = 0; ghosts && i < ghosts->n; i++)
                if (strcmp(ghosts->items[i].version, version) == 0)
                        return &ghosts->items[i];
        return NULL;
}

/* "a; b; c" of the non-empty parts, or NULL when all are empty. */
static char *join_errors(const char *const parts[], size_t n)
{
        size_t len = 0, at = 0;
        char *out;

        for (size_t i = 0; i < n; i++)
                if (parts[i] && parts[i][0])
                        len += (len ? 2 : 0) + strlen(parts[i]);
        if (len == 0)
                return NULL;
        out = alloc_or_abort(len + 1, 1);
        for (size_t i = 0; i < n; i++)
                if (parts[i] && parts[i][0])
                        at += (size_t)snprintf(out + at, len + 1 - at, "%s%s", at ? "; " : "",
                                               parts[i]);
        return out;
}

void desired_merge(const struct release_desc *source, const char *source_error,
                   const struct override *ov, const char *override_error,
                   const struct ghost_list *ghosts, struct desired *ret)
{
        char ghosted[VERSION_MAX + REASON_MAX + 64] = "";
        struct desired d;

        memset(&d, 0, sizeof(d));
        if (ov && ov->version[0]) {
                d.origin = DESIRED_OVERRIDE;
                /* A pin to the published version keeps its hash, checksum and pre-commands. */
                if (source && strcmp(source->version, ov->version) == 0)
                        copy_release(&d.release, source);
                else
                        snprintf(d.release.version, sizeof(d.release.version), "%s", ov->version);
        } else if (source && source->version[0]) {
                d.origin = DESIRED_SOURCE;
                copy_release(&d.release, source);
        }
        if (ov)
                copy_override(&d.override, ov);

        if (d.origin != DESIRED_NONE) {
                const struct ghost *g = find_ghost(ghosts, d.release.version);

                if (g) {
                        d.ghosted = true;
                        snprintf(ghosted, sizeof(ghosted), "%s %s is ghosted (%s); not deploying it",
                                 d.origin == DESIRED_OVERRIDE ? "pinned version" : "version",
                                 g->version, g->reason[0] ? g->reason : "no reason recorded");
                }
        }
        d.error = join_errors((const char *const[]){ source_error, override_error, ghosted }, 3);
        *ret = d;
}

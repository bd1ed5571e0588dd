/*
 * Tar member paths and link targets (reconciler/jobs/unpack.c): a normalised
 * member path is never absolute and never holds a ".." component, and a
 * link target judged inside the tree never climbs above it.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "reconciler/jobs/unpack.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
        char *copy = malloc(size + 1);
        const char *target;
        struct buf norm = BUF_INIT;

        if (!copy)
                return 0;
        memcpy(copy, data, size);
        copy[size] = '\0';
        /* "member\0target": the member path, then a link target read from its directory. */
        target = copy + strlen(copy) + (strlen(copy) < size ? 1 : 0);
        if (!unpack_normalize_path(copy, &norm)) {
                if (norm.data[0] == '/' || strcmp(norm.data, "..") == 0 || strncmp(norm.data, "../", 3) == 0 ||
                    strstr(norm.data, "/../") || (norm.len >= 3 && strcmp(norm.data + norm.len - 3, "/..") == 0) ||
                    strstr(norm.data, "//"))
                        abort();
                (void)unpack_lexically_inside(norm.data, target);
        }
        buf_release(&norm);
        free(copy);
        return 0;
}

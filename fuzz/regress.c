/*
 * The corpus regression `make test` runs: every harness of fuzz/ over every
 * file of its fuzz/corpus/NAME/ directory, once, in an ordinary (asan)
 * build -- no clang, no libFuzzer.  A crash or a sanitizer report fails
 * the test; a harness with an empty or missing corpus fails it too.
 * The corpus directory is $DEPLOYEX_TOP/fuzz/corpus (tests/run sets
 * DEPLOYEX_TOP), else FUZZ_CORPUS_DIR as built.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "base/util.h"
#include "base/banned.h"

#define HARNESS(name) int fuzz_##name##_one(const uint8_t *data, size_t size);
#define HARNESSES(X) X(config) X(current) X(override) X(instance) X(history) X(ghosts) \
        X(journal) X(etf) X(term) X(sigv4) X(tarpath) X(wsframe)
HARNESSES(HARNESS)

static const struct {
        const char *name;
        int (*one)(const uint8_t *, size_t);
} harnesses[] = {
#define ENTRY(name) { #name, fuzz_##name##_one },
        HARNESSES(ENTRY)
};

#ifndef FUZZ_CORPUS_DIR
#define FUZZ_CORPUS_DIR "fuzz/corpus"
#endif

int main(void)
{
        const char *top = getenv("DEPLOYEX_TOP");
        struct buf dir = BUF_INIT, path = BUF_INIT, data = BUF_INIT;
        size_t total = 0;
        int failed = 0;

        for (size_t i = 0; i < ARRAY_SIZE(harnesses); i++) {
                size_t n = 0;
                struct dirent *de;
                DIR *d;

                buf_reset(&dir);
                if (top && top[0])
                        buf_printf(&dir, "%s/fuzz/corpus/%s", top, harnesses[i].name);
                else
                        buf_printf(&dir, "%s/%s", FUZZ_CORPUS_DIR, harnesses[i].name);
                d = opendir(dir.data);
                if (!d) {
                        fprintf(stderr, "fuzz %s: no corpus at %s\n", harnesses[i].name, dir.data);
                        failed = 1;
                        continue;
                }
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        buf_reset(&path);
                        buf_printf(&path, "%s/%s", dir.data, de->d_name);
                        if (file_read_all(path.data, 16 << 20, &data) < 0)
                                continue;
                        harnesses[i].one((const uint8_t *)data.data, data.len);
                        n++;
                }
                closedir(d);
                printf("fuzz %-9s %zu inputs ok\n", harnesses[i].name, n);
                if (n == 0) {
                        fprintf(stderr, "fuzz %s: empty corpus in %s\n", harnesses[i].name, dir.data);
                        failed = 1;
                }
                total += n;
        }
        printf("fuzz corpus regression: %zu inputs, %zu harnesses\n", total, ARRAY_SIZE(harnesses));
        buf_release(&dir);
        buf_release(&path);
        buf_release(&data);
        return failed;
}

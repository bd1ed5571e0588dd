/*
 * fuzz: libFuzzer harnesses for every parser of untrusted bytes (DESIGN §8).
 *
 * Each fuzz_NAME.c defines FUZZ_ENTRY, which is LLVMFuzzerTestOneInput for
 * `make fuzz` (clang -fsanitize=fuzzer,address,undefined) and is renamed
 * fuzz_NAME_one for the corpus regression that `make test` runs
 * (tests/unit/... build/MODE/tests/test_fuzz_corpus, any compiler): see
 * fuzz/regress.c and docs/fuzzing.md.
 */
#ifndef DEPLOYEX_FUZZ_H
#define DEPLOYEX_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

int FUZZ_ENTRY(const uint8_t *data, size_t size);

#endif

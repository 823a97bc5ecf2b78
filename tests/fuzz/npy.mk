# Fuzz build rules for the NumPy reader and the C012 tables (fuzz_npy);
# included by tests/fuzz/fuzz.mk. Built straight from the sources it
# exercises with clang and libFuzzer. Run, e.g.:
#   build/fuzz/fuzz_npy -max_total_time=180 build/fuzz/corpus_npy tests/fuzz/corpus/npy
FUZZ_CC    ?= clang
FUZZ_FLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined

FUZZ_NPY_SRC := src/io/npy.c src/metrics/c012.c src/core/error.c
FUZZ_NPY_HDR := src/io/npy.h src/metrics/c012.h src/metrics/metrics.h src/core/error.h

FUZZ_TARGETS += $(FUZZ_DIR)/fuzz_npy

$(FUZZ_DIR)/fuzz_npy: tests/fuzz/fuzz_npy.c $(FUZZ_NPY_SRC) $(FUZZ_NPY_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Isrc -o $@ tests/fuzz/fuzz_npy.c $(FUZZ_NPY_SRC) -lm

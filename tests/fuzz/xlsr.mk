# Fuzz build rules for the XLS-R checkpoint name mapping (fuzz_xlsr_names);
# included by tests/fuzz/fuzz.mk. Built straight from the sources it
# exercises with clang and libFuzzer. Run, e.g.:
#   build/fuzz/fuzz_xlsr_names -max_total_time=60 build/fuzz/corpus_xlsr_names tests/fuzz/corpus/xlsr_names
FUZZ_CC    ?= clang
FUZZ_FLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined

FUZZ_XN_SRC := src/models/xlsr_names.c src/io/tensorset.c src/core/error.c
FUZZ_XN_HDR := src/models/xlsr_import.h src/io/tensorset.h src/core/error.h

FUZZ_TARGETS += $(FUZZ_DIR)/fuzz_xlsr_names

$(FUZZ_DIR)/fuzz_xlsr_names: tests/fuzz/fuzz_xlsr_names.c $(FUZZ_XN_SRC) $(FUZZ_XN_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Isrc -o $@ tests/fuzz/fuzz_xlsr_names.c $(FUZZ_XN_SRC)

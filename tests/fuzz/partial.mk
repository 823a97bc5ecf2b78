# Fuzz build rule for the record of an interrupted `sdd score` run
# (fuzz_partial: FILE.partial, src/metrics/partial.c); included by
# tests/fuzz/fuzz.mk. Run, e.g.:
#   build/fuzz/fuzz_partial -max_total_time=120 build/fuzz/corpus_partial tests/fuzz/corpus/partial
FUZZ_CC    ?= clang
FUZZ_FLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined

FUZZ_PA_SRC := src/metrics/partial.c src/core/error.c src/core/lines.c
FUZZ_PA_HDR := src/metrics/partial.h src/core/error.h src/core/lines.h

FUZZ_TARGETS += $(FUZZ_DIR)/fuzz_partial

$(FUZZ_DIR)/fuzz_partial: tests/fuzz/fuzz_partial.c $(FUZZ_PA_SRC) $(FUZZ_PA_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Isrc -o $@ tests/fuzz/fuzz_partial.c $(FUZZ_PA_SRC) -lm

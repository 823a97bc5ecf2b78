# Fuzz build rules for the score-file readers (fuzz_scores: CM and labelled
# ASV score files, plus the metrics on what they accept); included by
# tests/fuzz/fuzz.mk. Built straight from the sources it exercises with clang
# and libFuzzer. Run, e.g.:
#   build/fuzz/fuzz_scores -max_total_time=180 build/fuzz/corpus_scores tests/fuzz/corpus/scores
FUZZ_CC    ?= clang
FUZZ_FLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined

FUZZ_SC_SRC := src/metrics/scores.c src/metrics/metrics.c src/metrics/dcf.c src/core/error.c src/core/lines.c
FUZZ_SC_HDR := src/metrics/scores.h src/metrics/metrics.h src/metrics/dcf.h src/core/error.h

FUZZ_TARGETS += $(FUZZ_DIR)/fuzz_scores

$(FUZZ_DIR)/fuzz_scores: tests/fuzz/fuzz_scores.c $(FUZZ_SC_SRC) $(FUZZ_SC_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Isrc -o $@ tests/fuzz/fuzz_scores.c $(FUZZ_SC_SRC) -lm

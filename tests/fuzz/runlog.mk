# Fuzz build rules for the training-log reader (fuzz_runlog: log.jsonl and
# config.json of a run, and the convergence SVG); included by
# tests/fuzz/fuzz.mk. Built straight from the sources it exercises. Run, e.g.:
#   build/fuzz/fuzz_runlog -max_total_time=180 build/fuzz/corpus_runlog tests/fuzz/corpus/runlog
FUZZ_CC    ?= clang
FUZZ_FLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined

FUZZ_RL_SRC := src/train/runlog.c src/io/atomic.c src/io/readall.c src/core/error.c src/core/sbuf.c
FUZZ_RL_HDR := src/train/runlog.h src/io/atomic.h src/io/readall.h src/core/error.h src/core/sbuf.h

FUZZ_TARGETS += $(FUZZ_DIR)/fuzz_runlog

$(FUZZ_DIR)/fuzz_runlog: tests/fuzz/fuzz_runlog.c $(FUZZ_RL_SRC) $(FUZZ_RL_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Isrc -o $@ tests/fuzz/fuzz_runlog.c $(FUZZ_RL_SRC) -ljansson -lm

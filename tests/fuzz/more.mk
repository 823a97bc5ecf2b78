# Fuzz build rules for the evaluation (fuzz_eval: scores, keys, ASV scores
# and the 2021 ASV key through sdd_eval_run and its writers), the RawBoost
# flags (fuzz_rawboost: flag parsing, parameter checks, the algorithms) and
# model loading (fuzz_model: checkpoint tensors -> model); included by
# tests/fuzz/fuzz.mk. Built straight from the sources they exercise with clang
# and libFuzzer. Run, e.g.:
#   build/fuzz/fuzz_eval -max_total_time=180 build/fuzz/corpus_eval tests/fuzz/corpus/eval
FUZZ_CC    ?= clang
FUZZ_FLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined

FUZZ_EV_SRC := $(sort $(wildcard src/metrics/*.c)) src/io/npy.c src/io/atomic.c src/io/readall.c src/data/list.c \
               src/audio/decode.c src/core/error.c src/core/lines.c src/core/rng.c
FUZZ_RB_SRC := src/audio/rawboost.c src/audio/fftconv.c src/audio/fir.c src/core/rng.c src/core/error.c
# model construction needs the whole library but the CLI
FUZZ_MD_SRC := $(LIBSRC)

FUZZ_TARGETS += $(FUZZ_DIR)/fuzz_eval $(FUZZ_DIR)/fuzz_rawboost $(FUZZ_DIR)/fuzz_model

$(FUZZ_DIR)/fuzz_eval: tests/fuzz/fuzz_eval.c $(FUZZ_EV_SRC) $(wildcard src/metrics/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Isrc -o $@ tests/fuzz/fuzz_eval.c $(FUZZ_EV_SRC) -ljansson -lsndfile -lsoxr -lm

$(FUZZ_DIR)/fuzz_rawboost: tests/fuzz/fuzz_rawboost.c $(FUZZ_RB_SRC) src/audio/rawboost.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Isrc -o $@ tests/fuzz/fuzz_rawboost.c $(FUZZ_RB_SRC) -lfftw3 -lm

$(FUZZ_DIR)/fuzz_model: tests/fuzz/fuzz_model.c $(FUZZ_MD_SRC) src/models/modelio.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fopenmp -std=c11 -D_GNU_SOURCE -Isrc -Iinclude -I/usr/include/x86_64-linux-gnu/openblas-openmp \
	  -o $@ tests/fuzz/fuzz_model.c $(FUZZ_MD_SRC) $(LDLIBS)

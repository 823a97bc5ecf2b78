# Fuzz build rules for the training recipe reader (fuzz_recipe: recipes and
# the named options, with the config.json round trip); included by
# tests/fuzz/fuzz.mk. Built straight from the sources it exercises with clang
# and libFuzzer (recipe_data.c embeds recipes/NAME.json: build from the
# repository root). Run, e.g.:
#   build/fuzz/fuzz_recipe -max_total_time=180 build/fuzz/corpus_recipe tests/fuzz/corpus/recipe
FUZZ_CC    ?= clang
FUZZ_FLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined

FUZZ_RC_SRC := src/train/recipe.c src/train/recipe_data.c src/io/readall.c src/train/options.c src/train/schedule.c src/train/align.c \
               src/audio/rawboost.c src/audio/fftconv.c src/audio/fir.c src/core/rng.c src/core/error.c src/core/sbuf.c
FUZZ_RC_HDR := src/io/readall.h src/train/recipe.h src/train/options.h src/train/trainer.h src/train/schedule.h src/core/error.h src/core/sbuf.h

FUZZ_TARGETS += $(FUZZ_DIR)/fuzz_recipe

$(FUZZ_DIR)/fuzz_recipe: tests/fuzz/fuzz_recipe.c $(FUZZ_RC_SRC) $(FUZZ_RC_HDR) $(wildcard recipes/*.json)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Isrc -I/usr/include/x86_64-linux-gnu/openblas-openmp -o $@ tests/fuzz/fuzz_recipe.c $(FUZZ_RC_SRC) -ljansson -lfftw3 -lpthread -lm

# Fuzz build rule for a model file's metadata (fuzz_model_meta: a complete
# small model built at start-up, the input driving its __metadata__ only, so
# that the loader's metadata parsers are reached past the weights; see the
# top of tests/fuzz/fuzz_model_meta.c); included by tests/fuzz/fuzz.mk. Like
# fuzz_model it needs the whole library but the CLI. Seeds:
# tests/fuzz/corpus/model_meta (written by tools/fuzz_model_meta_seeds.sh).
# Run, e.g.:
#   build/fuzz/fuzz_model_meta -max_total_time=300 -rss_limit_mb=4096 \
#     build/fuzz/corpus_model_meta tests/fuzz/corpus/model_meta
FUZZ_CC    ?= clang
FUZZ_FLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined

FUZZ_MM_SRC := $(LIBSRC)
# The OpenMP loop bodies (the per-element finiteness checks, conversions and
# sums over every weight: most of an input's time) go without coverage
# callbacks: numeric loops over the weights, not what this target explores.
FUZZ_MM_IGNORE := -fsanitize-coverage-ignorelist=$(FUZZ_DIR)/fuzz_model_meta.ignore

FUZZ_TARGETS += $(FUZZ_DIR)/fuzz_model_meta

$(FUZZ_DIR)/fuzz_model_meta: tests/fuzz/fuzz_model_meta.c $(FUZZ_MM_SRC) src/models/modelio.h
	@mkdir -p $(@D)
	@printf 'fun:.omp_outlined*\n' > $(FUZZ_DIR)/fuzz_model_meta.ignore
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_MM_IGNORE) -fopenmp -std=c11 -D_GNU_SOURCE -Isrc -Iinclude -I/usr/include/x86_64-linux-gnu/openblas-openmp \
	  -o $@ tests/fuzz/fuzz_model_meta.c $(FUZZ_MM_SRC) $(LDLIBS)

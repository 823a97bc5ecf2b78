# Fuzz build rule for the /proc/meminfo reader behind --ssl-recompute auto
# (fuzz_meminfo: src/train/memory.c); included by tests/fuzz/fuzz.mk. Run, e.g.:
#   build/fuzz/fuzz_meminfo -max_total_time=60 build/fuzz/corpus_meminfo tests/fuzz/corpus/meminfo
FUZZ_CC    ?= clang
FUZZ_FLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined

FUZZ_MI_SRC := src/train/memory.c src/core/lines.c src/core/error.c

FUZZ_TARGETS += $(FUZZ_DIR)/fuzz_meminfo

$(FUZZ_DIR)/fuzz_meminfo: tests/fuzz/fuzz_meminfo.c $(FUZZ_MI_SRC) src/train/memory.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Isrc -o $@ tests/fuzz/fuzz_meminfo.c $(FUZZ_MI_SRC)

# Fuzz targets (clang + libFuzzer), included by the top Makefile.
#   make fuzz-build                 builds every target in FUZZ_TARGETS into build/fuzz/
#   make fuzz-cov                   line/function coverage of the parsers reached by
#                                   replaying the corpora (tests/fuzz/coverage.sh)
#   make fuzz-smoke [FUZZ_SECONDS=60]
#                                   runs each target for FUZZ_SECONDS on a scratch copy
#                                   (build/fuzz/corpus_<name>) seeded from tests/fuzz/corpus/<name>/
# This file owns the io targets (fuzz_pth, fuzz_safetensors) and the two
# commands; other tests/fuzz/*.mk fragments add their targets to FUZZ_TARGETS.
# Targets are compiled straight from the sources they exercise (not from the
# gcc-built libsdd.a), with sanitizers; UBSan findings abort so libFuzzer sees them.
FUZZ_CC      ?= clang
FUZZ_FLAGS   ?= -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 60
# where the targets are built (fuzz-cov builds coverage-instrumented copies elsewhere)
FUZZ_DIR     ?= build/fuzz

# src/io needs only the error helper from src/core.
FUZZ_IO_SRC    := $(sort $(wildcard src/io/*.c)) src/core/error.c
FUZZ_IO_HDR    := $(sort $(wildcard src/io/*.h)) src/core/error.h
FUZZ_IO_CFLAGS := -std=c11 -D_GNU_SOURCE -Isrc
FUZZ_IO_LIBS   := -ljansson -lzip

FUZZ_TARGETS += $(FUZZ_DIR)/fuzz_pth $(FUZZ_DIR)/fuzz_safetensors

$(FUZZ_DIR)/fuzz_pth: tests/fuzz/fuzz_pth.c $(FUZZ_IO_SRC) $(FUZZ_IO_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_IO_CFLAGS) -o $@ tests/fuzz/fuzz_pth.c $(FUZZ_IO_SRC) $(FUZZ_IO_LIBS)

$(FUZZ_DIR)/fuzz_safetensors: tests/fuzz/fuzz_safetensors.c $(FUZZ_IO_SRC) $(FUZZ_IO_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_IO_CFLAGS) -o $@ tests/fuzz/fuzz_safetensors.c $(FUZZ_IO_SRC) $(FUZZ_IO_LIBS)

# Other fragments (e.g. audio_list.mk) add their own targets.
-include $(filter-out tests/fuzz/fuzz.mk,$(sort $(wildcard tests/fuzz/*.mk)))

.PHONY: fuzz-build fuzz-smoke fuzz-cov
fuzz-build: $(FUZZ_TARGETS)

fuzz-cov:
	@./tests/fuzz/coverage.sh

# Each run's log is kept in build/fuzz/<name>.log; a crash stops the loop and
# leaves the reproducer (crash-*, leak-*, timeout-*) in build/fuzz/.
fuzz-smoke: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  n=$${t##*/fuzz_}; seeds=tests/fuzz/corpus/$$n; \
	  [ -d "$$seeds" ] || seeds=""; \
	  mkdir -p $(FUZZ_DIR)/corpus_$$n; \
	  echo "fuzz-smoke: $$n for $(FUZZ_SECONDS)s"; \
	  if ! $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ \
	       $(FUZZ_DIR)/corpus_$$n $$seeds > $(FUZZ_DIR)/$$n.log 2>&1; then \
	    tail -n 40 $(FUZZ_DIR)/$$n.log; echo "fuzz-smoke: $$n FAILED (log: $(FUZZ_DIR)/$$n.log)"; exit 1; \
	  fi; \
	  grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' $(FUZZ_DIR)/$$n.log | tail -n 2; \
	done

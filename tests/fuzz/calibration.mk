# Fuzz build rules for the calibration/fusion JSON reader (fuzz_calibration),
# the calibration/fusion solver (fuzz_calfit) and the SASV score/key reader
# with the a-DCF (fuzz_sasv); included by
# tests/fuzz/fuzz.mk. Built straight from the sources they exercise with
# clang and libFuzzer. Run, e.g.:
#   build/fuzz/fuzz_calibration -max_total_time=180 build/fuzz/corpus_calibration tests/fuzz/corpus/calibration
#   build/fuzz/fuzz_sasv -max_total_time=180 build/fuzz/corpus_sasv tests/fuzz/corpus/sasv
FUZZ_CC    ?= clang
FUZZ_FLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined

FUZZ_CAL_SRC := src/metrics/calibration.c src/metrics/dcf.c src/io/atomic.c src/io/readall.c src/core/error.c
FUZZ_CAL_HDR := src/metrics/calibration.h src/metrics/dcf.h src/io/atomic.h src/io/readall.h src/core/error.h
FUZZ_SASV_SRC := src/metrics/sasv.c src/metrics/scores.c src/metrics/metrics.c src/metrics/dcf.c src/core/lines.c src/core/error.c
FUZZ_SASV_HDR := src/metrics/sasv.h src/metrics/scores.h src/metrics/metrics.h src/metrics/dcf.h src/core/error.h

FUZZ_TARGETS += $(FUZZ_DIR)/fuzz_calibration $(FUZZ_DIR)/fuzz_calfit $(FUZZ_DIR)/fuzz_sasv

$(FUZZ_DIR)/fuzz_calibration: tests/fuzz/fuzz_calibration.c $(FUZZ_CAL_SRC) $(FUZZ_CAL_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Isrc -o $@ tests/fuzz/fuzz_calibration.c $(FUZZ_CAL_SRC) -ljansson -lm

$(FUZZ_DIR)/fuzz_calfit: tests/fuzz/fuzz_calfit.c $(FUZZ_CAL_SRC) $(FUZZ_CAL_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Isrc -o $@ tests/fuzz/fuzz_calfit.c $(FUZZ_CAL_SRC) -ljansson -lm

$(FUZZ_DIR)/fuzz_sasv: tests/fuzz/fuzz_sasv.c $(FUZZ_SASV_SRC) $(FUZZ_SASV_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -Isrc -o $@ tests/fuzz/fuzz_sasv.c $(FUZZ_SASV_SRC) -lm

# Fuzz build rules for the audio decoder (fuzz_audio) and the list/protocol
# parser (fuzz_list); included by tests/fuzz/fuzz.mk. The targets are built
# straight from the sources they exercise (not from libsdd.a) with clang and
# libFuzzer. Run, e.g.:
#   build/fuzz/fuzz_audio -max_total_time=180 build/fuzz/corpus_audio tests/fuzz/corpus/audio
#   build/fuzz/fuzz_list  -max_total_time=180 build/fuzz/corpus_list  tests/fuzz/corpus/list
FUZZ_CC    ?= clang
FUZZ_FLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined

FUZZ_AL_SRC := src/audio/decode.c src/audio/encode.c src/io/atomic.c src/io/readall.c src/data/list.c src/core/error.c src/core/lines.c
FUZZ_AL_HDR := src/audio/decode.h src/audio/encode.h src/io/atomic.h src/io/readall.h src/data/list.h src/core/error.h
FUZZ_AL_CFLAGS := -std=c11 -D_GNU_SOURCE -Isrc
FUZZ_AL_LIBS := -lsndfile -lsoxr -lm

FUZZ_TARGETS += $(FUZZ_DIR)/fuzz_audio $(FUZZ_DIR)/fuzz_list

$(FUZZ_DIR)/fuzz_audio: tests/fuzz/fuzz_audio.c $(FUZZ_AL_SRC) $(FUZZ_AL_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_AL_CFLAGS) -o $@ tests/fuzz/fuzz_audio.c $(FUZZ_AL_SRC) $(FUZZ_AL_LIBS)

$(FUZZ_DIR)/fuzz_list: tests/fuzz/fuzz_list.c $(FUZZ_AL_SRC) $(FUZZ_AL_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_AL_CFLAGS) -o $@ tests/fuzz/fuzz_list.c $(FUZZ_AL_SRC) $(FUZZ_AL_LIBS)

# sdd build. `make` builds ./sdd and libsdd.{a,so}; `make test` runs the tests;
# `make MPI=1` builds the Open MPI data-parallel variant into build-mpi/
# (objects, build-mpi/sdd, build-mpi/libsdd.a; `make MPI=1 test-mpi` runs its tests);
# `make test-asan` runs them again built with ASan+UBSan+LSan (into build-asan/);
# `make demo` runs the main job; `make bench` times sdd against PyTorch.
# Missing system packages are installed by scripts/install-deps (Debian names).
# `make CUDA=1` adds the CUDA backend (src/backend/*.cu, nvcc, cuBLAS) to the
# same binaries; BUILD=dir BIN=dir put objects and binaries elsewhere (CI builds
# the CUDA variant next to the plain one).

CC      ?= cc
# MPI=1: mpicc with -DSDD_MPI, everything under build-mpi/ so the default build is untouched
ifeq ($(MPI),1)
CC      := mpicc
CFLAGS  += -DSDD_MPI
BUILD   ?= build-mpi
BIN     ?= build-mpi
endif
ARCH    ?= -march=native
OPT     ?= -O3
# IEEE semantics are kept on purpose: no -ffast-math (NaN checks, EER ties).
# SAN: extra compile+link flags (sanitizers), set by test-asan.
SAN     ?=
CFLAGS  += $(SAN) -std=c11 $(OPT) $(ARCH) -g -fPIC -fopenmp -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation \
           -D_GNU_SOURCE -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-openmp
# BLAS: tests/gpu/pack.sh links OpenBLAS statically for GPU machines without it
BLAS    ?= -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas
LDLIBS  += -lsndfile -lsoxr -ljansson -lzip -lfftw3 $(BLAS) -lm
LDFLAGS += $(SAN) -fopenmp

# BUILD holds objects and test binaries, BIN the sdd binary and the libraries
# (the repository root by default); test-asan points both at build-asan/.
BUILD   ?= build
BIN     ?= .
SDD     := $(BIN)/sdd
LIBA    := $(BIN)/libsdd.a
LIBSO   := $(BIN)/libsdd.so
LIBSRC  := $(shell find src -name '*.c' ! -path 'src/cli/*' | sort)
CLISRC  := $(shell find src/cli -name '*.c' | sort)
LIBOBJ  := $(LIBSRC:%.c=$(BUILD)/%.o)
CLIOBJ  := $(CLISRC:%.c=$(BUILD)/%.o)
TESTSRC := $(sort $(wildcard tests/unit/test_*.c))
TESTBIN := $(TESTSRC:tests/unit/%.c=$(BUILD)/tests/%) $(BUILD)/tests/test_api_cxx
DEPSTAMP := $(BUILD)/.deps-ok

ifeq ($(CUDA),1)
CUDA_HOME ?= /usr/local/cuda
NVCC    ?= $(CUDA_HOME)/bin/nvcc
# sm_90 code plus compute_90 PTX, which newer GPUs JIT-compile
NVFLAGS ?= -O3 -std=c++17 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
NVFLAGS += -Xcompiler -fPIC -DSDD_CUDA -Iinclude -Isrc
CUSRC   := $(shell find src -name '*.cu' | sort)
LIBOBJ  += $(CUSRC:%.cu=$(BUILD)/%.o)
CFLAGS  += -DSDD_CUDA -I$(CUDA_HOME)/include
LDLIBS  += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++
GPUTEST := $(BUILD)/tests/gpu/test_cuda
endif

.PHONY: all test test-asan test-mpi bench-mpi demo demo-compare bench bench-rawboost bench-bootstrap bench-int8 clean deps fuzz-build
all: $(SDD) $(LIBA) $(LIBSO) $(GPUTEST)

$(DEPSTAMP): scripts/install-deps
	@mkdir -p $(BUILD)
	@./scripts/install-deps
	@touch $@

deps: $(DEPSTAMP)

$(BUILD)/%.o: %.c | $(DEPSTAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# errno is never read after the RNG's sqrt/log; without it the normal-fill loop vectorises
$(BUILD)/src/core/rng.o: CFLAGS += -fno-math-errno

# the built-in recipes are embedded in this object (.incbin)
$(BUILD)/src/train/recipe_data.o: $(wildcard recipes/*.json)


$(BUILD)/%.o: %.cu src/backend/cuda.h src/backend/cuda_internal.h | $(DEPSTAMP)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -MMD -MP -c $< -o $@

# the GPU checks (tests/gpu/run.sh); built with CUDA=1 only
$(BUILD)/tests/gpu/test_cuda: tests/gpu/test_cuda.c $(LIBA) tests/unit/check.h tests/unit/device_logits.h tests/unit/device_step.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIBA) $(LDLIBS)

# The CUDA emulation build (src/backend/cuda_emu.h): the .cu files compiled as
# C++ by the host compiler with -DSDD_CU_EMU, and the C files that dispatch to
# the CUDA backend (the ops, device selection) again with SDD_CUDA defined, into
# $(BUILD)/emu/. Linked before libsdd.a, these objects replace the archive's
# versions, so test_cuda_emu runs the CUDA backend's host code and kernels on
# the CPU in every build, GPU or not.
EMU_CSRC  := $(sort $(wildcard src/ops/*.c)) src/backend/device.c
EMU_CUSRC := $(sort $(wildcard src/backend/*.cu))
EMUOBJ    := $(EMU_CSRC:%.c=$(BUILD)/emu/%.o) $(EMU_CUSRC:%.cu=$(BUILD)/emu/%.o)
CXX       ?= g++
EMU_CXXFLAGS := $(SAN) -x c++ -std=c++17 $(OPT) $(ARCH) -g -fPIC -Wall -Wextra -Wno-unused-parameter \
                -DSDD_CUDA -DSDD_CU_EMU -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-openmp

$(BUILD)/emu/%.o: %.c | $(DEPSTAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DSDD_CUDA -DSDD_CU_EMU -MMD -MP -c $< -o $@

$(BUILD)/emu/%.o: %.cu | $(DEPSTAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/test_cuda_emu: tests/unit/test_cuda_emu.c $(EMUOBJ) $(LIBA) tests/unit/check.h tests/unit/landscape_rows.h tests/unit/device_logits.h tests/unit/device_step.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DSDD_CUDA -Itests/unit -o $@ $< $(EMUOBJ) $(LIBA) $(LDFLAGS) $(LDLIBS) -lstdc++ -lpthread

# the emulation's own refusals (host pointers, launch limits, guard pages), probed by kernels of tests/unit/emu_probe.cu
$(BUILD)/tests/emu_probe.o: tests/unit/emu_probe.cu src/backend/cuda_emu.h | $(DEPSTAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -c $< -o $@

$(BUILD)/tests/test_cuda_emu_strict: tests/unit/test_cuda_emu_strict.c $(BUILD)/tests/emu_probe.o $(LIBA) tests/unit/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/tests/emu_probe.o $(LIBA) $(LDFLAGS) $(LDLIBS) -lstdc++ -lpthread

# XLS-R models on the emulated CUDA backend, built the same way
$(BUILD)/tests/test_cuda_emu_xlsr: tests/unit/test_cuda_emu_xlsr.c $(EMUOBJ) $(LIBA) tests/unit/check.h tests/unit/fixture.h tests/unit/device_logits.h tests/unit/device_step.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DSDD_CUDA -Itests/unit -o $@ $< $(EMUOBJ) $(LIBA) $(LDFLAGS) $(LDLIBS) -lstdc++ -lpthread

$(LIBA): $(LIBOBJ)
	rm -f $@ && ar rcs $@ $^

$(LIBSO): $(LIBOBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(SDD): $(CLIOBJ) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $(CLIOBJ) $(LIBA) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBA) tests/unit/check.h tests/unit/gradcheck.h tests/unit/cli_run.h tests/unit/pickle_craft.h tests/unit/landscape_rows.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIBA) $(LDFLAGS) $(LDLIBS)

# the public-API test again, compiled as C++ against include/sdd.h only
$(BUILD)/tests/test_api_cxx: tests/unit/test_api.c include/sdd.h $(LIBA) tests/unit/check.h
	@mkdir -p $(dir $@)
	$(CXX) -x c++ -std=c++17 -O2 $(SAN) -Wall -Iinclude -Itests/unit -o $@ $< -x none $(LIBA) -fopenmp $(LDLIBS)

# SDD_BIN tells the CLI tests which sdd binary to run.
test: all $(TESTBIN)
	@SDD_BIN=$(SDD) ./tests/run.sh $(TESTBIN)

# The whole suite again with AddressSanitizer, UndefinedBehaviorSanitizer and
# LeakSanitizer (gcc; valgrind cannot run AVX-512 code: make valgrind runs an AVX2 build), in its own build
# directory and with its own sdd/libsdd in build-asan/, so the normal build is
# neither used nor overwritten. -O1 keeps it fast enough for CI. Any report
# fails the run (halt_on_error, UBSan without recovery). float-cast-overflow
# is not part of gcc's -fsanitize=undefined: it catches a NaN or an
# out-of-range double converted to an integer (undefined behaviour; a hostile
# header or option value is the way in). tests/asan.supp
# suppresses leaks inside libgomp/libopenblas only. SDD_TEST_REDUCED=1 makes
# test_aasist_ref check 2 of its 5 PyTorch fixtures (one per architecture);
# `make test` checks all 5.
ASAN_BUILD ?= build-asan
ASAN_FLAGS := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow
test-asan:
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) BIN=$(ASAN_BUILD) OPT=-O1 SAN="$(ASAN_FLAGS)" \
	  asan-run

.PHONY: asan-run
asan-run: all $(TESTBIN)
	@ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0 \
	 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/asan.supp:print_suppressions=0 \
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 SDD_TEST_REDUCED=1 \
	 SDD_BIN=$(SDD) ./tests/run.sh $(TESTBIN)

# clang's static analyzer over the library and the CLI, into build-analyze/
# (its own objects; the HTML reports under build-analyze/report/). Not part of
# `make test`: its reports are read by hand (tests/ANALYZER.md says what the
# last reading found). Needs scan-build (Debian: clang-tools-14).
SCAN_BUILD ?= $(shell command -v scan-build-14 || command -v scan-build)
.PHONY: analyze
analyze:
	@test -n "$(SCAN_BUILD)" || { echo "make analyze: scan-build not found (Debian package clang-tools-14)" >&2; exit 1; }
	@rm -rf build-analyze
	$(SCAN_BUILD) -o build-analyze/report --use-cc=clang $(MAKE) --no-print-directory CC=clang \
	  BUILD=build-analyze BIN=build-analyze OPT=-O1 build-analyze/sdd

# Line coverage by the unit suite: the suite run once more (reduced as in
# test-asan) from a gcc --coverage build in build-cov/, then tests/coverage.sh
# writes build-cov/coverage.txt (per file, least covered first; functions
# never entered). Not part of make test or CI. Two test_badinput checks fail
# in this build only: they run sdd under a file-size limit, and libgcov's
# complaint that it cannot write its counters there is a second stderr line.
COV_BUILD ?= build-cov
coverage:
	@rm -f $$(find $(COV_BUILD) -name '*.gcda' 2>/dev/null)
	@$(MAKE) --no-print-directory BUILD=$(COV_BUILD) BIN=$(COV_BUILD) OPT=-O1 SAN=--coverage cov-run

.PHONY: coverage cov-run
cov-run: all $(TESTBIN)
	@SDD_TEST_REDUCED=1 SDD_BIN=$(SDD) ./tests/run.sh $(TESTBIN) || true
	@./tests/coverage.sh $(BUILD)

# valgrind memcheck over every command on the bundled clips (build-vg/; about
# 20 minutes; not in CI: tests/valgrind/run.sh says what it runs)
.PHONY: valgrind
valgrind:
	@./tests/valgrind/run.sh

# data-parallel equivalence, kill and resume under mpirun -np 2 (needs MPI=1)
test-mpi: $(SDD) $(BUILD)/tests/params_diff $(BUILD)/tests/test_mpi_step $(BUILD)/tests/test_mpi_step_cu
	@./tests/mpi/run.sh $(BUILD)

$(BUILD)/tests/%: tests/mpi/%.c $(LIBA) tests/unit/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIBA) $(LDLIBS)

# the same data-parallel step on the CUDA backend, emulated on the CPU (EMU objects, above)
$(BUILD)/tests/test_mpi_step_cu: tests/mpi/test_mpi_step.c $(EMUOBJ) $(LIBA) tests/unit/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DSDD_CUDA -DTEST_CU_EMU -Itests/unit -o $@ $< $(EMUOBJ) $(LIBA) $(LDFLAGS) $(LDLIBS) -lstdc++ -lpthread

demo: all
	@./scripts/demo

# the paper's comparison on the demo corpus: 5 regimes x 3 seeds (hours; scripts/demo-compare)
demo-compare: all
	@./scripts/demo-compare

$(BUILD)/bench/bench_sdd: bench/bench_sdd.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBA) $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/bench_peak: bench/bench_peak.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lm

# MPI=1 only: the all-reduce cost and the 1 -> 2 process scaling of bench/mpi_run
$(BUILD)/bench/bench_allreduce: bench/bench_allreduce.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBA) $(LDFLAGS) $(LDLIBS)

bench-mpi: $(SDD) $(BUILD)/bench/bench_allreduce
	@BUILD=$(BUILD) ./bench/mpi_run

$(BUILD)/bench/bench_qgemm: bench/bench_qgemm.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBA) $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/bench_rawboost: bench/bench_rawboost.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBA) $(LDFLAGS) $(LDLIBS)

bench: all $(BUILD)/bench/bench_sdd $(BUILD)/bench/bench_rawboost $(BUILD)/bench/bench_peak
	@./bench/run

# only the RawBoost rows (algo 4 vs numpy/scipy, loader throughput, one step):
# rewrites those sections of bench/RESULTS.md
bench-rawboost: all $(BUILD)/bench/bench_sdd $(BUILD)/bench/bench_rawboost
	@./bench/rawboost_run $(BUILD)/bench/rawboost.jsonl
	@/usr/bin/python3 bench/report.py --rawboost-update bench/RESULTS.md $(BUILD)/bench/rawboost.jsonl "make bench-rawboost"

# only the EER bootstrap (sdd eval --ci) vs numpy: JSON lines, recorded by hand in bench/RESULTS.md
bench-bootstrap: all
	@./bench/bootstrap_run

# XLSR-AASIST eval forward, float32 vs int8 (sdd score --int8), against PyTorch's float32 and
# quantize_dynamic in the same run: a markdown section for bench/RESULTS.md (needs python3-torch)
bench-int8: all $(BUILD)/bench/bench_qgemm
	@./bench/int8_run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(BIN)/sdd $(LIBA) $(BIN)/libsdd.so

-include $(LIBOBJ:.o=.d) $(CLIOBJ:.o=.d) $(EMUOBJ:.o=.d)

# Fuzz targets (clang + libFuzzer) live in tests/fuzz; their rules are kept there.
-include tests/fuzz/fuzz.mk

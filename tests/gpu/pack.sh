#!/bin/sh
# Packs a CUDA build that runs on a GPU machine lacking sdd's build
# dependencies (libsndfile, OpenBLAS, ... headers) into gpu-carry/pack.tar.xz
# (about 7 MB), which holds
#   bin/      sdd, test_cuda and bench_sdd, built with make CUDA=1 for x86-64-v3 (AVX2,
#             so any recent x86-64 host runs them), OpenBLAS linked statically
#   lib/      the shared libraries they need besides glibc, libstdc++ and CUDA
#   shared/   the AASIST weights the real-weight fixtures need (from ../shared)
# tests/gpu/run.sh unpacks and uses it when it exists. The CUDA libraries
# (cudart, cuBLAS) are the GPU machine's own.
set -eu
cd "$(dirname "$0")/../.."
D=gpu-carry
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
BLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.a
rm -rf "$D" && mkdir -p "$D/bin" "$D/lib" "$D/shared/models"
make CUDA=1 BUILD=$D/build BIN=$D/build ARCH=-march=x86-64-v3 -j2 \
  BLAS="$BLAS -lgfortran" \
  $D/build/sdd $D/build/tests/gpu/test_cuda $D/build/bench/bench_sdd
cp $D/build/sdd $D/build/tests/gpu/test_cuda $D/build/bench/bench_sdd "$D/bin/"
strip "$D/bin/sdd" "$D/bin/test_cuda" "$D/bin/bench_sdd"
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src tests Makefile || echo '+uncommitted changes'), packed $(date -u '+%Y-%m-%d %H:%M UTC')" > "$D/bin/BUILD_INFO"
rm -rf "$D/build"
for b in "$D/bin/sdd" "$D/bin/test_cuda" "$D/bin/bench_sdd"; do
  ldd "$b" | awk '$3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  case "$name" in
    libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libgcc_s.so*|libstdc++.so*|ld-linux*|libcu*) ;;
    *) cp -L "$path" "$D/lib/$name" ;;
  esac
done
cp ../shared/models/*.pth "$D/shared/models/" 2>/dev/null || echo "pack: no ../shared/models: real-weight fixtures will be skipped"
(cd "$D" && tar cJf pack.tar.xz bin lib shared && rm -rf bin lib shared)
ls -la "$D/pack.tar.xz"

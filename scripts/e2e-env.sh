# Sourced from the source root by scripts/bench: where the benchmarks that run real containerd find
# the test programs, the image builder, evictd and the source tree (the test API server's script).
export EVICTD_E2E_PAUSE=build/tests/e2e_pause EVICTD_E2E_MEMHOG=build/tests/e2e_memhog \
  EVICTD_E2E_BUILD_IMAGE=tests/e2e/build-image.sh EVICTD_BINARY=$PWD/build/daemon/evictd \
  EVICTD_SOURCE_DIR=$PWD

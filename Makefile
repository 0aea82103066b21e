# Thin wrapper: every target installs what it needs first (idempotent), then builds
# with Ninja into a directory of its own: build/ (binaries in build/bin/), build-asan/
# and build-tsan/ (sanitizers), build-fuzz/ (clang, libFuzzer). A second run only
# rebuilds what changed. docs/testing.md describes every kind of test.
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
JOBS ?= $(shell nproc)
# Seconds of fuzzing per target: `make fuzz`, and the smoke run in `make test`.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5

.PHONY: all deps build asan-build tsan-build fuzz-build test test-sanitize test-deploy package install-sh test-package fuzz demo bench clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DLOADPILOT_SANITIZE=address,undefined

$(TSAN_BUILD)/build.ninja:
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DLOADPILOT_SANITIZE=thread -DLOADPILOT_WITH_PYTHON=OFF

$(FUZZ_BUILD)/build.ninja:
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DLOADPILOT_FUZZ=ON \
	      -DLOADPILOT_WITH_PYTHON=OFF

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

asan-build: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Only what the TSan tests run (tests/CMakeLists.txt registers no others there).
tsan-build: deps $(TSAN_BUILD)/build.ninja
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target engine_tests loadpilot-coordinator loadpilot-target

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets

# ctest's parallelism: as many CPU-bound tests at once as cores (the `cpus` slots of
# BUILD/ctest-resources.json), and room beside them for the distributed tests, which
# mostly wait (tests/CMakeLists.txt).
CTEST_PARALLEL = -j $$(( $(JOBS) + 3 )) --resource-spec-file ctest-resources.json

# Every test, then a few seconds of each fuzz target.
test: build fuzz-build
	cd $(BUILD) && ctest --output-on-failure $(CTEST_PARALLEL) --timeout 600
	cd $(FUZZ_BUILD) && FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) ctest --output-on-failure -j 2 --timeout 600

# Unit, integration and black-box tests under ASan + UBSan; the engine under TSan.
test-sanitize: asan-build tsan-build
	./scripts/ctest-sanitized.sh $(ASAN_BUILD)
	./scripts/ctest-sanitized.sh $(TSAN_BUILD)

# Each fuzz target for FUZZ_SECONDS (make fuzz FUZZ_SECONDS=600).
fuzz: fuzz-build
	cd $(FUZZ_BUILD) && FUZZ_SECONDS=$(FUZZ_SECONDS) ctest --output-on-failure -j 2 \
	  --timeout $$(( $(FUZZ_SECONDS) + 600 ))

# The container images built and run for real (docker or podman, see docs/deploy.md).
test-deploy: build
	@LOADPILOT_DEPLOY_DEPS=1 ./scripts/install-deps.sh
	@./deploy/test-deploy.sh

# The Debian packages loadpilot-agent_<version>_amd64.deb and loadpilot_<version>_amd64.deb
# in $(BUILD)/packages/ (docs/install.md). CMake runs again so that a help2man installed
# since the first configure is found. With LOADPILOT_PACKAGE_URL=https://HOST/DIR (where
# both are published), also $(BUILD)/packages/install.sh, which installs from there.
package: build
	cmake $(BUILD) > /dev/null
	rm -f $(BUILD)/packages/*.deb $(BUILD)/packages/install.sh
	cd $(BUILD) && cpack -G DEB
	@if [ -n "$(LOADPILOT_PACKAGE_URL)" ]; then \
	  cmake -DLP_INSTALLER_URL="$(LOADPILOT_PACKAGE_URL)" -DLP_INSTALLER_IN=scripts/install.sh \
	        -DLP_INSTALLER_OUT=$(BUILD)/packages/install.sh \
	        -DLP_INSTALLER_VERSION=$$(sed -n 's/^project(loadpilot VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt) \
	        -P cmake/package.cmake; \
	fi

# install.sh at the root of the repository: scripts/install.sh published at the GitHub
# release of this version, which is what the one-liner of the README and docs/install.md
# fetches (curl -fsSL https://raw.githubusercontent.com/VladislavAkulich/loadpilot/main/install.sh | sh).
# Written again here when scripts/install.sh or the version changes (ctest -L package
# checks that it is current); the release must carry both .deb files of `make package`.
LOADPILOT_VERSION = $(shell sed -n 's/^project.loadpilot VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
LOADPILOT_RELEASE_URL ?= https://github.com/VladislavAkulich/loadpilot/releases/download/v$(LOADPILOT_VERSION)
install-sh:
	cmake -DLP_INSTALLER_URL="$(LOADPILOT_RELEASE_URL)" -DLP_INSTALLER_IN=scripts/install.sh \
	      -DLP_INSTALLER_OUT=install.sh -DLP_INSTALLER_VERSION=$(LOADPILOT_VERSION) -P cmake/package.cmake

# Both packages installed into a fresh Debian 12 root and used there (docs/install.md):
# the agent against a coordinator outside the root, the CLI, install.sh, the systemd unit.
test-package: package
	@LOADPILOT_PACKAGE_DEPS=1 ./scripts/install-deps.sh
	@LOADPILOT_BUILD=$(BUILD) ./tests/package/test-package.sh

demo: build
	@./scripts/demo.sh

bench: build
	@LOADPILOT_BENCH_DEPS=1 ./scripts/install-deps.sh
	@./bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)

# Thin wrapper: every target installs what it needs first (idempotent), then builds
# into build/ with Ninja. Binaries land in build/bin/.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build test test-deploy demo bench clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 600

# The container images built and run for real (docker or podman, see docs/deploy.md).
test-deploy: build
	@LOADPILOT_DEPLOY_DEPS=1 ./scripts/install-deps.sh
	@./deploy/test-deploy.sh

demo: build
	@./scripts/demo.sh

bench: build
	@LOADPILOT_BENCH_DEPS=1 ./scripts/install-deps.sh
	@./bench/run.sh

clean:
	rm -rf $(BUILD)

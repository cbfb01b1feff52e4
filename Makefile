# Thin wrapper over CMake. The README's two commands:
#   make run   — install missing packages, build, start the desktop app on the bundled demo model
#   make test  — install missing packages, build everything, run the whole test suite (ctest)
BUILD ?= build
JOBS ?= 2
CMAKE_ARGS ?=
# ccache keys on paths relative to the checkout, so a fresh clone (as in CI) reuses earlier objects.
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: all deps configure build run test clean

all: build

deps:
	@tools/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	@tools/run-app.sh $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 900

clean:
	rm -rf $(BUILD)

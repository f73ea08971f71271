# The two entry points: `make demo` and `make test`. Both bootstrap their
# dependencies first, so they work on a fresh Debian 12 machine.
BUILD_DIR ?= build
SANITIZE_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
# ccache hits across clones (CI builds a fresh clone every time) and
# across build directories (with -g the directory is hashed otherwise).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-sanitize test-fuzz demo demo-stop bench clean

all: build

deps:
	@scripts/bootstrap.sh

$(BUILD_DIR)/build.ninja: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: deps configure
	cmake --build $(BUILD_DIR)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 900
	$(MAKE) test-sanitize
	$(MAKE) test-fuzz

# The unit tests again under AddressSanitizer, LeakSanitizer and UBSan
# (fatal on any report): the parsers and the service meet hostile input.
test-sanitize: deps
	cmake -S . -B $(SANITIZE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DMAILFLEET_SANITIZE=ON -DMAILFLEET_UNIT_TESTS_ONLY=ON \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
	cmake --build $(SANITIZE_DIR)
	cd $(SANITIZE_DIR) && ctest -L unit --output-on-failure --timeout 300

# libFuzzer on the parsers of queue files, defer logs, MPA envelopes and
# filters, built with clang under ASan and UBSan; each runs for
# FUZZ_SECONDS from its seed corpus (tests/fuzz/corpus) and any finding
# fails it. Only the fuzzers are built in FUZZ_DIR.
FUZZ_SECONDS ?= 20
test-fuzz: deps
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DMAILFLEET_FUZZ=ON -DMAILFLEET_FUZZ_SECONDS=$(FUZZ_SECONDS) \
	  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
	cmake --build $(FUZZ_DIR) --target fuzzers
	cd $(FUZZ_DIR) && ctest -L fuzz -j2 --output-on-failure

demo: build
	scripts/demo.sh start

demo-stop:
	scripts/demo.sh stop

bench: build
	bench/run_all.sh

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(FUZZ_DIR)

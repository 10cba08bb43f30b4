# A thin front for CMake.  The two commands a newcomer needs:
#   make demo   install what is missing, build, run the built-in example
#   make test   build with warnings as errors and run every test
# and what CI adds (.ci/run): make test-asan test-tsan fuzz-smoke

JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-asan test-tsan test-valgrind fuzz fuzz-smoke install clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build build -j$(JOBS)

demo: build
	./build/datalite demo

test: deps
	cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DDL_WERROR=ON $(CMAKE_FLAGS)
	cmake --build build-test -j$(JOBS)
	cd build-test && ctest --output-on-failure -j$(JOBS)

test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Asan -DDL_WERROR=ON $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j$(JOBS)

# ThreadSanitizer on the concurrent parts (tests labelled by name).
test-tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Tsan -DDL_WERROR=ON $(CMAKE_FLAGS)
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R 'intern|concurrent|exec|alloc'

# The whole suite under valgrind's memcheck: every unit test, the data-driven
# cases and the fuzz corpus replays through ctest; then the shell-driven tests
# (CLI, generator, REPL, kill -9, differential) through tests/valgrind_shell.sh,
# which runs each datalite process they start under memcheck (ctest would
# watch bash and node instead).  The property
# and stress tests divide their iteration counts by DL_TEST_SCALE (tu_scale()
# in tests/unit/testutil.c).  --fair-sched=yes: the concurrent tests spin, and
# valgrind's default thread lock starves their writer.  Only definite leaks
# fail: test_store's forked children exit holding the parent's inherited
# LMDB environment (it must not be closed across a fork), which memcheck
# lists as "possibly lost" (ctest: "Potential Memory Leak").
VALGRIND_OPTS = --fair-sched=yes --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1
test-valgrind: test
	cd build-test && DL_TEST_SCALE=10 ctest --output-on-failure -E 'crash|cli|diff_datascript' \
		--overwrite MemoryCheckCommand=$$(command -v valgrind) \
		--overwrite MemoryCheckCommandOptions="$(VALGRIND_OPTS)" \
		-T memcheck
	bash tests/valgrind_shell.sh build-test

fuzz: deps
	@scripts/install-deps.sh --fuzz
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DDL_FUZZ=ON -DDL_TESTS=OFF -DDL_BENCH=OFF
	cmake --build build-fuzz -j$(JOBS)

# A brief libFuzzer run of every target on its committed corpus (CI).
FUZZ_SECONDS ?= 30
fuzz-smoke: fuzz
	@for f in build-fuzz/fuzz_*; do \
		name=$$(basename $$f); corpus=fuzz/corpus/$${name#fuzz_}; \
		work=$$(mktemp -d); cp -r $$corpus/. $$work/; \
		echo "== $$name ($(FUZZ_SECONDS)s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$work || exit 1; \
		rm -rf $$work; \
	done

install: build
	cmake --install build

clean:
	rm -rf build build-test build-asan build-tsan build-fuzz

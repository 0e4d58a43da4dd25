# xover — build, test, bench, demo, install.
#
#   make            release build: build/xover
#   make test       AddressSanitizer + UBSan build, then every test
#   make demo       the main job on the embedded default
#   make bench      every benchmark in bench/ (ratios measured in one run)
#   make install    PREFIX=/usr/local DESTDIR= (the binary, its man page, bash completion)
#
# `demo`, `test` and `bench` first run .ci/deps, which installs missing Debian
# packages when run as root with apt, and otherwise prints the exact
# `apt-get install` line. The real work then runs in a sub-make, so that
# pkg-config is asked for flags only once the packages are there.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := sqlite3 yaml-0.1 libpcre2-8 openblas jansson libmd zlib

# Evaluated lazily (=), after .ci/deps has had its chance to install them.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -lm -lpthread
# The tests alone also read PNG screenshots (of the report, from headless Chromium).
TEST_PKGS   := libpng
TEST_CFLAGS  = $(shell pkg-config --cflags $(TEST_PKGS))
TEST_LIBS    = $(shell pkg-config --libs $(TEST_PKGS))

# The build commit, for `xover --version` and the runs' build id. The header is
# rewritten only when the commit changes, so only util/version.c recompiles.
COMMIT    := $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
$(shell mkdir -p build/gen && echo '#define XOVER_COMMIT "$(COMMIT)"' > build/gen/commit.h.new && \
        { cmp -s build/gen/commit.h.new build/gen/commit.h || mv build/gen/commit.h.new build/gen/commit.h; } ; \
        rm -f build/gen/commit.h.new)

WARN    := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -Ibuild/gen
REL_CFLAGS  := -O3 -march=native -g $(WARN)
ASAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=all $(WARN)

# Every .c in the modules is part of the library; main.c makes the binary.
LIB_SRC  := $(sort $(wildcard orchestrator/*.c orchestrator/*/*.c models/*.c data/*.c))
LIB_SRC  := $(filter-out orchestrator/main.c,$(LIB_SRC)) build/gen/schema_sql.c
TEST_SRC := $(sort $(wildcard tests/*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))

REL_OBJ  := $(patsubst %.c,build/rel/%.o,$(LIB_SRC))
ASAN_OBJ := $(patsubst %.c,build/asan/%.o,$(LIB_SRC))
TEST_OBJ := $(patsubst %.c,build/asan/%.o,$(TEST_SRC))
BENCH_BIN:= $(patsubst bench/%.c,build/bench/%,$(BENCH_SRC))

.PHONY: all test test-build check-tests bench bench-build demo demo-run deps \
        deps-test deps-bench install uninstall clean fuzz

all: build/xover

build/xover: $(REL_OBJ) build/rel/orchestrator/main.o
	$(CC) $(REL_CFLAGS) -o $@ $^ $(PKG_LIBS)

build/asan/xover: $(ASAN_OBJ) build/asan/orchestrator/main.o
	$(CC) $(ASAN_CFLAGS) -o $@ $^ $(PKG_LIBS)

build/asan/xover_tests: $(ASAN_OBJ) $(TEST_OBJ)
	$(CC) $(ASAN_CFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

build/asan/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) $(PKG_CFLAGS) $(TEST_CFLAGS) -MMD -MP -c -o $@ $<

build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

# schema.sql stays the source of truth; the binary carries it as a C string.
build/gen/schema_sql.c: schema.sql
	@mkdir -p $(dir $@)
	{ echo '/* generated from schema.sql by the Makefile; do not edit */'; \
	  echo 'const char xover_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' schema.sql; \
	  echo ';'; } > $@.tmp && mv $@.tmp $@

build/bench/%: bench/%.c $(REL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS)

deps:
	@sh .ci/deps build
deps-test:
	@sh .ci/deps test
deps-bench:
	@sh .ci/deps bench

# Tests: the sanitizer build, then the runner, which ends "N passed, N failed".
# OPENBLAS_NUM_THREADS=1 keeps the 2 cores for the tests' own processes.
test: deps-test
	@$(MAKE) --no-print-directory check-tests

test-build: build/asan/xover build/asan/xover_tests

check-tests: test-build
	XOVER_BIN=build/asan/xover OPENBLAS_NUM_THREADS=1 \
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  build/asan/xover_tests $(T)

bench: deps-bench
	@$(MAKE) --no-print-directory bench-build
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

bench-build: build/xover $(BENCH_BIN)

demo: deps
	@$(MAKE) --no-print-directory demo-run

demo-run: build/xover
	sh experiments/demo.sh

# Fuzzing (clang + libFuzzer; not part of `make test`, which replays the
# committed corpora through tests/test_fuzz_replay.c with the gcc build).
# `make fuzz` builds build/fuzz/fuzz_<target>; docs/reliability.md says how to run them.
FUZZ_TARGETS := sweep expr metrics corpus tokenizer
FUZZ_CC      := clang
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=all $(WARN) -Wno-unknown-attributes
FUZZ_OBJ     := $(patsubst %.c,build/fuzz/%.o,$(LIB_SRC) tests/fuzz/targets.c)

fuzz: $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))

build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_main.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -DFUZZ_TARGET=fuzz_$* -o $@ $^ $(PKG_LIBS)

# The manual page is xover's own help texts (`xover help --man`); the bash
# completion asks the installed xover for its commands, options and sweeps.
build/xover.1: build/xover
	build/xover help --man > $@.tmp && mv $@.tmp $@

MAN1DIR := $(DESTDIR)$(PREFIX)/share/man/man1
COMPDIR := $(DESTDIR)$(PREFIX)/share/bash-completion/completions

install: build/xover build/xover.1
	install -d $(DESTDIR)$(PREFIX)/bin $(MAN1DIR) $(COMPDIR)
	install -m 0755 build/xover $(DESTDIR)$(PREFIX)/bin/xover
	install -m 0644 build/xover.1 $(MAN1DIR)/xover.1
	install -m 0644 orchestrator/cli/completion.bash $(COMPDIR)/xover

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/xover $(MAN1DIR)/xover.1 $(COMPDIR)/xover

clean:
	rm -rf build

-include $(REL_OBJ:.o=.d) $(ASAN_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

# ecs-hostd build.  `make` builds the daemon and ecs-place; `make check` runs
# every test twice (plain, then ASan+UBSan) and replays the fuzz corpora;
# `make demo` runs the daemon against the local emulators.
#
# Sources are found by convention, so a new module needs no edit here:
#   agent/*.c watcher/*.c  -> build/libhostd.a   (agent/main.c -> build/ecs-hostd)
#   placement/*.c          -> build/libplace.a   (placement/main.c -> build/ecs-place)
#   tests/*/test-*.c       -> build/tests/test-* (unit tests, TAP output)
#   tests/tools/*.c        -> build/tests/*      (helpers the scenario tests drive)
#   tests/fuzz/fuzz-*.c    -> build/fuzz/fuzz-*  (libFuzzer, clang)

VERSION     := 0.1.0
GIT_HASH    := $(shell git rev-parse --short=8 HEAD 2>/dev/null || echo unknown)
B           ?= build
CC          ?= cc
FUZZ_CC     ?= clang
PKGS        := libcurl libcjson libsystemd libcrypto libmicrohttpd libpcre2-8
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN   := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wpointer-arith -Wcast-qual -Wformat=2 -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE= $(WARN) $(CFLAGS) $(SANFLAGS) -Iinclude $(PKG_CFLAGS) \
             -DHOSTD_VERSION='"$(VERSION)"' -DHOSTD_GIT_HASH='"$(GIT_HASH)"' -MMD -MP
LDLIBS := $(PKG_LIBS) -lm

HOSTD_SRCS := $(filter-out agent/main.c,$(wildcard agent/*.c watcher/*.c))
PLACE_SRCS := $(filter-out placement/main.c,$(wildcard placement/*.c))
TEST_SRCS  := $(wildcard tests/*/test-*.c)
TOOL_SRCS  := $(wildcard tests/tools/*.c)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz-*.c)

HOSTD_OBJS := $(HOSTD_SRCS:%.c=$(B)/obj/%.o)
PLACE_OBJS := $(PLACE_SRCS:%.c=$(B)/obj/%.o)
TESTS      := $(patsubst %.c,$(B)/tests/%,$(notdir $(TEST_SRCS)))
TOOLS      := $(patsubst %.c,$(B)/tests/%,$(notdir $(TOOL_SRCS)))
FUZZERS    := $(patsubst %.c,$(B)/fuzz/%,$(notdir $(FUZZ_SRCS)))

vpath %.c $(sort $(dir $(TEST_SRCS) $(TOOL_SRCS) $(FUZZ_SRCS)))

.PHONY: all deps tests fuzz fuzz-run check check-plain check-asan demo bench clean format install
all: $(B)/ecs-hostd $(B)/ecs-place

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libhostd.a: $(HOSTD_OBJS)
	@rm -f $@; $(AR) rcs $@ $^
$(B)/libplace.a: $(PLACE_OBJS)
	@rm -f $@; $(AR) rcs $@ $^

$(B)/ecs-hostd: $(B)/obj/agent/main.o $(B)/libhostd.a
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS)
$(B)/ecs-place: $(B)/obj/placement/main.o $(B)/libplace.a
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: %.c $(B)/libhostd.a $(B)/libplace.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -MF $@.d -o $@ $< $(B)/libhostd.a $(B)/libplace.a $(LDLIBS)

tests: all $(TESTS) $(TOOLS)

# libFuzzer targets: clang, with the library sources compiled once more for
# coverage (fuzzer-no-link) into their own objects, shared by every target.
FUZZ_FLAGS := -std=gnu11 -D_GNU_SOURCE= -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -Iinclude -Itests $(PKG_CFLAGS) \
              -DHOSTD_VERSION='"$(VERSION)"' -DHOSTD_GIT_HASH='"$(GIT_HASH)"'
FUZZ_OBJS := $(filter-out %/agent/main.o %/placement/main.o,$(HOSTD_SRCS:%.c=$(B)/fuzzobj/%.o) $(PLACE_SRCS:%.c=$(B)/fuzzobj/%.o))
$(B)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<
$(B)/fuzz/%: %.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LDLIBS)
fuzz: $(FUZZERS)

deps:
	@packaging/install-deps.sh

# The suite runs twice; tests/run-suite prints a `N passed, N failed` line per
# pass and tests/total sums them into the final line.
check: deps
	@rm -f $(B)/check.log
	$(MAKE) --no-print-directory check-plain
	$(MAKE) --no-print-directory check-asan
	@tests/total $(B)/check.log

check-plain: tests
	@tests/run-suite $(B) plain | tee -a $(B)/check.log

# The sanitizer build: clang, ASan+UBSan, stopping at the first report.
ASAN_MAKE = $(MAKE) --no-print-directory B=$(B)/asan CC=clang \
	    SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

check-asan:
	@mkdir -p $(B)
	$(ASAN_MAKE) tests fuzz
	@tests/run-suite $(B)/asan asan | tee -a $(B)/check.log

demo: deps all $(TOOLS)
	@tests/demo $(B)

bench: deps all $(TOOLS)
	@tests/bench $(B)

# Every fuzz target for FUZZ_SECONDS (default 60) each, on a scratch corpus.
FUZZ_SECONDS ?= 60
fuzz-run: deps
	$(ASAN_MAKE) fuzz
	@tests/fuzz-run $(B)/asan $(FUZZ_SECONDS)

format:
	clang-format -i $(wildcard agent/*.c watcher/*.c placement/*.c include/*.h tests/*/*.c tests/*.h)

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

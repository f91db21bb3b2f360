# ecs-hostd build.  `make` builds the daemon and ecs-place; `make check` runs
# every test twice (plain, then ASan+UBSan) and replays the fuzz corpora;
# `make demo` runs the daemon against the local emulators.
#
# Sources are found by convention, so a new module needs no edit here:
#   agent/{,aws/,metrics/}*.c watcher/*.c -> build/libhostd.a (agent/main.c -> build/ecs-hostd)
#   placement/*.c                       -> build/libplace.a (placement/main.c -> build/ecs-place)
#   tests/**/test-*.c                   -> build/tests/test-* (unit tests, TAP output)
#   tests/tools/*.c                     -> build/tests/*      (helpers the scenario tests drive)
#   tests/fuzz/fuzz-*.c                 -> build/fuzz/fuzz-*  (libFuzzer, clang)
#
# The entry points that install dependencies first (check, demo, bench,
# fuzz-run) do the rest in a sub-make, so the package flags below are read
# after the packages exist: the first run on a fresh machine works.

SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c

VERSION     := 0.1.0
# The commit built: .git-hash in a tarball from `make dist`, else git's (only
# in a checkout of this tree: a tarball unpacked inside another repository,
# as packaging often does, must not take that repository's commit).
GIT_HASH    := $(or $(shell cat .git-hash 2>/dev/null),$(shell [ -e .git ] && \
                 git rev-parse --short=8 HEAD 2>/dev/null),unknown)
B           ?= build
CC          ?= cc
FUZZ_CC     ?= clang
DEPS        ?= tools/install-deps.sh
DEMO        ?= tests/demo

# What each binary links, and nothing more (with --as-needed on top).
HOSTD_PKGS  := libcurl libcjson libsystemd libcrypto libpcre2-8 libmicrohttpd zlib yaml-0.1 gnutls libcrypt \
               libxml-2.0
PLACE_PKGS  := libcjson libpcre2-8
# Tests and tools link everything either binary does.
ALL_PKGS    := $(sort $(HOSTD_PKGS) $(PLACE_PKGS))
pkg_cflags   = $(shell pkg-config --cflags $(1) 2>/dev/null)
pkg_libs     = $(shell pkg-config --libs $(1) 2>/dev/null)
PKG_CFLAGS  := $(call pkg_cflags,$(ALL_PKGS))
HOSTD_LIBS  := $(call pkg_libs,$(HOSTD_PKGS)) -lm
PLACE_LIBS  := $(call pkg_libs,$(PLACE_PKGS)) -lm
ALL_LIBS    := $(call pkg_libs,$(ALL_PKGS)) -lm

WARN   := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wpointer-arith -Wcast-qual -Wformat=2 -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE= $(WARN) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) -Iinclude $(PKG_CFLAGS) \
             -DHOSTD_VERSION='"$(VERSION)"' -DHOSTD_GIT_HASH='"$(GIT_HASH)"' -MMD -MP
LINK   = $(CC) $(SANFLAGS) -Wl,--as-needed $(LDFLAGS)

HOSTD_SRCS := $(filter-out agent/main.c,$(wildcard agent/*.c agent/aws/*.c agent/metrics/*.c watcher/*.c))
PLACE_SRCS := $(filter-out placement/main.c,$(wildcard placement/*.c))
TEST_SRCS  := $(wildcard tests/*/test-*.c tests/*/*/test-*.c)
TOOL_SRCS  := $(wildcard tests/tools/*.c)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz-*.c)
C_FILES    := $(sort $(wildcard agent/*.c agent/aws/*.c agent/metrics/*.c watcher/*.c placement/*.c include/*.h \
                tests/*.h tests/*/*.c tests/*/*/*.c))

HOSTD_OBJS := $(HOSTD_SRCS:%.c=$(B)/obj/%.o)
PLACE_OBJS := $(PLACE_SRCS:%.c=$(B)/obj/%.o)
TESTS      := $(patsubst %.c,$(B)/tests/%,$(notdir $(TEST_SRCS)))
TOOLS      := $(patsubst %.c,$(B)/tests/%,$(notdir $(TOOL_SRCS)))
FUZZERS    := $(patsubst %.c,$(B)/fuzz/%,$(notdir $(FUZZ_SRCS)))

vpath %.c $(sort $(dir $(TEST_SRCS) $(TOOL_SRCS) $(FUZZ_SRCS)))

.PHONY: all deps pkgcheck tests fuzz fuzz-run check check-plain check-asan demo bench clean \
        format format-check lint run-demo run-bench run-fuzz man conf install uninstall dist deb \
        package-test rpm pictures
all: $(B)/ecs-hostd $(B)/ecs-place

# Without the -dev packages the flags above are empty: say so once, clearly,
# instead of a page of missing headers.
pkgcheck:
	@pkg-config --exists $(ALL_PKGS) || { \
	  echo "error: pkg-config cannot find: $$(for p in $(ALL_PKGS); do \
	    pkg-config --exists $$p || printf '%s ' $$p; done)"; \
	  echo "error: run 'make deps' ($(DEPS)) first, or 'make check' / 'make demo', which do"; \
	  exit 1; }

$(B)/obj/%.o: %.c | pkgcheck
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libhostd.a: $(HOSTD_OBJS)
	@rm -f $@; $(AR) rcs $@ $^
$(B)/libplace.a: $(PLACE_OBJS)
	@rm -f $@; $(AR) rcs $@ $^

$(B)/ecs-hostd: $(B)/obj/agent/main.o $(B)/libhostd.a
	$(LINK) -o $@ $^ $(HOSTD_LIBS)
$(B)/ecs-place: $(B)/obj/placement/main.o $(B)/libplace.a
	$(LINK) -o $@ $^ $(PLACE_LIBS)

$(B)/tests/%: %.c $(B)/libhostd.a $(B)/libplace.a | pkgcheck
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -MF $@.d -Wl,--as-needed -o $@ $< $(B)/libhostd.a \
	    $(B)/libplace.a $(ALL_LIBS)

tests: all $(TESTS) $(TOOLS)

# libFuzzer targets: clang, with the library sources compiled once more for
# coverage (fuzzer-no-link) into their own objects, shared by every target.
FUZZ_FLAGS := -std=gnu11 -D_GNU_SOURCE= -g -O1 -fsanitize=address,undefined \
              -fno-sanitize-recover=all -Iinclude -Itests $(PKG_CFLAGS) \
              -DHOSTD_VERSION='"$(VERSION)"' -DHOSTD_GIT_HASH='"$(GIT_HASH)"'
FUZZ_OBJS := $(HOSTD_SRCS:%.c=$(B)/fuzzobj/%.o) $(PLACE_SRCS:%.c=$(B)/fuzzobj/%.o)
$(B)/fuzzobj/%.o: %.c | pkgcheck
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<
$(B)/fuzz/%: %.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(ALL_LIBS)
fuzz: $(FUZZERS)

deps:
	@$(DEPS)

# The documents generated from the key table (test_check_config.py fails when
# one is stale): ecs-hostd.conf(5)'s KEYS entries, between its BEGIN KEYS and
# END KEYS lines, and the example /etc/ecs/ecs-hostd.conf.
CONF5 := packaging/man/ecs-hostd.conf.5
man: $(B)/ecs-hostd
	@GEN="$$($(B)/ecs-hostd --list-keys=man)" \
	  awk '/^\.\\" BEGIN KEYS/ { print; print ENVIRON["GEN"]; skip = 1; next } /^\.\\" END KEYS/ { skip = 0 } !skip' \
	  $(CONF5) > $(CONF5).new && mv $(CONF5).new $(CONF5)
	@echo "$(CONF5): $$($(B)/ecs-hostd --list-keys=man | grep -c '^\.TP') keys"
conf: $(B)/ecs-hostd
	@$(B)/ecs-hostd --list-keys=conf > packaging/ecs-hostd.conf
	@echo "packaging/ecs-hostd.conf: $$(grep -c '^#[A-Za-z0-9_]*=' packaging/ecs-hostd.conf) keys"

# make install [DESTDIR=...] [PREFIX=/usr]: what packaging/ holds, where an
# operator's system looks for it.  The configuration directory is /etc
# whatever PREFIX says: the daemon reads /etc/ecs.  Man pages go in
# uncompressed (dh_installman and rpm's brp-compress compress them).  An
# existing ecs-hostd.conf is never overwritten, and uninstall removes it only
# when it is still the example.
PREFIX      ?= /usr
SBINDIR     ?= $(PREFIX)/sbin
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/ecs-hostd
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/usr/lib/systemd/system)
SYSUSERSDIR ?= $(or $(shell pkg-config --variable=sysusersdir systemd 2>/dev/null),/usr/lib/sysusers.d)
INSTALL     ?= install
MANPAGES    := packaging/man/ecs-place.1 packaging/man/ecs-hostd.conf.5 packaging/man/ecs-hostd.8
# The EC2 user data examples: every file under USER_DATA_DIR, if it exists.
USER_DATA_DIR ?= packaging/user-data
USER_DATA    = $(shell [ -d $(USER_DATA_DIR) ] && cd $(USER_DATA_DIR) && find . -type f | sort)
# Every file install writes, but the configuration (kept when changed).
INSTALLED    = $(SBINDIR)/ecs-hostd $(BINDIR)/ecs-place $(UNITDIR)/ecs-hostd.service \
               $(SYSUSERSDIR)/ecs-hostd.conf $(foreach m,$(MANPAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) \
               $(DOCDIR)/README.md $(DOCDIR)/iam-policy.json $(USER_DATA:./%=$(DOCDIR)/user-data/%)

install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/ecs
	$(INSTALL) -m 755 $(B)/ecs-hostd $(DESTDIR)$(SBINDIR)/ecs-hostd
	$(INSTALL) -m 755 $(B)/ecs-place $(DESTDIR)$(BINDIR)/ecs-place
	sed 's|^ExecStart=/usr/sbin/ecs-hostd|ExecStart=$(SBINDIR)/ecs-hostd|' packaging/systemd/ecs-hostd.service \
	    > $(DESTDIR)$(UNITDIR)/ecs-hostd.service && chmod 644 $(DESTDIR)$(UNITDIR)/ecs-hostd.service
	$(INSTALL) -m 644 packaging/systemd/ecs-hostd.sysusers $(DESTDIR)$(SYSUSERSDIR)/ecs-hostd.conf
	$(INSTALL) -m 644 packaging/man/ecs-place.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 644 packaging/man/ecs-hostd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 644 packaging/man/ecs-hostd.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 644 README.md packaging/iam-policy.json $(DESTDIR)$(DOCDIR)/
	@for f in $(USER_DATA:./%=%); do \
	  echo "$(INSTALL) -D -m 644 $(USER_DATA_DIR)/$$f $(DESTDIR)$(DOCDIR)/user-data/$$f"; \
	  $(INSTALL) -D -m 644 $(USER_DATA_DIR)/$$f $(DESTDIR)$(DOCDIR)/user-data/$$f || exit 1; done
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/ecs/ecs-hostd.conf ]; then \
	  echo "install: kept $(DESTDIR)$(SYSCONFDIR)/ecs/ecs-hostd.conf (the example: ecs-hostd --list-keys=conf)"; \
	else \
	  echo "$(INSTALL) -m 644 packaging/ecs-hostd.conf $(DESTDIR)$(SYSCONFDIR)/ecs/ecs-hostd.conf"; \
	  $(INSTALL) -m 644 packaging/ecs-hostd.conf $(DESTDIR)$(SYSCONFDIR)/ecs/ecs-hostd.conf; \
	fi
	@# On this machine, not into a package: the system user, as a package's
	@# postinst would make it (systemd-sysusers; DynamicUser= otherwise).
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
	  echo "systemd-sysusers $(SYSUSERSDIR)/ecs-hostd.conf"; systemd-sysusers $(SYSUSERSDIR)/ecs-hostd.conf; fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@[ ! -d $(DESTDIR)$(DOCDIR) ] || find $(DESTDIR)$(DOCDIR) -depth -type d -empty -delete
	@conf=$(DESTDIR)$(SYSCONFDIR)/ecs/ecs-hostd.conf; \
	if cmp -s packaging/ecs-hostd.conf $$conf; then echo "rm -f $$conf"; rm -f $$conf; \
	elif [ -e $$conf ]; then echo "uninstall: kept $$conf, which was changed"; fi

# make dist: ecs-hostd-VERSION.tar.gz, the source the packages build from:
# HEAD's tree (git archive: every file's time is the commit's, so the same
# commit gives the same bytes) and .git-hash, so that a build outside git
# still knows its commit.
DIST := ecs-hostd-$(VERSION)
dist:
	@git diff --quiet HEAD -- || echo "dist: warning: uncommitted changes are not in the tarball (HEAD is)" >&2
	@mkdir -p $(B)
	git archive --format=tar --prefix=$(DIST)/ \
	    --add-virtual-file=$(DIST)/.git-hash:"$$(git rev-parse --short=8 HEAD)"$$'\n' HEAD \
	    | gzip -n -9 > $(B)/$(DIST).tar.gz
	@echo "$(B)/$(DIST).tar.gz"

# make deb: build/deb/ecs-hostd_VERSION_ARCH.deb, built by debhelper
# (packaging/debian/ as debian/) from make dist's tarball, so from HEAD, as
# a distribution would; then lintian, which must say nothing (the overrides
# in packaging/debian/ say why for each tag they silence).
DEB_DIR     := $(B)/deb
DEB_ARCH    := $(shell dpkg --print-architecture 2>/dev/null)
DEB_VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' packaging/debian/changelog)
DEB         := $(DEB_DIR)/ecs-hostd_$(DEB_VERSION)_$(DEB_ARCH).deb
deb: dist
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)
	tar -C $(DEB_DIR) -xzf $(B)/$(DIST).tar.gz
	cp -a $(DEB_DIR)/$(DIST)/packaging/debian $(DEB_DIR)/$(DIST)/debian
	@# Not our make's variables: debian/rules runs make clean, and B=... from
	@# this command line (in MAKEFLAGS and the environment) would have it
	@# remove this build directory.
	cd $(DEB_DIR)/$(DIST) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u B \
	    DEB_BUILD_OPTIONS="parallel=2 $(DEB_BUILD_OPTIONS)" \
	    dpkg-buildpackage -b -us -uc > ../build.log 2>&1 || { tail -40 ../build.log; exit 1; }
	lintian --fail-on error,warning --info $(DEB) | tee $(DEB_DIR)/lintian.log
	@echo "$(DEB): $$(du -k $(DEB) | cut -f1) KiB"

# make rpm: build/rpm/RPMS/ARCH/ecs-hostd-VERSION-1.ARCH.rpm, rpmbuild of
# packaging/rpm/ecs-hostd.spec (for Amazon Linux 2023) from make dist's
# tarball.  Here, on Debian, the build dependencies are Debian's (--nodeps),
# tools/rpm-macros-debian stands in for systemd-rpm-macros, and the cJSON
# sources the spec names are Debian's copies of them: the upstream release
# as the .orig tarball and Debian's patches, from apt-get source (deb-src,
# which tools/install-deps.sh enables), kept in $(B)/rpm-cache.
RPM_DIR      := $(B)/rpm
RPM_CACHE    := $(B)/rpm-cache
SPEC         := packaging/rpm/ecs-hostd.spec
CJSON_VER    := $(shell sed -n 's/^%global cjson_version *//p' $(SPEC))
CJSON_DEB    := $(shell sed -n 's/^%global cjson_debian *//p' $(SPEC))
rpm: dist
	@rm -rf $(RPM_DIR) && mkdir -p $(RPM_DIR)/SOURCES $(RPM_CACHE)
	@[ -f $(RPM_CACHE)/cjson_$(CJSON_DEB).debian.tar.xz ] || \
	  (cd $(RPM_CACHE) && apt-get source -qq --download-only cjson=$(CJSON_DEB)) || \
	  { echo "make rpm: cannot fetch cJSON $(CJSON_DEB)'s source (deb-src: tools/install-deps.sh)" >&2; exit 1; }
	cp $(B)/$(DIST).tar.gz $(RPM_DIR)/SOURCES/
	cp $(RPM_CACHE)/cjson_$(CJSON_VER).orig.tar.gz $(RPM_DIR)/SOURCES/cJSON-$(CJSON_VER).tar.gz
	cp $(RPM_CACHE)/cjson_$(CJSON_DEB).debian.tar.xz $(RPM_DIR)/SOURCES/
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u B rpmbuild -bb --nodeps \
	    --define "_topdir $(abspath $(RPM_DIR))" --load tools/rpm-macros-debian $(SPEC) \
	    > $(RPM_DIR)/build.log 2>&1 || { tail -40 $(RPM_DIR)/build.log; exit 1; }
	@for f in $(RPM_DIR)/RPMS/*/*.rpm; do echo "$$f: $$(du -k $$f | cut -f1) KiB"; done

# make package-test: the .deb installed, run, removed and purged in a fresh
# minimal Debian root (debootstrap, cached under $(B)/package-test-cache),
# as tests/packaging/package-test says.  Root only; about a minute once the
# root is cached.
package-test: deb
	@tests/packaging/package-test $(B)

# The picture README.md shows: the lab 5 cluster losing us-east-1a.
# tests/placement/test_resilience.py checks it is what ecs-place draws now.
LAB5 := tests/placement/fixtures
pictures: $(B)/ecs-place
	@$(B)/ecs-place resilience --instances $(LAB5)/lab5-instances.json \
	    --tasks $(LAB5)/lab5-tasks.json --services $(LAB5)/lab5-services.json \
	    --task-definitions $(LAB5)/lab5-taskdefs --lose zone --show us-east-1a --output svg \
	    > docs/lab5-resilience.svg.new; test $$? -le 1
	@mv docs/lab5-resilience.svg.new docs/lab5-resilience.svg
	@echo "docs/lab5-resilience.svg: $$(wc -c < docs/lab5-resilience.svg) bytes"

# The static gates: the checked-in .clang-format, 100 columns, and the
# layout rules (tests/lint: what the AWS clients may include, function length).
format:
	clang-format -i $(C_FILES)
format-check:
	@clang-format --dry-run -Werror $(C_FILES)
	@awk 'length > 100 { print FILENAME ":" FNR ": " length " columns (at most 100)"; bad = 1 } \
	      END { exit bad }' $(C_FILES)
	@echo "format-check: $(words $(C_FILES)) files formatted as .clang-format says"
lint: format-check
	@tests/lint

# The suite runs twice; tests/run-suite prints a `N passed, N failed` line per
# pass and tests/total sums them into the final line.  Each pass fails the
# make when a test fails (pipefail: tee does not hide it).
check: deps
	@rm -f $(B)/check.log; mkdir -p $(B)
	@$(MAKE) --no-print-directory lint
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

demo: deps
	@$(MAKE) --no-print-directory run-demo
run-demo: all $(TOOLS)
	@$(DEMO) $(B)

bench: deps
	@$(MAKE) --no-print-directory run-bench
run-bench: all $(TOOLS)
	@tests/bench $(B)

# Every fuzz target for FUZZ_SECONDS (default 60) each, on a scratch corpus.
FUZZ_SECONDS ?= 60
fuzz-run: deps
	@$(MAKE) --no-print-directory run-fuzz
run-fuzz:
	$(ASAN_MAKE) fuzz
	@tests/fuzz-run $(B)/asan $(FUZZ_SECONDS)

clean:
	rm -rf $(B)

# The compilers' dependency files; not in the package builds' trees and
# roots, which have their own (and directories such as sysusers.d).
-include $(shell find $(B) \( -path $(B)/deb -o -path $(B)/rpm -o -path '$(B)/package-test*' \) -prune \
           -o -name '*.d' -type f -print 2>/dev/null)

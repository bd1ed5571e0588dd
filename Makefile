# deployex — plain GNU make.  `make` builds, `make test` runs every test,
# `make run` starts the demo, `make install PREFIX=... DESTDIR=...` installs.

VERSION := 0.1.0
CC      ?= cc
MODE    ?= release
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   := build/$(MODE)

WARN := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wpedantic -Werror -Wshadow \
        -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
cc_option = $(shell $(CC) -Werror $(1) -E -x c /dev/null >/dev/null 2>&1 && echo $(1))
ifeq ($(MODE),asan)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else ifeq ($(MODE),fuzz)
# `make fuzz` (clang): the library instrumented for libFuzzer, the harnesses linked with it.
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
       -fno-sanitize-recover=undefined
else
OPT := -O2 -g -fstack-protector-strong
# Stack clash and control-flow protection where the compiler and target have them.
OPT += $(call cc_option,-fstack-clash-protection) $(call cc_option,-fcf-protection)
# dpkg-buildflags (and other packagers) may pass their own _FORTIFY_SOURCE level.
ifeq ($(findstring _FORTIFY_SOURCE,$(CPPFLAGS) $(CFLAGS)),)
OPT += -D_FORTIFY_SOURCE=2
endif
endif

PKGS       := yajl libarchive libcurl lua5.4 openssl libcrypt libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# CPPFLAGS, CFLAGS and LDFLAGS from the environment or the command line (a
# packager's hardening flags) come last, so that they win over the defaults.
ALL_CFLAGS  := $(WARN) $(OPT) -I. -pthread -DDEPLOYEX_VERSION='"$(VERSION)"' -MMD -MP $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(OPT) -pthread $(LDFLAGS)
LIBS       := $(PKG_LIBS) -linotifytools -lei

# The folders are the architecture (DESIGN §2; README's map).  Every project
# #include is relative to the top of the tree: "state/config.h".
# The functional core: links against libc alone (checked by `core-check`).
CORE_SRC   := $(wildcard reconciler/core/*.c)
BASE_SRC   := $(wildcard base/*.c)
STATE_SRC  := $(wildcard state/*.c)
BUCKET_SRC := $(wildcard buckets/*.c)
LUA_SRC    := $(wildcard lua/*.c)
BEAM_SRC   := $(wildcard beam/*.c)
WEB_SRC    := $(wildcard web/*.c)
MAIN_SRC   := reconciler/cmd/main.c
FRONT_SRC  := reconciler/cmd/front_main.c
DAEMON_SRC := reconciler/daemon/deployexd.c
LOGW_SRC   := reconciler/jobs/logwriter_main.c
HOOKR_SRC  := reconciler/jobs/runner_main.c
UNPK_SRC   := reconciler/jobs/unpack_main.c
SHELL_SRC  := $(filter-out $(MAIN_SRC) $(FRONT_SRC) $(DAEMON_SRC) $(LOGW_SRC) $(HOOKR_SRC) $(UNPK_SRC),$(wildcard reconciler/cmd/*.c reconciler/daemon/*.c \
                reconciler/jobs/*.c reconciler/shared/*.c))
LIB_SRC    := $(CORE_SRC) $(BASE_SRC) $(STATE_SRC) $(BUCKET_SRC) $(LUA_SRC) $(BEAM_SRC) $(WEB_SRC) \
              $(SHELL_SRC)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
CORE_OBJ := $(call obj,$(CORE_SRC))
LIB_OBJ  := $(call obj,$(LIB_SRC))
MAIN_OBJ := $(call obj,$(MAIN_SRC))
# The CLI (docs/daemon.md, "Programs"): bin/deployex is the lean front, the
# readers linked with yajl alone, so that a reader calling into libcurl,
# libarchive, OpenSSL, Lua or libei fails this link; every other command is
# the full program's, deployex-cli (MAIN_OBJ, every library), which it execs.
FRONT_OBJ  := $(call obj,$(FRONT_SRC))
FRONT_LIBS := $(shell pkg-config --libs yajl 2>/dev/null)
# The daemon, deployexd (docs/daemon.md, "Programs"): its main and what it
# needs of libdeployex.a, linked with yajl alone, so that a daemon object
# calling into libcurl, libarchive, OpenSSL, Lua or libei fails this link.
DAEMON_OBJ  := $(call obj,$(DAEMON_SRC))
DAEMON_LIBS := $(shell pkg-config --libs yajl 2>/dev/null)
# The hook runner, deployex-hook: the jobs the daemon runs per instance (__hook,
# __ready), linked without libcurl, libarchive and OpenSSL, so that an object of
# theirs that calls into any of them fails this link (docs/daemon.md, "Programs";
# the C node's TLS is installed by deployex-cli's main, beam/tls.h).
HOOKR_OBJ  := $(call obj,$(HOOKR_SRC))
HOOKR_LIBS := $(shell pkg-config --libs yajl lua5.4 2>/dev/null) -lei
# The unpacker, deployex-unpack: the daemon's __unpack jobs, libarchive and yajl alone.
# libarchive statically (debian/copyright, Built-Using): its shared library
# pulls in libxml2, ICU and libstdc++, 2.8 ms of dynamic linking at each of
# the unpacker's starts, one an instance (docs/daemon.md PROGRAMS); the tar
# reader and the gzip filter it uses need zlib alone, so a use of any other
# format or filter fails this link.
UNPK_OBJ  := $(call obj,$(UNPK_SRC))
UNPK_LIBS := -Wl,-Bstatic -larchive -Wl,-Bdynamic $(shell pkg-config --libs yajl 2>/dev/null) \
             $(shell pkg-config --libs zlib 2>/dev/null)
# The log writer the daemon runs per instance, deployex-log: one per instance
# makes its memory count by the fleet, so it is linked statically with musl as
# a static PIE (docs/performance.md, "one log writer per instance": 20-odd kB
# of private memory; glibc, dynamic or static, costs 56 kB and more before it
# reads a byte).  Its objects are built against musl's headers in every MODE,
# without sanitizers (neither links statically): the tests run the program
# that ships, and its code runs under ASan as `deployex __log` and in the unit
# tests.  Needs musl-tools (scripts/install-deps).
MUSL_ARCH := $(subst -gnu,-musl,$(shell $(CC) -print-multiarch 2>/dev/null))
MUSL_LIB  := /usr/lib/$(MUSL_ARCH)
MUSL_INC  := /usr/include/$(MUSL_ARCH)
LOG_OPT   := -O2 -g -fPIE -ffunction-sections -fdata-sections -fstack-protector-strong \
             $(call cc_option,-fstack-clash-protection) $(call cc_option,-fcf-protection)
LOG_CFLAGS := $(WARN) $(LOG_OPT) -I. -nostdinc -isystem $(MUSL_INC) \
              -isystem $(shell $(CC) -print-file-name=include) -MMD -MP $(CPPFLAGS) $(CFLAGS)
LOG_LDFLAGS := -static-pie -nostdlib -Wl,-z,relro,-z,now -Wl,--gc-sections $(LDFLAGS)
LOG_OBJ  := $(patsubst %.c,$(BUILD)/obj-musl/%.o,$(LOGW_SRC) reconciler/jobs/logwriter.c base/util.c \
              base/fsutil.c)

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
# Unit tests named here link the core only: no yajl, curl, archive, lua, ei.
CORE_TESTS := $(BUILD)/tests/test_plan $(BUILD)/tests/test_backoff $(BUILD)/tests/test_readiness $(BUILD)/tests/test_fleet_gate

# Man pages: each is a docs/ page (written as a man page) through md2scdoc and
# scdoc, so the docs and the man pages are one text.
MAN_DIR := build/man
MANS    := $(MAN_DIR)/deployex.1 $(MAN_DIR)/deployex.json.5 $(MAN_DIR)/deployex-state.5 \
           $(MAN_DIR)/deployex-hooks.7

.PHONY: musl-check all deps test unit-tests core-check analyze run install clean check-clang fuzz fuzz-bins man deb
all: $(BUILD)/deployex $(BUILD)/deployex-cli $(BUILD)/deployexd $(BUILD)/deployex-log $(BUILD)/deployex-hook \
     $(BUILD)/deployex-unpack

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/libdeployex.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/deployex: $(FRONT_OBJ) $(BUILD)/libdeployex.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(FRONT_LIBS)

$(BUILD)/deployex-cli: $(MAIN_OBJ) $(BUILD)/libdeployex.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/deployexd: $(DAEMON_OBJ) $(BUILD)/libdeployex.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DAEMON_LIBS)

$(BUILD)/deployex-hook: $(HOOKR_OBJ) $(BUILD)/libdeployex.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(HOOKR_LIBS)

$(BUILD)/deployex-unpack: $(UNPK_OBJ) $(BUILD)/libdeployex.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(UNPK_LIBS)

$(BUILD)/obj-musl/%.o: %.c | musl-check
	@mkdir -p $(dir $@)
	$(CC) $(LOG_CFLAGS) -c $< -o $@

# musl's start files and libc.a around the objects; libgcc for what the compiler may call.
$(BUILD)/deployex-log: $(LOG_OBJ)
	$(CC) $(LOG_LDFLAGS) -o $@ $(MUSL_LIB)/rcrt1.o $(MUSL_LIB)/crti.o \
	  $(shell $(CC) -print-file-name=crtbeginS.o) $^ -L$(MUSL_LIB) -lc -lgcc \
	  $(shell $(CC) -print-file-name=crtendS.o) $(MUSL_LIB)/crtn.o
	@scripts/static-pie-check $@

musl-check:
	@test -f $(MUSL_LIB)/libc.a -a -f $(MUSL_LIB)/rcrt1.o || { echo "deployex-log is linked with musl, \
	  not found in $(MUSL_LIB): install musl-tools (scripts/install-deps)" >&2; exit 1; }

$(filter $(CORE_TESTS),$(UNIT_BINS)): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka

$(filter-out $(CORE_TESTS),$(UNIT_BINS)): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libdeployex.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

# test_executor records every journal write (the order of the phases' journal points).
$(BUILD)/tests/test_executor: ALL_LDFLAGS += -Wl,--wrap=journal_save

man: $(MANS)
$(MAN_DIR)/deployex.1: docs/cli.md
$(MAN_DIR)/deployex.json.5: docs/configuration.md
$(MAN_DIR)/deployex-state.5: docs/state-files.md
$(MAN_DIR)/deployex-hooks.7: docs/hooks.md
$(MANS): docs/man/md2scdoc
	@mkdir -p $(dir $@)
	docs/man/md2scdoc $(filter docs/%.md,$^) | scdoc >$@.tmp && mv $@.tmp $@

unit-tests: $(UNIT_BINS) $(BUILD)/deployex $(BUILD)/deployex-cli $(BUILD)/deployexd $(BUILD)/deployex-log $(BUILD)/deployex-hook \
            $(BUILD)/deployex-unpack \
            $(BUILD)/tests/test_fuzz_corpus

# ---- fuzz/: libFuzzer harnesses for every parser of untrusted bytes (docs/fuzzing.md) ----
FUZZ_NAMES   := config current override instance history ghosts journal etf term sigv4 tarpath wsframe
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
# make test: each harness once over each file of fuzz/corpus/NAME, in this build (any compiler).
FUZZ_REG_OBJ := $(patsubst %,$(BUILD)/obj/fuzz/reg_%.o,$(FUZZ_NAMES))
$(BUILD)/obj/fuzz/reg_%.o: fuzz/fuzz_%.c fuzz/fuzz.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -DFUZZ_ENTRY=fuzz_$*_one -c $< -o $@
$(BUILD)/obj/fuzz/regress.o: fuzz/regress.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -DFUZZ_CORPUS_DIR='"$(CURDIR)/fuzz/corpus"' -c $< -o $@
$(BUILD)/tests/test_fuzz_corpus: $(BUILD)/obj/fuzz/regress.o $(FUZZ_REG_OBJ) $(BUILD)/libdeployex.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
# make fuzz FUZZ_SECONDS=N: every harness N seconds under libFuzzer (clang), new inputs kept in
# build/fuzz/corpus/NAME, the statistics in build/fuzz/NAME.log; stops at the first crash.
fuzz-bins: $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/fuzz/fuzz_%.o $(BUILD)/libdeployex.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)
fuzz:
	$(MAKE) CC=$(FUZZ_CC) MODE=fuzz fuzz-bins
	@for n in $(FUZZ_NAMES); do \
	  mkdir -p build/fuzz/corpus/$$n; \
	  echo "fuzz $$n: $(FUZZ_SECONDS) s"; \
	  build/fuzz/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix=build/fuzz/$$n- \
	    -print_final_stats=1 build/fuzz/corpus/$$n fuzz/corpus/$$n >build/fuzz/$$n.log 2>&1 || \
	    { tail -n 40 build/fuzz/$$n.log; echo "fuzz $$n: CRASH (build/fuzz/$$n.log)"; exit 1; }; \
	  grep -h 'stat::number_of_executed_units' build/fuzz/$$n.log | sed "s/^/fuzz $$n: /"; \
	done

# The core stays pure, checked by its symbols (scripts/core-check): what its
# objects reference is each other and libc functions that only compute; only
# desired_merge allocates (into the caller's struct desired).  The core's unit
# tests also link the core objects alone (CORE_TESTS above).
CORE_ALLOC_OBJ := $(call obj,reconciler/core/desired_merge.c)
core-check: $(CORE_OBJ) $(filter $(CORE_TESTS),$(UNIT_BINS))
	@scripts/core-check --alloc "$(CORE_ALLOC_OBJ)" $(CORE_OBJ)

deps:
	@scripts/install-deps && scripts/install-test-peers

test: deps
	$(MAKE) MODE=asan unit-tests core-check
	tests/run build/asan

run: deps all
	examples/local/run-demo

analyze:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE \
	  -I. base state buckets reconciler lua beam web
	clang-tidy --quiet $(LIB_SRC) $(MAIN_SRC) $(FRONT_SRC) $(DAEMON_SRC) $(HOOKR_SRC) $(UNPK_SRC) -- $(WARN) -I. $(PKG_CFLAGS) -DDEPLOYEX_VERSION='"$(VERSION)"'

check-clang:
	$(MAKE) CC=clang MODE=clang all unit-tests

install: all man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/deployex/hooks \
	  $(DESTDIR)$(PREFIX)/share/doc/deployex $(DESTDIR)$(PREFIX)/lib/deployex \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	for m in $(MANS); do s=$${m##*.}; install -d $(DESTDIR)$(PREFIX)/share/man/man$$s && \
	  install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/ || exit 1; done
	install -m 0644 share/bash-completion/completions/deployex \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/deployex
	install -m 0755 $(BUILD)/deployex $(DESTDIR)$(PREFIX)/bin/deployex
	install -m 0755 $(BUILD)/deployex-cli $(DESTDIR)$(PREFIX)/lib/deployex/deployex-cli
	install -m 0755 $(BUILD)/deployexd $(DESTDIR)$(PREFIX)/lib/deployex/deployexd
	install -m 0755 $(BUILD)/deployex-log $(DESTDIR)$(PREFIX)/lib/deployex/deployex-log
	install -m 0755 $(BUILD)/deployex-hook $(DESTDIR)$(PREFIX)/lib/deployex/deployex-hook
	install -m 0755 $(BUILD)/deployex-unpack $(DESTDIR)$(PREFIX)/lib/deployex/deployex-unpack
	for f in hooks/*.lua; do [ -e "$$f" ] && install -m 0644 $$f $(DESTDIR)$(PREFIX)/share/deployex/hooks/; done; true
	install -d $(DESTDIR)$(PREFIX)/share/deployex/web
	install -m 0644 web/assets/*.html web/assets/*.css web/assets/*.js $(DESTDIR)$(PREFIX)/share/deployex/web/
	install -d $(DESTDIR)$(PREFIX)/share/deployex/web/vendor/xterm
	install -m 0644 web/assets/vendor/xterm/* $(DESTDIR)$(PREFIX)/share/deployex/web/vendor/xterm/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/deployex/

# The Debian package, built from this tree into build/deb/ (dpkg-buildpackage
# writes to ..; the results are moved here), then checked: lintian with no
# error or warning, and every hardening feature in the binaries but control-flow
# protection: that needs a CET-enabled libc (crt1.o), which Debian 12 does not
# ship, so no binary linked there can have it (the objects are built with it).
# deployex-log is static: hardening-check looks for its stack protector among
# undefined symbols, which a static binary has none of, so scripts/static-pie-check
# finds it in the unstripped build instead (and that it is static, PIE, RELRO, NOW).
DEB_DIR := build/deb
deb: deps
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)
	dpkg-buildpackage -us -uc -b
	@v=$$(dpkg-parsechangelog -S Version); a=$$(dpkg-architecture -qDEB_HOST_ARCH); \
	  for f in deployex_$${v}_$$a.deb deployex-dbgsym_$${v}_$$a.deb deployex_$${v}_$$a.buildinfo \
	    deployex_$${v}_$$a.changes; do [ -e ../$$f ] && mv ../$$f $(DEB_DIR)/; done; \
	  deb=$(DEB_DIR)/deployex_$${v}_$$a.deb; \
	  lintian --fail-on error,warning --suppress-tags-from-file debian/lintian-run.ignore $$deb && \
	  rm -rf $(DEB_DIR)/root && dpkg-deb -x $$deb $(DEB_DIR)/root && \
	  hardening-check --nocfprotection $(DEB_DIR)/root/usr/bin/deployex \
	    $$(ls -d $(DEB_DIR)/root/usr/lib/deployex/* | grep -v '/deployex-log$$') && \
	  hardening-check --nocfprotection --nostackprotector $(DEB_DIR)/root/usr/lib/deployex/deployex-log && \
	  scripts/static-pie-check $(DEB_DIR)/root/usr/lib/deployex/deployex-log build/release/deployex-log && \
	  rm -rf $(DEB_DIR)/root && echo "deb: $$deb"

clean:
	rm -rf build

-include $(shell find build -name '*.d' -type f 2>/dev/null)

# etsn — top-level build. `make` builds bin/etsn, bin/etsn-mockd, bin/etsn-conform.
# `make test` and `make demo` install the Debian packages first when any is missing.

PKGS      := libxml-2.0 openssl libcurl libmicrohttpd krb5-gssapi krb5 check libedit yaml-0.1
DEB_PKGS  := gcc make pkg-config libxml2-dev libssl-dev libkrb5-dev krb5-kdc krb5-admin-server \
             gss-ntlmssp libcurl4-openssl-dev libmicrohttpd-dev check libedit-dev valgrind \
             tmux clang-format time tcpdump openssl ca-certificates strace iproute2 python3-winrm python3-requests-ntlm \
             golang-go golang-github-masterzen-winrm-dev tshark libyaml-dev libhttp-parser-dev
FUZZ_DEB_PKGS := clang libclang-rt-14-dev
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Build variants: plain (build/, bin/), asan (build/asan), memcheck reuses plain.
BUILD     ?= build
BIN       ?= bin
SAN_FLAGS ?=
CC        ?= gcc
CFLAGS    ?= -O2 -g
WARN      := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser -lpthread -lm
ALL_CFLAGS = $(WARN) $(CFLAGS) $(SAN_FLAGS) $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)

# Library sources: a directory's .c files less its tests (test_*.c), fuzz
# targets (fuzz_*.c) and program entry points ($(2)).
not_lib = $(filter test_% fuzz_%,$(notdir $(1)))
srcs = $(foreach f,$(filter-out $(2),$(wildcard $(1))),$(if $(call not_lib,$(f)),,$(f)))
CORE_SRC   := $(call srcs,ref/core/*.c ref/auth/*.c ref/net/*.c)
CLIENT_SRC := $(call srcs,ref/client/*.c,ref/client/main.c)
MOCK_SRC   := $(call srcs,mockserver/*.c,mockserver/main.c)
CONF_SRC   := $(call srcs,conformance/*.c,conformance/main.c)
IMPORT_SRC := $(call srcs,importer/*.c,importer/main.c)
TEST_SRC   := $(wildcard ref/*/test_*.c mockserver/test_*.c conformance/test_*.c importer/test_*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
CORE_LIB   := $(BUILD)/libetsn-core.a
CLIENT_LIB := $(BUILD)/libetsn-client.a
MOCK_LIB   := $(BUILD)/libetsn-mock.a
CONF_LIB   := $(BUILD)/libetsn-conform.a
IMPORT_LIB := $(BUILD)/libetsn-import.a
TESTS      := $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(TEST_SRC)))
PROGS      := $(BIN)/etsn $(BIN)/etsn-mockd $(BIN)/etsn-conform $(BIN)/etsn-transcript \
              $(BIN)/etsn-pcap-import

.PHONY: all deps ensure-deps test unit capture-check replay-check conformance demo bench asan memcheck fuzz clean format \
        format-check pywinrm-check winrm-go-check winrs-replay-check mutants
all: $(PROGS) $(TESTS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(CORE_LIB): $(call obj,$(CORE_SRC))
$(CLIENT_LIB): $(call obj,$(CLIENT_SRC))
$(MOCK_LIB): $(call obj,$(MOCK_SRC))
$(CONF_LIB): $(call obj,$(CONF_SRC))
$(IMPORT_LIB): $(call obj,$(IMPORT_SRC))
$(BUILD)/%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/etsn: $(BUILD)/ref/client/main.o $(CLIENT_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BIN)/etsn-mockd: $(BUILD)/mockserver/main.o $(MOCK_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BIN)/etsn-conform: $(BUILD)/conformance/main.o $(CONF_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BIN)/etsn-transcript: $(BUILD)/tools/etsn-transcript.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BIN)/etsn-pcap-import: $(BUILD)/importer/main.o $(IMPORT_LIB) $(CLIENT_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# A unit test links the archive of the directory it lives in, then the core.
define test_rule
$(BUILD)/tests/$(basename $(notdir $(1))): $(BUILD)/$(basename $(1)).o $(2) $(CORE_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)
endef
$(foreach t,$(filter ref/%,$(TEST_SRC)),$(eval $(call test_rule,$(t),$(CLIENT_LIB))))
$(foreach t,$(filter mockserver/%,$(TEST_SRC)),$(eval $(call test_rule,$(t),$(MOCK_LIB))))
$(foreach t,$(filter conformance/%,$(TEST_SRC)),$(eval $(call test_rule,$(t),$(CONF_LIB))))
$(foreach t,$(filter importer/%,$(TEST_SRC)),$(eval $(call test_rule,$(t),$(IMPORT_LIB))))

deps:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(DEB_PKGS)

ensure-deps:
	@tools/check-deps.sh $(PKGS) || $(MAKE) --no-print-directory deps

# Unit tests, then the conformance suite against our own client and mock,
# failing if any of their processes tries to reach an address off loopback.
test: ensure-deps
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@tools/check-egress.sh --self-test -- \
	    $(MAKE) --no-print-directory format-check source-check unit capture-check replay-check \
	    pywinrm-check winrs-replay-check winrm-go-check conformance
	@tools/check-stock-krb5.sh $(BIN)

# Every case cites only what a reader can open (docs/sources.md); the
# self-test first shows the check rejects each kind of bad citation.
.PHONY: source-check
source-check:
	@tools/check-sources.sh --self-test && tools/check-sources.sh

unit: $(TESTS)
	@tools/run-units.sh $(UNIT_WRAPPER) -- $(TESTS)

conformance: $(PROGS)
	$(BIN)/etsn-conform --client $(BIN)/etsn --mockd $(BIN)/etsn-mockd \
	    --cases conformance/cases --fixtures fixtures --junit $(BUILD)/conformance.xml $(CONFORM_FLAGS)

# pywinrm (Debian's python3-winrm) against the mock's WinRS cmd shell.
pywinrm-check: $(BIN)/etsn-mockd
	@tools/check-pywinrm.sh $(BIN)

# pywinrm's session recorded (etsn-mockd --record) and captured (tcpdump, as
# root), both replayed (etsn-mockd --replay) to pywinrm: the same results;
# masterzen/winrm's and etsn's sessions recorded by the mock and replayed too.
winrs-replay-check: $(BIN)/etsn $(BIN)/etsn-mockd $(BIN)/etsn-pcap-import
	@tools/check-winrs-replay.sh $(BIN) $(BUILD)

# masterzen/winrm (Debian's Go package) against it too, NTLM over HTTPS.
winrm-go-check: $(BIN)/etsn-mockd
	@tools/check-winrm-go.sh $(BIN) $(BUILD)

# Each wire constant and claimed behaviour mutated in turn; prints the kill
# ratio (tools/mutants.list, docs/conformance.md "Mutation check").
mutants: ensure-deps
	@tools/mutants.sh $(MUTANTS_FLAGS)

# A tcpdump capture of a session shows sealed bodies only (skipped unless root);
# etsn-pcap-import decrypts it and the imported transcript replays to etsn.
capture-check: $(BIN)/etsn $(BIN)/etsn-mockd $(BIN)/etsn-pcap-import $(BIN)/etsn-transcript
	@tools/check-capture.sh $(BIN)

# Record a sealed session (ETSN_RECORD), replay it with etsn-mockd --replay: same screen.
replay-check: $(BIN)/etsn $(BIN)/etsn-mockd $(BIN)/etsn-transcript
	@tools/check-replay.sh $(BIN)

demo: ensure-deps
	@$(MAKE) --no-print-directory $(BIN)/etsn $(BIN)/etsn-mockd
	@tools/demo.sh $(BIN)

bench: ensure-deps
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@tools/bench.sh $(BIN)

asan: ensure-deps
	@LSAN_OPTIONS=suppressions=$(CURDIR)/tools/lsan.supp:fast_unwind_on_malloc=0:print_suppressions=0 \
	    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/bin CC=gcc \
	    SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    CONFORM_FLAGS="--timeout-factor 4" all unit conformance

memcheck: ensure-deps
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@$(MAKE) --no-print-directory unit conformance UNIT_WRAPPER=--valgrind \
	    CONFORM_FLAGS="--valgrind"

# libFuzzer targets (ref/*/fuzz_*.c, importer/fuzz_*.c), each run for FUZZ_SECONDS.
FUZZ_SECONDS ?= 30
FUZZ_SRC := $(wildcard ref/*/fuzz_*.c importer/fuzz_*.c)
fuzz: ensure-deps
	@command -v clang >/dev/null || $(SUDO) apt-get install -y -qq $(FUZZ_DEB_PKGS)
	@mkdir -p build/fuzz
	@set -e; for f in $(FUZZ_SRC); do \
	    name=$$(basename $$f .c); \
	    clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) \
	        -o build/fuzz/$$name $$f $(CORE_SRC) $(IMPORT_SRC) $(PKG_LIBS); \
	    mkdir -p build/fuzz/$$name.corpus; \
	    echo "fuzzing $$name for $(FUZZ_SECONDS)s"; \
	    build/fuzz/$$name -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build/fuzz/$$name.corpus \
	        $$(ls -d $$(dirname $$f)/corpus/$$name 2>/dev/null) \
	        2>build/fuzz/$$name.log || { tail -n 40 build/fuzz/$$name.log; exit 1; }; \
	done

format:
	clang-format -i $(wildcard ref/*/*.[ch] mockserver/*.[ch] conformance/*.[ch] tools/*.c importer/*.[ch])
format-check:
	@clang-format --dry-run -Werror $(wildcard ref/*/*.[ch] mockserver/*.[ch] conformance/*.[ch] tools/*.c importer/*.[ch]) \
	    && echo "format: every C file follows .clang-format"

clean:
	rm -rf build bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

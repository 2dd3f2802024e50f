# Ember: one plain Makefile.
#   make            build build/ember
#   make test       install deps if needed, build, run unit + integration tests + short fuzz
#   make run        build and run the server on :4040 storing in ./data
#   make bench      run the benchmarks and append to bench/RESULTS.md
#   make fuzz       run every fuzz target for FUZZ_SECONDS each (default 60)
# Knobs: SANITIZE=address,undefined | SANITIZE=thread, BUILD=<dir> (default build), CC.

BUILD    ?= build
CC       ?= cc
SANITIZE ?=
OPT      ?= -O2
FUZZ_SECONDS ?= 60

PKGS     := libprotobuf-c jansson yaml-0.1 libpcre2-8 libzstd zlib libdeflate libxxhash libcurl
DEPS_OK  := $(BUILD)/.deps-ok

CFLAGS_BASE := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
  -Wno-missing-field-initializers -D_GNU_SOURCE -fno-omit-frame-pointer \
  -Isrc -I$(BUILD)/gen
ifneq ($(SANITIZE),)
CFLAGS_BASE += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
LDFLAGS_SAN := -fsanitize=$(SANITIZE)
endif
GIT_REV  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_BR   := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
CFLAGS_BASE += -DEMBER_GIT_REVISION='"$(GIT_REV)"' -DEMBER_GIT_BRANCH='"$(GIT_BR)"'
# The eBPF agent (src/agent/*.bpf.c, docs/internals/agent.md): built with BPF support when
# this machine has kernel BTF (for vmlinux.h), bpftool, clang and libbpf; otherwise the agent
# is built without it and `ember agent` says what was missing. The server never needs it.
BPF_SRC     := $(wildcard src/agent/*.bpf.c)
BPF_MISSING := $(strip $(if $(wildcard /sys/kernel/btf/vmlinux),,no kernel BTF (/sys/kernel/btf/vmlinux);) \
  $(if $(shell command -v bpftool 2>/dev/null),,bpftool not installed;) \
  $(if $(shell command -v clang 2>/dev/null),,clang not installed;) \
  $(if $(wildcard /usr/include/bpf/libbpf.h),,libbpf-dev not installed;))
ifeq ($(BPF_MISSING),)
BPF_SKEL    := $(patsubst src/agent/%.bpf.c,$(BUILD)/gen/%.skel.h,$(BPF_SRC))
BPF_LDLIBS  := -lbpf
CFLAGS_BASE += -DEMBER_HAVE_BPF
else
BPF_SKEL    :=
BPF_LDLIBS  :=
CFLAGS_BASE += -DEMBER_BPF_MISSING='"$(BPF_MISSING)"'
endif
CFLAGS  += $(CFLAGS_BASE)
LDLIBS  := -lhttp_parser -lprotobuf-c -ljansson -lyaml -lpcre2-8 -lzstd -lz -ldeflate -lxxhash -lcurl -lpthread -lm
# The agent's symboliser reads ELF/DWARF (libelf, libdw) and demangles C++/Rust (libiberty).
LDLIBS  += $(BPF_LDLIBS) -lelf -ldw -lz -liberty
LDFLAGS += $(LDFLAGS_SAN)

# The shared test data (real profiles): ../shared/testdata next to the project, as laid out
# on the development machines; override with TESTDATA=<dir>.
TESTDATA ?= $(abspath $(firstword $(wildcard ../shared/testdata /work/shared/testdata) ../shared/testdata))
export EMBER_TESTDATA := $(TESTDATA)

PROTOS    := $(wildcard proto/*.proto)
PROTO_C   := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H   := $(PROTO_C:.c=.h)

LIB_SRC   := $(filter-out src/cli/main.c %.bpf.c,$(shell find src -name '*.c' | sort))
LIB_OBJ   := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(PROTO_C))
TEST_SRC  := $(shell find tests/unit -name '*_test.c' 2>/dev/null | sort)
TEST_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRC))
FUZZ_SRC  := $(wildcard fuzz/*.c)
FUZZ_BIN  := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

# The web UI: every file under ui/ becomes $(BUILD)/gen/ui_assets.c (tools/uigen.c), built
# into libember.a; the binary never reads ui/ at run time. UI_LIST records the file list so
# that adding or removing a file regenerates the table too. See docs/internals/ui.md.
UI_DIR   ?= ui
UI_FILES := $(shell find $(UI_DIR) -type f ! -name '.*' ! -name '*~' 2>/dev/null | LC_ALL=C sort)
UI_LIST  := $(BUILD)/gen/ui_files.txt
$(shell mkdir -p $(BUILD)/gen && { echo '$(UI_DIR) $(UI_FILES)' | cmp -s - $(UI_LIST) || echo '$(UI_DIR) $(UI_FILES)' > $(UI_LIST); })
LIB_OBJ  += $(BUILD)/obj/gen/ui_assets.o

.PHONY: all deps test unit integ ui-test run bench fuzz fuzz-short clean
.SECONDARY:

all: $(BUILD)/ember

$(DEPS_OK): scripts/install-deps.sh
	@bash scripts/install-deps.sh
	@mkdir -p $(BUILD) && touch $@

deps: $(DEPS_OK)

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto | $(DEPS_OK)
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

$(BUILD)/tools/uigen: tools/uigen.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $< -lxxhash -ldeflate

$(BUILD)/gen/ui_assets.c: $(BUILD)/tools/uigen $(UI_FILES) $(UI_LIST)
	@mkdir -p $(dir $@)
	$(BUILD)/tools/uigen $@ $(UI_DIR) $(UI_FILES)

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Werror -Wshadow,$(CFLAGS)) -MMD -MP -c -o $@ $<

$(BUILD)/obj/%.o: src/%.c $(PROTO_H) $(BPF_SKEL) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# vmlinux.h from the running kernel's BTF, the BPF object, its libbpf skeleton.
$(BUILD)/gen/vmlinux.h: | $(DEPS_OK)
	@mkdir -p $(BUILD)/gen
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/%.bpf.o: src/agent/%.bpf.c src/agent/%.h $(BUILD)/gen/vmlinux.h
	clang -target bpf -O2 -g -D__TARGET_ARCH_x86 -Isrc -I$(BUILD)/gen -Wall -Werror -c -o $@ $<

$(BUILD)/gen/%.skel.h: $(BUILD)/gen/%.bpf.o
	bpftool gen skeleton $< name $*_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/libember.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/ember: $(BUILD)/obj/cli/main.o $(BUILD)/libember.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libember.a tests/unit/testutil.h $(wildcard tests/unit/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -DTESTDATA_DIR='"$(TESTDATA)"' -DUI_DIR='"$(abspath $(UI_DIR))"' $(LDFLAGS) -o $@ $< $(BUILD)/libember.a -lcmocka $(LDLIBS)

unit: $(TEST_BIN)
	@bash tests/run-unit.sh $(BUILD) $(TEST_BIN)

integ: $(BUILD)/ember
	@EMBER_BIN=$(abspath $(BUILD)/ember) bash tests/run-integ.sh

# Browser tests (tests/ui/run.js, docs/internals/ui.md): Debian's Chromium driven by
# playwright-core against a real server loaded with the shared test profiles. `make test`
# runs them with the ASan/UBSan binary, so the server side is checked too (a few seconds
# more than the plain build: the browser, not the server, is the slow part).
ui-test: $(BUILD)/ember
	@EMBER_BIN=$(abspath $(BUILD)/ember) node tests/ui/run.js

# The threaded modules' tests, also under ThreadSanitizer.
TSAN_TESTS := http/server_test store/wal_test store/head_test util/metrics_test objstore/fs_test store/block_test server/overrides_test

test: $(DEPS_OK)
	$(MAKE) SANITIZE=address,undefined BUILD=build-asan all unit
	$(MAKE) SANITIZE=address,undefined BUILD=build-asan integ
	$(MAKE) SANITIZE=address,undefined BUILD=build-asan ui-test
	$(MAKE) SANITIZE=thread BUILD=build-tsan $(addprefix build-tsan/tests/,$(TSAN_TESTS))
	@bash tests/run-unit.sh build-tsan $(addprefix build-tsan/tests/,$(TSAN_TESTS))
	$(MAKE) fuzz-short

# The server, and the agent profiling this machine when `ember agent --check` says it can
# (root and BPF); the agent stops when the server does.
run: $(BUILD)/ember
	@$(BUILD)/ember server -storage.filesystem.dir=./data & srv=$$!; agent=; \
	trap 'kill $$srv 2>/dev/null' INT TERM; \
	if $(BUILD)/ember agent --check; then \
	  $(BUILD)/ember agent --server=http://127.0.0.1:4040 & agent=$$!; \
	  echo "make run: agent (pid $$agent) profiling this machine"; \
	else echo "make run: running the server without the agent (see above)"; fi; \
	wait $$srv; rc=$$?; kill $$srv 2>/dev/null && wait $$srv; \
	if [ -n "$$agent" ]; then kill $$agent 2>/dev/null; wait $$agent; fi; \
	exit $$rc

# ---- fuzzing (clang libFuzzer) ------------------------------------------------------
FUZZ_CFLAGS := $(filter-out -fsanitize=% -fno-sanitize-recover=all,$(CFLAGS_BASE)) -fsanitize=fuzzer-no-link,address,undefined
FUZZ_LIB_OBJ := $(patsubst src/%.c,$(BUILD)/fuzzobj/%.o,$(LIB_SRC)) $(patsubst $(BUILD)/gen/%.c,$(BUILD)/fuzzobj/gen/%.o,$(PROTO_C)) $(BUILD)/fuzzobj/gen/ui_assets.o

$(BUILD)/fuzzobj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	clang $(filter-out -Werror -Wshadow,$(FUZZ_CFLAGS)) -c -o $@ $<

$(BUILD)/fuzzobj/%.o: src/%.c $(PROTO_H) $(BPF_SKEL) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libember-fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/%: fuzz/%.c $(BUILD)/libember-fuzz.a
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/libember-fuzz.a $(LDLIBS)

fuzz: $(FUZZ_BIN)
	@bash tests/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

fuzz-short: $(DEPS_OK)
	$(MAKE) BUILD=build-fuzz $(patsubst $(BUILD)/%,build-fuzz/%,$(FUZZ_BIN))
	@bash tests/run-fuzz.sh 10 $(patsubst $(BUILD)/%,build-fuzz/%,$(FUZZ_BIN))

$(BUILD)/bench/%: bench/%.c $(BUILD)/libember.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libember.a $(LDLIBS)

bench: $(BUILD)/ember $(BENCH_BIN)
	@bash bench/run.sh $(BUILD)

clean:
	rm -rf build build-asan build-tsan build-fuzz build-*

-include $(shell find $(BUILD)/obj $(BUILD)/fuzzobj -name '*.d' 2>/dev/null)

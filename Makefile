# topicfs: build, test and install.
#
#   make                 the library (build/libtopicfs.a) and the daemon (build/topicfs)
#   make test            unit tests, then integration tests that really mount
#   make test SANITIZE=1 the same, built with AddressSanitizer and UBSan (in build-san/)
#   make ci              install missing packages, then both of the above, then
#                        each fuzzer briefly (make fuzz-smoke)
#   make deps            install missing Debian packages (apt-get; sudo when not root)
#   make install         the daemon, its topicfs-dump link and topicfs.1 under
#                        $(DESTDIR)$(PREFIX) (PREFIX=/usr/local); make uninstall
#   make bench           the benchmark (tests/bench/run.sh): installs what is missing,
#                        builds, mounts, prints the table; BENCH_MB=32 BENCH_RUNS=3 is quick

CC      ?= gcc
PKGS     = fuse3 libzstd
W        = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wvla -Wpointer-arith -Wno-unused-parameter
OPT     ?= -O2 -g
CFLAGS  += -std=gnu11 $(OPT) $(W) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread -MMD -MP
LDLIBS  += -pthread

ifeq ($(SANITIZE),1)
B       := build-san
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SANITIZE),thread)
B       := build-tsan
CFLAGS  += -fsanitize=thread
LDFLAGS += -fsanitize=thread
else
B       := build
endif
# A failed teardown, or a leak, comes after Criterion counted the test as
# passed: fail the run on either.
TEST_RUN := scripts/testrun.sh

FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null)
FUSE_LIBS   := $(shell pkg-config --libs fuse3 2>/dev/null)
ZSTD_LIBS   := $(shell pkg-config --libs libzstd 2>/dev/null || echo -lzstd)
CRIT_LIBS   := $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

CORE_SRC := $(wildcard core/*.c)
FS_SRC   := $(wildcard fs/*.c)
UNIT_SRC := $(wildcard tests/unit/*.c)
INT_SRC  := $(wildcard tests/integration/*.c)

CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o)
FS_OBJ   := $(FS_SRC:%.c=$(B)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(B)/%.o)
INT_OBJ  := $(INT_SRC:%.c=$(B)/%.o)

LIB      := $(B)/libtopicfs.a
DAEMON   := $(B)/topicfs

.PHONY: all test unit integration ci deps tsan mount clean
all: $(LIB) $(DAEMON)

$(LIB): $(CORE_OBJ)
	$(AR) rcs $@ $^

$(DAEMON): $(FS_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(FUSE_LIBS) $(ZSTD_LIBS) $(LDLIBS)

$(B)/fs/%.o: fs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FUSE_CFLAGS) -c -o $@ $<

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Icore -c -o $@ $<

$(B)/tests/unit-tests: $(UNIT_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRIT_LIBS) $(ZSTD_LIBS) $(LDLIBS)

# The integration tests drive the mount; of the core they use only io.c's
# helpers (io_pread_all).
$(B)/tests/integration-tests: $(INT_OBJ) $(B)/core/io.o
	$(CC) $(LDFLAGS) -o $@ $^ $(CRIT_LIBS) $(LDLIBS)

# Criterion runs the tests of a binary in parallel, each in its own process
# with the timeout its suite sets.
unit: $(B)/tests/unit-tests
	$(TEST_RUN) $(B)/tests/unit-tests --jobs 2

integration: $(B)/tests/integration-tests $(DAEMON)
	TOPICFS_BIN=$(abspath $(DAEMON)) $(TEST_RUN) $(B)/tests/integration-tests --jobs 2

test: unit integration

# Build in parallel, then test (each test binary runs two tests at a time).
ci: deps
	$(MAKE) -j2 all $(B)/tests/unit-tests $(B)/tests/integration-tests
	$(MAKE) test
	$(MAKE) -j2 all SANITIZE=1 build-san/tests/unit-tests build-san/tests/integration-tests
	$(MAKE) test SANITIZE=1
	$(MAKE) fuzz-smoke

deps:
	scripts/deps.sh

# The daemon built with ThreadSanitizer, under the integration tests (built
# plainly: Criterion's workers do not start under TSan). A data race or a
# lock-order inversion in the daemon is written to build-tsan/reports/ and
# fails the run. One test at a time: the daemon runs several times slower
# under TSan, and a few tests wait for the room made ahead of a bulk
# writer. Slower than `make test`, so not part of `make ci`.
TSAN_REPORTS := build-tsan/reports
tsan: deps
	$(MAKE) -j2 all build/tests/integration-tests
	$(MAKE) -j2 all SANITIZE=thread
	rm -rf $(TSAN_REPORTS) && mkdir -p $(TSAN_REPORTS)
	TOPICFS_BIN=$(abspath build-tsan/topicfs) \
	TSAN_OPTIONS="log_path=$(abspath $(TSAN_REPORTS))/daemon second_deadlock_stack=1" \
		$(TEST_RUN) build/tests/integration-tests --jobs 1; rc=$$?; \
	if [ -n "$$(ls $(TSAN_REPORTS))" ]; then \
		cat $(TSAN_REPORTS)/*; \
		echo "tsan: ThreadSanitizer reported in $(TSAN_REPORTS) (above)" >&2; exit 1; \
	fi; exit $$rc

# Mount topicfs on a default data directory and mount point (see README).
DATADIR ?= $(HOME)/.local/share/topicfs
MNT     ?= $(HOME)/topicfs
mount: deps all
	mkdir -p "$(DATADIR)" "$(MNT)"
	$(DAEMON) "$(DATADIR)" "$(MNT)"
	@echo "topicfs is mounted on $(MNT) (data in $(DATADIR)); unmount with: fusermount3 -u $(MNT)"

clean:
	rm -rf build build-san build-tsan build-fuzz

# Install: `mount -t fuse.topicfs DATADIR MOUNTPOINT` and /etc/fstab lines
# need nothing more than topicfs in a directory of mount's helper PATH
# (/usr/local/bin, /usr/bin, ...) and mount.fuse3, from Debian's fuse3.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
INSTALL ?= install

.PHONY: install uninstall
install: $(DAEMON)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 755 $(DAEMON) $(DESTDIR)$(BINDIR)/topicfs
	ln -sf topicfs $(DESTDIR)$(BINDIR)/topicfs-dump
	$(INSTALL) -m 644 doc/topicfs.1 $(DESTDIR)$(MANDIR)/man1/topicfs.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/topicfs $(DESTDIR)$(BINDIR)/topicfs-dump \
	      $(DESTDIR)$(MANDIR)/man1/topicfs.1

# The benchmark's tools, one C file each (tests/bench/*.c). run.sh installs
# what is missing, then builds them and the daemon through these rules.
.PHONY: bench
bench:
	tests/bench/run.sh

$(B)/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FUSE_CFLAGS) -o $@ $< $(FUSE_LIBS) -lm $(LDLIBS)

# The null filesystem serves requests with topicfs's own session loop, so
# that the ceiling differs from topicfs by the storing alone.
$(B)/bench/nullfs: tests/bench/nullfs.c fs/loop.c fs/log.c core/log.c core/crc32c.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FUSE_CFLAGS) -o $@ $(filter %.c,$^) $(FUSE_LIBS) -lm $(LDLIBS)

-include $(wildcard $(B)/*/*.d $(B)/*/*/*.d)

# ---- Fuzzing (libFuzzer, clang) ---------------------------------------------
#
#   make fuzz            build the libFuzzer targets tests/fuzz/fuzz_*.c and run
#                        each for FUZZ_SECONDS (default 60) from its seed corpus
#                        tests/fuzz/corpus/TARGET/
#   make fuzz-smoke      the same, 10 s each (for CI)
#
# Targets are built with clang -fsanitize=fuzzer,address,undefined against the
# core sources, in build-fuzz/. New inputs go to build-fuzz/corpus/TARGET/,
# crashes to build-fuzz/crashes/; a crash fails the run and says how to replay
# it. fuzz-deps installs clang and libFuzzer when missing.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FZ           := build-fuzz
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
                -pthread -MMD -MP
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FZ)/%)
FUZZ_CORE    := $(CORE_SRC:%.c=$(FZ)/%.o)

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-deps fuzz-clean

fuzz-deps:
	scripts/deps.sh make clang libclang-rt-14-dev libzstd-dev

fuzz-build: $(FUZZ_BINS)

.SECONDARY: $(FUZZ_CORE)

$(FZ)/core/%.o: core/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FZ)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_CORE)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Icore -o $@ $(filter %.c %.o,$^) $(ZSTD_LIBS) -pthread

fuzz: fuzz-deps
	$(MAKE) fuzz-build
	@failed=""; for t in $(FUZZ_NAMES); do \
		mkdir -p $(FZ)/corpus/$$t $(FZ)/crashes; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		if $(FZ)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=$(FZ)/crashes/$$t- \
			$(FZ)/corpus/$$t tests/fuzz/corpus/$$t > $(FZ)/$$t.log 2>&1; then \
			grep -h "stat::number_of_executed_units\|stat::new_units_added" $(FZ)/$$t.log \
				| sed "s/^/  $$t: /"; \
		else \
			grep -h -m1 -A12 "ERROR\|runtime error\|fuzz_[a-z]*: " $(FZ)/$$t.log; \
			echo "fuzz: $$t FAILED (log: $(FZ)/$$t.log); replay: $(FZ)/$$t $(FZ)/crashes/$$t-*"; \
			failed="$$failed $$t"; \
		fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=10

fuzz-clean:
	rm -rf $(FZ)

-include $(wildcard $(FZ)/*.d $(FZ)/*/*.d)

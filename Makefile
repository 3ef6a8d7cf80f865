# topicfs: build, test and install.
#
#   make                 the library (build/libtopicfs.a) and the daemon (build/topicfs)
#   make test            unit tests, then integration tests that really mount
#   make test SANITIZE=1 the same, built with AddressSanitizer and UBSan (in build-san/)
#   make ci              install missing packages, then both of the above
#   make deps            install missing Debian packages (apt-get; sudo when not root)

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
else
B       := build
endif

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

.PHONY: all test unit integration ci deps mount clean
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

$(B)/tests/integration-tests: $(INT_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRIT_LIBS) $(LDLIBS)

# Criterion runs the tests of a binary in parallel, each in its own process
# with the timeout its suite sets.
unit: $(B)/tests/unit-tests
	$(B)/tests/unit-tests --jobs 2

integration: $(B)/tests/integration-tests $(DAEMON)
	TOPICFS_BIN=$(abspath $(DAEMON)) $(B)/tests/integration-tests --jobs 2

test: unit integration

ci: deps
	$(MAKE) test
	$(MAKE) test SANITIZE=1

deps:
	scripts/deps.sh

# Mount topicfs on a default data directory and mount point (see README).
DATADIR ?= $(HOME)/.local/share/topicfs
MNT     ?= $(HOME)/topicfs
mount: deps all
	mkdir -p "$(DATADIR)" "$(MNT)"
	$(DAEMON) "$(DATADIR)" "$(MNT)"
	@echo "topicfs is mounted on $(MNT) (data in $(DATADIR)); unmount with: fusermount3 -u $(MNT)"

clean:
	rm -rf build build-san

-include $(wildcard $(B)/*/*.d $(B)/*/*/*.d)

# kanon - top-level build.  `make demo` and `make test` install what they need.
#
#   make            build build/bin/{kanon,kanon-conductor,kanon-cartridge}
#   make demo       deps + build + conductor on the default backend + play + record demo.wav
#   make test       deps + unit tests (ASan/UBSan) + end-to-end tests + a short fuzz run
#   make bench      benchmarks (figures for docs/benchmarks.md)
#   make fuzz       libFuzzer on the control protocol and OSC, 5 minutes each
#   make faults     the fault-injection suite (crash isolation: work in progress)
#   make soak       the long fault-injection run
#   make mutate     planted bugs (tests/mutations/), each must fail its tests;
#                   M="name ..." runs only those
#   make format     clang-format every C file
#   make install    PREFIX (default /usr/local) and DESTDIR as usual:
#                   bin/kanon{,-conductor,-cartridge}, lib/libkanon-nodes.so,
#                   include/kanon.h and include/kanon/, share/kanon/examples,
#                   bash completion, man page kanon(1); no root if PREFIX is
#                   writable, e.g. `make install PREFIX=~/.local`
#   make uninstall  removes exactly those files (same PREFIX and DESTDIR)
#
# The cartridge finds the headers at run time as ../include from its own
# bin/ directory, so `make` stages them in build/include and the same binary
# works from build/ or from PREFIX: no checkout path is compiled in.

CC      ?= cc
B       := build
BIN     := $(B)/bin
WARN    := -Wall -Wextra -Werror
CSTD    := -std=c11 -D_GNU_SOURCE
CFLAGS  ?= -O2 -g
# The checkout's path stays out of the debug info too (installed binaries).
SRCMAP  := -ffile-prefix-map=$(CURDIR)=.
ALLCFLAGS = $(CSTD) $(WARN) $(CFLAGS) $(SRCMAP) -Ishm -MMD -MP
LIB     := $(B)/lib

SHM_SRC  := shm/segment.c shm/input.c
COND_SRC := $(wildcard conductor/*.c)
# Ableton Link: the conductor's one C++ file (header-only Link over standalone
# asio, Debian's ableton-link-dev and libasio-dev). Its headers are system
# headers under /usr/include, so their warnings are not ours.
LINK_OBJ := $(B)/obj/link.o
CXX      ?= g++
CXXFLAGS_LINK := -std=c++14 $(WARN) $(CFLAGS) $(SRCMAP) -DLINK_PLATFORM_LINUX=1 -Iconductor -MMD -MP
CART_SRC := $(wildcard cartridge/*.c)
CLI_SRC  := $(wildcard cli/*.c)
NODE_SRC := $(wildcard nodes-c/*.c)
NODELIB  := $(LIB)/libkanon-nodes.so
TOOL_SRC := $(wildcard tests/tools/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
NODE_HDR := $(wildcard nodes-c/include/kanon/*.h)
# What user code includes, staged where the cartridge looks (bin/../include).
HDRS     := $(B)/include/kanon.h $(patsubst nodes-c/include/%,$(B)/include/%,$(NODE_HDR))

PROGS := $(NODELIB) $(BIN)/kanon $(BIN)/kanon-conductor $(BIN)/kanon-cartridge $(HDRS)
TOOLS := $(patsubst tests/tools/%.c,$(B)/tools/%,$(TOOL_SRC))
UNITS := $(patsubst tests/unit/%.c,$(B)/unit/%,$(UNIT_SRC))

COND_LIBS := -lsoundio -ljack -lasound -lnng -llo -lcjson -lsndfile -lsystemd -lstdc++ -pthread -lm
CART_LIBS := -ltcc -ldl -lcjson -lsndfile -lsamplerate -lm
CLI_LIBS  := -lnng -lcjson -ltcc -ldl -lpthread -Wl,--no-as-needed -lm -Wl,--as-needed
SAN       := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all deps demo test unit e2e faults fuzz-short fuzz soak valgrind bench format clean tools \
        install uninstall mutate
all: $(PROGS) $(TOOLS)
tools: $(TOOLS)

deps:
	@scripts/install-deps.sh

# Each binary is one compiler command over all its sources, whose -MMD file
# names only the last source's headers: the headers are listed here.
SHM_HDR := $(wildcard shm/*.h)
$(BIN)/kanon-conductor: $(COND_SRC) $(SHM_SRC) $(SHM_HDR) $(wildcard conductor/*.h) $(LINK_OBJ) | $(BIN)
	$(CC) $(ALLCFLAGS) -Iconductor $(COND_SRC) $(SHM_SRC) $(LINK_OBJ) -o $@ $(COND_LIBS)

$(LINK_OBJ): conductor/link.cpp | $(B)/obj
	$(CXX) $(CXXFLAGS_LINK) -c $< -o $@

# nodes-c: the DSP kit, optimised once by gcc; user code (tcc) calls into it.
# -fno-trapping-math: nothing traps (FTZ/DAZ, no FP exceptions); lets gcc vectorize.
# -ffp-contract=off: no FMA contraction, so the AVX2 builds of the KN_SIMD loops
# (nodes-c/knmath.h) give the same samples as the SSE2 ones.
NODE_CFLAGS := -std=c11 $(WARN) -O2 -ftree-vectorize -fno-trapping-math -ffp-contract=off -g -fPIC \
               $(SRCMAP) -Inodes-c/include -Icartridge/include
$(NODELIB): $(NODE_SRC) $(wildcard nodes-c/*.h nodes-c/include/kanon/*.h) | $(LIB)
	$(CC) $(NODE_CFLAGS) -shared $(NODE_SRC) -o $@ -lsndfile -lsamplerate -lm

# The cartridge links the kit, so tcc-compiled code finds its symbols.
$(BIN)/kanon-cartridge: $(CART_SRC) $(SHM_SRC) $(SHM_HDR) $(wildcard cartridge/*.h cartridge/include/*.h) $(NODELIB) | $(BIN)
	$(CC) $(ALLCFLAGS) -Icartridge -Icartridge/include \
	    $(CART_SRC) $(SHM_SRC) -o $@ $(CART_LIBS) -rdynamic \
	    -L$(LIB) -Wl,--no-as-needed -lkanon-nodes -Wl,--as-needed -Wl,-rpath,'$$ORIGIN/../lib' 

$(B)/include/kanon.h: cartridge/include/kanon.h
	@mkdir -p $(@D)
	cp $< $@

$(B)/include/kanon/%.h: nodes-c/include/kanon/%.h
	@mkdir -p $(@D)
	cp $< $@

# `kanon check` compiles in the CLI's own process with the cartridge's
# front end (cartridge/front.h); the names nodes-c exports are listed from
# the built library, so the check links what a deck links.
CHECK_SRC := cartridge/front.c cartridge/check.c cartridge/limits.c
$(BIN)/kanon: $(CLI_SRC) $(CHECK_SRC) $(SHM_SRC) $(SHM_HDR) $(wildcard cli/*.h) cartridge/front.h \
              $(B)/gen/node_symbols.h | $(BIN)
	$(CC) $(ALLCFLAGS) -Icli -Icartridge -I$(B)/gen $(CLI_SRC) $(CHECK_SRC) $(SHM_SRC) -o $@ $(CLI_LIBS)

$(B)/gen/node_symbols.h: $(NODELIB)
	@mkdir -p $(@D)
	nm -D --defined-only $< | awk '$$2 ~ /^[TWiDBR]$$/ && $$3 ~ /^kn_/ { print "KN_NODE_SYMBOL(" $$3 ")" }' > $@.tmp
	mv $@.tmp $@

$(B)/tools/%: tests/tools/%.c | $(B)/tools
	$(CC) $(ALLCFLAGS) $< -o $@ -lsndfile -ljack -lm -lpthread

# Unit tests: each tests/unit/test_X.c is a program; built with sanitizers,
# linked with the shm code and every non-main source it names in a
# "// link: path.c ..." first line.
$(B)/unit/%: tests/unit/%.c $(SHM_SRC) $(COND_SRC) $(CART_SRC) $(NODE_SRC) \
             $(wildcard shm/*.h conductor/*.h cartridge/*.h nodes-c/*.h nodes-c/include/kanon/*.h) | $(B)/unit
	$(CC) $(CSTD) $(WARN) -O1 -g $(SAN) -Ishm -Iconductor -Icartridge -Icartridge/include \
	    -Inodes-c/include $< $(SHM_SRC) $$(sed -n '1s|^// link: ||p' $<) -o $@ \
	    -lm -lpthread -lsndfile -lsamplerate -lcjson -llo

$(BIN) $(B)/tools $(B)/unit $(B)/obj $(LIB):
	mkdir -p $@

unit: $(UNITS)
	@tests/run-unit.sh $(UNITS)

# The fault storm (tests/e2e/test_faults.sh, every fault 3 times) is part of
# e2e; there each revert plays 0.3 s before the next injection. `make faults`
# runs it alone with 1.1 s, so every injection starts from a good version;
# `make soak` runs ~1000 injections.
E2E_TESTS := $(wildcard tests/e2e/test_*.sh)
e2e: all
	@tests/run-e2e.sh $(E2E_TESTS)

faults: all
	@KANON_FAULT_HOLD=1.1 tests/run-e2e.sh tests/e2e/test_faults.sh

fuzz-short: all
	@tests/fuzz/run.sh 15

fuzz: all
	@tests/fuzz/run.sh 300

soak: all
	@tests/soak.sh

# Each tests/mutations/*.patch plants a bug in a scratch copy of the tree,
# which is built there; the tests its header names must fail (minutes).
mutate:
	@scripts/mutate.sh $(M)

# The release binaries under memcheck (the unit tests use ASan/UBSan instead).
valgrind: all
	@tests/valgrind.sh

test: deps
	$(MAKE) -j2 all $(UNITS)
	$(MAKE) unit
	$(MAKE) e2e
	$(MAKE) fuzz-short

demo: deps
	$(MAKE) all
	@scripts/demo.sh

bench: deps
	$(MAKE) all
	@python3 scripts/bench.py | tee $(B)/benchmarks.md
	@python3 scripts/bench_nodes.py | tee -a $(B)/benchmarks.md
	@python3 scripts/bench_input.py | tee -a $(B)/benchmarks.md
	@python3 scripts/bench_midi.py | tee -a $(B)/benchmarks.md
	@python3 scripts/bench_voices.py | tee -a $(B)/benchmarks.md

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(B)

# Install (GNU layout). The cartridge's rpath $ORIGIN/../lib and its header
# lookup (bin/../include) hold for PREFIX as for build/.
PREFIX     ?= /usr/local
DEST       := $(DESTDIR)$(PREFIX)
BINDIR     := $(DEST)/bin
LIBDIR     := $(DEST)/lib
INCLUDEDIR := $(DEST)/include
EXDIR      := $(DEST)/share/kanon/examples
COMPDIR    := $(DEST)/share/bash-completion/completions
MAN1DIR    := $(DEST)/share/man/man1
EXAMPLES   := $(wildcard examples/README.md examples/*.c examples/*.dsp)
EX_SAMPLES := $(wildcard examples/samples/*.c examples/samples/*.wav)
EX_MAPS    := $(wildcard examples/maps/*.json)
PROG_NAMES := kanon kanon-conductor kanon-cartridge

# The man page is written from the built binary's --help texts.
install: $(PROGS)
	install -d $(BINDIR) $(LIBDIR) $(INCLUDEDIR)/kanon $(EXDIR)/samples $(EXDIR)/maps \
	    $(COMPDIR) $(MAN1DIR)
	install -m 755 $(addprefix $(BIN)/,$(PROG_NAMES)) $(BINDIR)
	install -m 755 $(NODELIB) $(LIBDIR)
	install -m 644 $(B)/include/kanon.h $(INCLUDEDIR)
	install -m 644 $(NODE_HDR) $(INCLUDEDIR)/kanon
	install -m 644 $(EXAMPLES) $(EXDIR)
	install -m 644 $(EX_SAMPLES) $(EXDIR)/samples
	install -m 644 $(EX_MAPS) $(EXDIR)/maps
	install -m 644 scripts/kanon-completion.bash $(COMPDIR)/kanon
	scripts/kanon-man.sh $(BIN)/kanon $(PREFIX) >$(B)/kanon.1
	install -m 644 $(B)/kanon.1 $(MAN1DIR)

# Only kanon's own directories are removed, and only once they are empty.
uninstall:
	rm -f $(addprefix $(BINDIR)/,$(PROG_NAMES)) $(LIBDIR)/$(notdir $(NODELIB)) \
	    $(INCLUDEDIR)/kanon.h $(addprefix $(INCLUDEDIR)/kanon/,$(notdir $(NODE_HDR))) \
	    $(addprefix $(EXDIR)/,$(notdir $(EXAMPLES))) \
	    $(addprefix $(EXDIR)/samples/,$(notdir $(EX_SAMPLES))) \
	    $(addprefix $(EXDIR)/maps/,$(notdir $(EX_MAPS))) \
	    $(COMPDIR)/kanon $(MAN1DIR)/kanon.1
	-rmdir $(INCLUDEDIR)/kanon $(EXDIR)/samples $(EXDIR)/maps $(EXDIR) $(DEST)/share/kanon \
	    2>/dev/null || true

-include $(wildcard $(B)/*/*.d)

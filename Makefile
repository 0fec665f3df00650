# larch - build, test and install.
#
#   make              the libraries (build/liblarch.a, build/liblarch.so), the
#                     amalgamation (build/larch.c) and the dbutil command
#   make demo         build and run the example program
#   make test         build and run every test (ends with "N passed, M failed")
#   make test-asan    the test suite and dbutil's under AddressSanitizer + UBSan
#   make test-tsan    the test suite under ThreadSanitizer
#   make test-valgrind the randomized model test under valgrind memcheck
#   make fuzz         libFuzzer harnesses (build/fuzz/); make fuzz-smoke runs
#                     each for FUZZ_TIME (60) seconds from fuzz/corpus/
#   make bench        larch against LMDB and SQLite (build/bench; BENCH_ARGS=...)
#   make bench-large  larch and LMDB at N = 10,000,000, one round
#   make deps         install the Debian packages the build and tests need
#   make install      PREFIX=/usr/local DESTDIR= (also make uninstall)

CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    := build
OPT      ?= -O2
WARN     := -Wall -Wextra -Werror
CFLAGS   ?= $(OPT) -g
BASEFLAGS := -std=c11 $(WARN) -Iinclude -fPIC -fvisibility=hidden -pthread
LZ4_CFLAGS := $(shell pkg-config --cflags liblz4 2>/dev/null)
LZ4_LIBS   := $(shell pkg-config --libs liblz4 2>/dev/null || echo -llz4)
LIBS     := $(LZ4_LIBS) -pthread

# The library's version (larch.h) and the ABI's: the soname.
VERSION  := $(shell sed -n 's/^\#define LARCH_VERSION_STRING "\(.*\)"/\1/p' include/larch.h)
SONAME   := liblarch.so.$(firstword $(subst ., ,$(VERSION)))

SRCS := $(sort $(wildcard src/*.c))
HDRS := $(wildcard src/*.h) include/larch.h
OBJS := $(SRCS:src/%.c=$(BUILD)/obj/%.o)

# The fuzz harnesses replay their inputs in the suite; fuzz_load needs dbutil's reader.
# The tests link LMDB too: test_lmdb_diff.c runs the same programs on both.
TEST_SRCS := $(filter-out tests/test_amalg.c,$(sort $(wildcard tests/*.c))) cmd/dbutil/load.c cmd/dbutil/text.c
TEST_LIBS := $(LIBS) -llmdb
TEST_HDRS := $(wildcard tests/*.h) $(wildcard fuzz/*.c) cmd/dbutil/dbutil.h

.PHONY: all deps demo bench bench-large bench-smoke test test-asan test-tsan test-valgrind fuzz fuzz-corpus fuzz-smoke clean \
        install uninstall

all: $(BUILD)/liblarch.a $(BUILD)/liblarch.so $(BUILD)/larch.c $(BUILD)/dbutil

# ---- dependencies ----------------------------------------------------------
# Debian packages: compilers, pkg-config, LZ4; LMDB's tools for the dump/load
# interop tests; LMDB and SQLite for the benchmark's side-by-side runs.
DEB_PACKAGES := gcc clang libclang-rt-dev make pkg-config liblz4-dev binutils lmdb-utils valgrind \
                liblmdb-dev libsqlite3-dev
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null || exit 1; \
	else echo "deps: missing$$missing; run: sudo apt-get install$$missing"; exit 1; fi

# ---- the library -----------------------------------------------------------
$(BUILD)/obj/%.o: src/%.c $(HDRS) | $(BUILD)/obj
	$(CC) $(BASEFLAGS) $(CFLAGS) $(LZ4_CFLAGS) -c $< -o $@

$(BUILD)/liblarch.a: $(OBJS)
	rm -f $@
	ar rcs $@ $^

# The shared library as installed: the versioned file, and the soname and
# development links to it, so that a program linked with -Lbuild -llarch
# also runs against build/ (LD_LIBRARY_PATH=build).
$(BUILD)/liblarch.so.$(VERSION): $(OBJS)
	$(CC) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(LIBS)

$(BUILD)/$(SONAME): $(BUILD)/liblarch.so.$(VERSION)
	ln -sf liblarch.so.$(VERSION) $@

$(BUILD)/liblarch.so: $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(BUILD)/larch.c: src/amalgamate.sh $(SRCS) $(HDRS)
	sh src/amalgamate.sh $@

$(BUILD)/obj $(BUILD)/test $(BUILD)/asan $(BUILD)/tsan:
	mkdir -p $@

# ---- dbutil ------------------------------------------------------------------
# dbutil links the static library and reads the file format's header for its
# page inspection commands.
DBUTIL_SRCS := $(sort $(wildcard cmd/dbutil/*.c))
$(BUILD)/dbutil: $(DBUTIL_SRCS) cmd/dbutil/dbutil.h $(BUILD)/liblarch.a $(HDRS)
	$(CC) -std=c11 $(WARN) $(CFLAGS) -Iinclude -Isrc $(DBUTIL_SRCS) $(BUILD)/liblarch.a $(LIBS) -o $@

# ---- demo ------------------------------------------------------------------
$(BUILD)/demo: cmd/demo/demo.c $(BUILD)/liblarch.a include/larch.h
	$(CC) -std=c11 $(WARN) $(CFLAGS) -Iinclude $< $(BUILD)/liblarch.a $(LIBS) -o $@

demo: deps
	$(MAKE) $(BUILD)/demo
	rm -f $(BUILD)/demo.db $(BUILD)/demo.db.compact
	$(BUILD)/demo $(BUILD)/demo.db

# ---- benchmark ---------------------------------------------------------------
# build/bench links larch, LMDB and SQLite; see bench/bench.c and the README.
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_ARGS ?=
$(BUILD)/bench: $(BENCH_SRCS) bench/bench.h $(BUILD)/liblarch.a include/larch.h
	$(CC) -std=c11 $(WARN) $(CFLAGS) -Iinclude $(BENCH_SRCS) $(BUILD)/liblarch.a $(LIBS) -llmdb -lsqlite3 -o $@

bench: deps
	$(MAKE) $(BUILD)/bench
	$(BUILD)/bench $(BENCH_ARGS)

# SQLite would take hours at this size; BENCH_ARGS="-e larch,lmdb,sqlite -r 3" brings it back.
bench-large: deps
	$(MAKE) $(BUILD)/bench
	$(BUILD)/bench -n 10000000 -r 1 -e larch,lmdb $(BENCH_ARGS)

# CI: every workload on every engine at a small N, so the benchmark cannot
# rot; the timings are printed, not judged.
bench-smoke: deps
	$(MAKE) $(BUILD)/bench
	$(BUILD)/bench -n 20000 -r 1 --plot $(BUILD)/bench-smoke.svg

# ---- tests -----------------------------------------------------------------
# The suite links the static library (internal functions included, so the
# unit tests reach them); test_amalg.c builds against build/larch.c alone.
$(BUILD)/test/larch_test: $(TEST_SRCS) $(TEST_HDRS) $(BUILD)/liblarch.a | $(BUILD)/test
	$(CC) -std=c11 $(WARN) $(CFLAGS) -Iinclude -Isrc -pthread $(TEST_SRCS) $(BUILD)/liblarch.a $(TEST_LIBS) -o $@

$(BUILD)/test/amalg_test: tests/test_amalg.c $(BUILD)/larch.c | $(BUILD)/test
	$(CC) -std=c11 $(WARN) $(CFLAGS) -Iinclude -c $(BUILD)/larch.c -o $(BUILD)/test/larch_amalg.o
	$(CC) -std=c11 $(WARN) $(CFLAGS) -Iinclude tests/test_amalg.c $(BUILD)/test/larch_amalg.o $(LIBS) -o $@

TEST_BINS := $(BUILD)/test/larch_test $(BUILD)/test/amalg_test

test: deps
	$(MAKE) all $(TEST_BINS)
	sh tests/run.sh $(BUILD)

# Sanitizer builds compile library and tests together, from source.
$(BUILD)/asan/larch_test: $(SRCS) $(HDRS) $(TEST_SRCS) $(TEST_HDRS) | $(BUILD)/asan
	clang -std=c11 $(WARN) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	    -fno-sanitize-recover=undefined -DLARCH_TEST_SMALL -Iinclude -Isrc -pthread $(SRCS) $(TEST_SRCS) $(TEST_LIBS) -o $@

$(BUILD)/tsan/larch_test: $(SRCS) $(HDRS) $(TEST_SRCS) $(TEST_HDRS) | $(BUILD)/tsan
	clang -std=c11 $(WARN) -O1 -g -fsanitize=thread -DLARCH_TEST_SMALL -Iinclude -Isrc -pthread $(SRCS) $(TEST_SRCS) $(TEST_LIBS) -o $@

$(BUILD)/asan/dbutil: $(SRCS) $(HDRS) $(DBUTIL_SRCS) cmd/dbutil/dbutil.h | $(BUILD)/asan
	clang -std=c11 $(WARN) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	    -fno-sanitize-recover=undefined -Iinclude -Isrc -pthread $(SRCS) $(DBUTIL_SRCS) $(LIBS) -o $@

test-asan: deps
	$(MAKE) $(BUILD)/asan/larch_test $(BUILD)/asan/dbutil
	ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(BUILD)/asan/larch_test
	ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    bash tests/test_dbutil.sh $(BUILD)/asan

test-tsan: deps
	$(MAKE) $(BUILD)/tsan/larch_test
	TSAN_OPTIONS=halt_on_error=1 $(BUILD)/tsan/larch_test

# The randomized model test under valgrind's memcheck (slow: a few seeds).
test-valgrind: deps
	$(MAKE) $(BUILD)/test/larch_test
	which valgrind > /dev/null || (apt-get install -y -qq valgrind > /dev/null)
	valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite -q \
	    $(BUILD)/test/larch_test model pages_4k buckets

# ---- fuzzing -----------------------------------------------------------------
# libFuzzer harnesses, built with clang from the library's sources.
FUZZ_FLAGS := -std=c11 $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
              -Iinclude -Isrc -pthread
FUZZERS := fuzz_open fuzz_ops fuzz_load
FUZZ_TIME ?= 60

$(BUILD)/fuzz:
	mkdir -p $@

$(BUILD)/fuzz/fuzz_open: fuzz/fuzz_open.c $(SRCS) $(HDRS) | $(BUILD)/fuzz
	clang $(FUZZ_FLAGS) fuzz/fuzz_open.c $(SRCS) $(LIBS) -o $@

$(BUILD)/fuzz/fuzz_ops: fuzz/fuzz_ops.c $(SRCS) $(HDRS) | $(BUILD)/fuzz
	clang $(FUZZ_FLAGS) fuzz/fuzz_ops.c $(SRCS) $(LIBS) -o $@

$(BUILD)/fuzz/fuzz_load: fuzz/fuzz_load.c cmd/dbutil/load.c cmd/dbutil/text.c cmd/dbutil/dbutil.h $(SRCS) $(HDRS) | $(BUILD)/fuzz
	clang $(FUZZ_FLAGS) fuzz/fuzz_load.c cmd/dbutil/load.c cmd/dbutil/text.c $(SRCS) $(LIBS) -o $@

fuzz: $(FUZZERS:%=$(BUILD)/fuzz/%)

# The seed corpora are generated (deterministically) and kept in fuzz/corpus/.
$(BUILD)/fuzz/gen_corpus: fuzz/gen_corpus.c $(BUILD)/liblarch.a | $(BUILD)/fuzz
	$(CC) -std=c11 $(WARN) -O1 -Iinclude $< $(BUILD)/liblarch.a $(LIBS) -o $@

fuzz-corpus: $(BUILD)/fuzz/gen_corpus
	mkdir -p $(FUZZERS:%=fuzz/corpus/%)
	$(BUILD)/fuzz/gen_corpus fuzz/corpus

# Each harness for FUZZ_TIME seconds from its corpus (new inputs go to build/).
fuzz-smoke: deps fuzz
	@for f in $(FUZZERS); do \
	    mkdir -p $(BUILD)/fuzz/work-$$f; \
	    echo "== $$f for $(FUZZ_TIME)s"; \
	    $(BUILD)/fuzz/$$f -max_total_time=$(FUZZ_TIME) -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
	        -artifact_prefix=$(BUILD)/fuzz/$$f- $(BUILD)/fuzz/work-$$f fuzz/corpus/$$f > $(BUILD)/fuzz/$$f.log 2>&1; \
	    rc=$$?; \
	    grep -E '^stat::(number_of_executed_units|new_units_added)' $(BUILD)/fuzz/$$f.log; \
	    if [ $$rc -ne 0 ]; then tail -n 60 $(BUILD)/fuzz/$$f.log; echo "$$f found a failure (see above)"; exit 1; fi; \
	done

# ---- install ---------------------------------------------------------------
# The header, both libraries (with the soname links), dbutil, and a
# pkg-config file: cc app.c $(pkg-config --cflags --libs larch).
LIBDIR := $(DESTDIR)$(PREFIX)/lib
INSTALLED := $(DESTDIR)$(PREFIX)/include/larch.h $(DESTDIR)$(PREFIX)/bin/dbutil $(LIBDIR)/liblarch.a \
             $(LIBDIR)/liblarch.so.$(VERSION) $(LIBDIR)/$(SONAME) $(LIBDIR)/liblarch.so $(LIBDIR)/pkgconfig/larch.pc

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(LIBDIR)/pkgconfig
	install -m 644 include/larch.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/dbutil $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(BUILD)/liblarch.a $(LIBDIR)/
	install -m 755 $(BUILD)/liblarch.so.$(VERSION) $(LIBDIR)/
	ln -sf liblarch.so.$(VERSION) $(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(LIBDIR)/liblarch.so
	printf '%s\n' 'prefix=$(PREFIX)' 'exec_prefix=$${prefix}' 'libdir=$${exec_prefix}/lib' \
	    'includedir=$${prefix}/include' '' 'Name: larch' \
	    'Description: embedded key-value database: one file, lock-free readers, one writer' \
	    'Version: $(VERSION)' 'Libs: -L$${libdir} -llarch' 'Libs.private: $(strip $(LZ4_LIBS)) -pthread' \
	    'Cflags: -I$${includedir}' > $(LIBDIR)/pkgconfig/larch.pc

# Removes what install wrote, and the directories it made if they are empty.
uninstall:
	rm -f $(INSTALLED)
	-rmdir $(LIBDIR)/pkgconfig 2> /dev/null

clean:
	rm -rf $(BUILD)

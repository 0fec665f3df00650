#!/bin/sh
# symbols.sh BUILD - the shared library and the amalgamation export nothing
# but larch_* (internal functions are hidden or static).
build=${1:-build}
fail=0
check() { # NAME FILE NM-FLAGS...
    name=$1
    file=$2
    shift 2
    syms=$(nm "$@" "$file" | awk 'NF >= 3 && $2 ~ /^[TDBRVW]$/ {print $3}')
    extra=$(echo "$syms" | grep -v '^larch_' || true)
    count=$(echo "$syms" | grep -c '^larch_' || true)
    if [ -n "$extra" ] || [ "$count" -lt 10 ]; then
        echo "symbols: $name exports more than larch_* (or too few: $count): $extra"
        fail=$((fail + 1))
    else
        echo "symbols: $name exports only larch_* ($count functions)"
    fi
}
check liblarch.so "$build/liblarch.so" -D --defined-only
cc -std=c11 -O1 -Iinclude -c "$build/larch.c" -o "$build/test/larch_amalg_sym.o"
check larch.c "$build/test/larch_amalg_sym.o" -g --defined-only
echo "$((2 - fail)) passed, $fail failed"

#!/usr/bin/env bash
# test_install.sh BUILD - linking against the build tree and the installed
# library: a program built with -Lbuild -llarch runs with
# LD_LIBRARY_PATH=build (the soname link is there); make install into a
# temporary prefix, a program built with pkg-config's flags runs against
# it; make uninstall removes what install wrote. Ends with "N passed, M failed".
set -u
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/larch-install-XXXXXX")
trap 'rm -rf "$dir"' EXIT
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   install.$1"; }
flunk() { failed=$((failed + 1)); echo "FAIL install.$1: $2"; }

cat > "$dir/app.c" <<'C'
#include <larch.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
    larch_db *db;
    larch_txn *txn;
    larch_val k = { 3, "key" }, v = { 5, "value" }, got;
    if (argc < 2 || larch_open(argv[1], NULL, &db) || larch_begin(db, 0, &txn) || larch_put(txn, 0, &k, &v, 0) ||
        larch_commit(txn) || larch_begin(db, LARCH_RDONLY, &txn) || larch_get(txn, 0, &k, &got))
        return 1;
    printf("%s %.*s\n", LARCH_VERSION_STRING, (int)got.size, (const char *)got.data);
    larch_abort(txn);
    larch_close(db);
    return 0;
}
C

# ---- the build tree --------------------------------------------------------------
soname=$(readelf -d "$build/liblarch.so" 2> /dev/null | sed -n 's/.*SONAME.*\[\(.*\)\].*/\1/p')
if [ -n "$soname" ] && [ -e "$build/$soname" ]; then pass soname_link_in_build; else
    flunk soname_link_in_build "build/$soname (the library's soname) is missing"; fi
if cc -std=c11 -I"$root/include" "$dir/app.c" -L"$build" -llarch -o "$dir/app-build" 2> "$dir/err.txt"; then
    pass link_build_tree
    out=$(LD_LIBRARY_PATH="$build" "$dir/app-build" "$dir/a.db" 2>&1)
    if [ "$out" = "$(sed -n 's/^#define LARCH_VERSION_STRING "\(.*\)"/\1/p' "$root/include/larch.h") value" ]; then
        pass run_against_build_tree
    else flunk run_against_build_tree "$out"; fi
else flunk link_build_tree "$(head -c 300 "$dir/err.txt")"; fi

# ---- make install, pkg-config, make uninstall -------------------------------------
prefix="$dir/prefix"
if make -s -C "$root" BUILD="$build" install PREFIX="$prefix" > "$dir/make.txt" 2>&1; then pass install; else
    flunk install "$(tail -c 300 "$dir/make.txt")"; fi
for f in include/larch.h bin/dbutil lib/liblarch.a lib/liblarch.so lib/"$soname" lib/pkgconfig/larch.pc; do
    [ -e "$prefix/$f" ] || flunk "installed_$f" "$prefix/$f is missing"
done
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs larch 2> "$dir/err.txt")
if [ -n "$flags" ]; then pass pkg_config; else flunk pkg_config "$(head -c 300 "$dir/err.txt")"; fi
case "$(pkg-config --static --libs larch)" in
*-llz4*-pthread*) pass pkg_config_static ;;
*) flunk pkg_config_static "no -llz4 -pthread in $(pkg-config --static --libs larch)" ;;
esac
# shellcheck disable=SC2086
if cc -std=c11 "$dir/app.c" $flags -o "$dir/app-installed" 2> "$dir/err.txt" &&
    LD_LIBRARY_PATH="$prefix/lib" "$dir/app-installed" "$dir/b.db" > /dev/null; then
    pass build_and_run_with_pkg_config
else flunk build_and_run_with_pkg_config "$(head -c 300 "$dir/err.txt")"; fi
"$prefix/bin/dbutil" check "$dir/b.db" > /dev/null && pass installed_dbutil || flunk installed_dbutil "check failed"
make -s -C "$root" BUILD="$build" uninstall PREFIX="$prefix" > /dev/null 2>&1
left=$(find "$prefix" ! -type d | head -5)
if [ -z "$left" ]; then pass uninstall; else flunk uninstall "left behind: $left"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

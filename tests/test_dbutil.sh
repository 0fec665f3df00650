#!/usr/bin/env bash
# test_dbutil.sh BUILD - every dbutil command on real files: dump/load round
# trips through all buckets with binary keys and values (empty values,
# maximal keys), interop both ways with LMDB's mdb_dump/mdb_load, check on a
# healthy and a damaged file, copy and compact, get/put/del/scan, pages and
# page, and usage errors. Ends with "N passed, M failed".
set -u
build=$(cd "${1:-build}" && pwd)
dbutil="$build/dbutil"
dir=$(mktemp -d "${TMPDIR:-/tmp}/larch-dbutil-XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 2
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "ok   dbutil.$1"; }
flunk() { failed=$((failed + 1)); echo "FAIL dbutil.$1: $2"; }

# expect NAME STATUS COMMAND...: the command exits with STATUS.
expect() {
    local name=$1 want=$2
    shift 2
    "$@" > out.txt 2> err.txt
    local got=$?
    if [ "$got" -eq "$want" ]; then pass "$name"; else flunk "$name" "exit $got, wanted $want: $(head -c 300 err.txt)"; fi
}

# same NAME FILE1 FILE2: the files are identical.
same() {
    if cmp -s "$2" "$3"; then pass "$1"; else flunk "$1" "$2 and $3 differ: $(diff "$2" "$3" | head -5)"; fi
}

# has NAME FILE TEXT: FILE contains TEXT.
has() {
    if grep -qF -- "$3" "$2"; then pass "$1"; else flunk "$1" "no \"$3\" in $2: $(head -c 300 "$2")"; fi
}

# Only the data of a dump: drop the lines that describe the environment.
data_of() { grep -v -e '^mapsize=' -e '^maxreaders=' -e '^db_pagesize=' "$1"; }

# ---- a dump with awkward data, made with awk ---------------------------------
# keys: binary bytes (NUL, 0xff, newline, backslash), 2000-byte keys; values:
# empty, binary, long (several pages).
awk 'BEGIN {
    print "VERSION=3"; print "format=bytevalue"; print "type=btree"; print "HEADER=END"
    for (i = 0; i < 300; i++) {
        k = sprintf("%02x%02x", int(i / 256), i % 256) "00ff0a5c"
        v = ""
        n = (i % 7 == 0) ? 0 : (i % 11 == 0 ? 9000 : i % 50)
        for (j = 0; j < n; j++) v = v sprintf("%02x", (i + j) % 256)
        print " " k; print " " v
    }
    k = ""; for (j = 0; j < 2000; j++) k = k "61"
    print " " k; print " 6d6178"
    print "DATA=END"
    for (b = 0; b < 3; b++) {
        print "VERSION=3"; print "format=print"; printf "database=bucket %d \342\230\203\n", b
        print "type=btree"; print "HEADER=END"
        for (i = 0; i < 100; i++) { printf " key\\%02x%d\n", i, b; printf " value \\5c %d\\00\n", i * b }
        print " empty"; print " "
        print "DATA=END"
    }
}' > awkward.dump

expect load_awkward 0 "$dbutil" load a.db -f awkward.dump
expect dump_all_hex 0 "$dbutil" dump a.db -a -o a.hex
expect dump_all_print 0 "$dbutil" dump a.db -a -p -o a.print
expect load_hex_again 0 "$dbutil" load b.db -f a.hex
expect load_print_again 0 "$dbutil" load c.db -f a.print
"$dbutil" dump b.db -a -o b.hex
"$dbutil" dump c.db -a -o c.hex
same roundtrip_hex a.hex b.hex
same roundtrip_print a.hex c.hex
has dump_has_named_bucket a.print "database=bucket 1"
has dump_has_print_escapes a.print ' value \\ 2\00'
expect buckets 0 "$dbutil" buckets a.db
has buckets_lists_counts out.txt "bucket 2 "
has buckets_lists_counts2 out.txt "	101"
"$dbutil" stat a.db -a --json --free > stat.json
has stat_json stat.json '"named_buckets":3'
expect stat_text 0 "$dbutil" stat a.db -b "bucket 0 ☃" --free
has stat_text_entries out.txt "entries: 101"
expect check_healthy 0 "$dbutil" check a.db
has check_says_ok out.txt "ok:"

# ---- what a bucket is besides its data survives dump and load -------------------
# (before: an LZ4 bucket came back plain, 2.5x its pages, and sequence counters as 0)
leaf_pages() { "$dbutil" stat "$1" -b zipped --json | tr ',' '\n' | sed -n 's/.*"leaf_pages":\([0-9]*\).*/\1/p'; }
expect bucket_create_lz4 0 "$dbutil" bucket create z.db zipped --lz4
expect bucket_create_exists 1 "$dbutil" bucket create z.db zipped
expect bucket_bad_action 2 "$dbutil" bucket frob z.db zipped
awk 'BEGIN { print "VERSION=3"; print "format=print"; print "type=btree"; print "sequence=42"; print "HEADER=END"
    for (i = 0; i < 3000; i++) {
        printf " rec%05d\n", i
        printf " {\"id\":%d,\"name\":\"user %d\",\"city\":\"Springfield\",\"tags\":[\"alpha\",\"beta\"],\"score\":%d}\n", i, i, i * 7 % 1000
    }
    print "DATA=END" }' > z.dump
expect load_into_lz4_bucket 0 "$dbutil" load z.db -b zipped -f z.dump
"$dbutil" dump z.db -a -o z.hex
has dump_says_lz4 z.hex "compression=lz4"
has dump_says_sequence z.hex "sequence=42"
expect load_lz4_dump 0 "$dbutil" load z2.db -f z.hex
"$dbutil" stat z2.db -b zipped --json > z2.json
has load_makes_lz4_bucket z2.json '"lz4":true'
has load_sets_sequence z2.json '"sequence":42'
[ "$(leaf_pages z.db)" = "$(leaf_pages z2.db)" ] && pass load_keeps_lz4_size ||
    flunk load_keeps_lz4_size "leaf pages $(leaf_pages z.db) before the dump, $(leaf_pages z2.db) after the load"
"$dbutil" dump z2.db -a -o z2.hex
same lz4_dump_roundtrip z.hex z2.hex
expect bucket_empty 0 "$dbutil" bucket empty z2.db zipped
expect bucket_drop 0 "$dbutil" bucket drop z2.db zipped
expect bucket_drop_missing 1 "$dbutil" bucket drop z2.db zipped
if command -v mdb_load > /dev/null; then
    expect mdb_load_ignores_larch_keywords 0 mdb_load -n -f z.hex z.mdb
    has mdb_load_warns_of_keywords err.txt "compression"
fi

# ---- interop with LMDB ---------------------------------------------------------
if command -v mdb_load > /dev/null && command -v mdb_dump > /dev/null; then
    # larch -> LMDB -> larch, bucket 0 (LMDB keys are at most 511 bytes: no long key here)
    awk '/^DATA=END/ { print; exit } /^ 6161616161/ { getline; next } { print }' awkward.dump > main.dump
    "$dbutil" load m.db -f main.dump
    "$dbutil" dump m.db -o m.dump
    expect mdb_load_reads_larch_dump 0 mdb_load -n -f m.dump m.mdb
    mdb_dump -n m.mdb > from-lmdb.dump
    expect load_reads_mdb_dump 0 "$dbutil" load m2.db -f from-lmdb.dump
    "$dbutil" dump m2.db -o m2.dump
    data_of m.dump > m.data
    data_of m2.dump > m2.data
    same interop_main_roundtrip m.data m2.data
    data_of from-lmdb.dump > lmdb.data
    same interop_lmdb_sees_same_data m.data lmdb.data
    # named buckets <-> named databases (LMDB's main database then holds their names)
    awk 'BEGIN { keep = 0 } /^VERSION=3/ { block = $0 "\n"; collecting = 1; next }
         collecting && /^database=/ { keep = 1 } collecting && /^HEADER=END/ { collecting = 0; if (keep) printf "%s", block }
         collecting { block = block $0 "\n"; next } keep { print } /^DATA=END/ { keep = 0 }' a.hex > named.dump
    expect mdb_load_reads_named 0 mdb_load -n -f named.dump n.mdb
    mdb_dump -n -a n.mdb > named-from-lmdb.dump
    expect load_reads_mdb_dump_all 0 "$dbutil" load n2.db -f named-from-lmdb.dump
    "$dbutil" dump n2.db -a -o n2.dump
    data_of named.dump > x.data
    data_of n2.dump > y.data
    same interop_named_roundtrip x.data y.data
    data_of named-from-lmdb.dump > z.data
    same interop_lmdb_named_same_data x.data z.data
    # LMDB's print format writes a backslash byte undoubled: still loads the same bytes
    mdb_dump -n -a -p n.mdb > named-print-lmdb.dump
    expect load_reads_mdb_dump_print 0 "$dbutil" load n3.db -f named-print-lmdb.dump
    "$dbutil" dump n3.db -a -o n3.dump
    data_of n3.dump > w.data
    same interop_lmdb_print_same_data x.data w.data
else
    flunk interop "mdb_load / mdb_dump not installed (make deps installs lmdb-utils)"
fi

# ---- load errors -------------------------------------------------------------------
printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 6b31\n 7631\n 6b32\n 7xz\nDATA=END\n' > bad.dump
expect load_malformed_fails 1 "$dbutil" load bad.db -f bad.dump
has load_names_the_line err.txt "bad.dump:8"
expect bad_load_committed_nothing 1 "$dbutil" get bad.db k1
printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n k1\nDATA=END\n' > odd.dump
expect load_key_without_value 1 "$dbutil" load odd.db -f odd.dump
has load_key_without_value_says err.txt "odd.dump:6"
printf 'VERSION=9\nHEADER=END\n' > v9.dump
expect load_bad_version 1 "$dbutil" load v9.db -f v9.dump
printf 'VERSION=3\nformat=print\ntype=btree\nduplicates=1\nHEADER=END\nDATA=END\n' > dup.dump
expect load_refuses_dupsort 1 "$dbutil" load dup.db -f dup.dump
printf 'k1\nv1\nk\\5c2\nv2\n' > plain.txt
expect load_plain_text 0 "$dbutil" load p.db -T -f plain.txt
expect get_plain_loaded 0 "$dbutil" get p.db 'k\5c2'
has get_plain_value out.txt "v2"
expect load_no_overwrite 1 "$dbutil" load p.db -T -n -f plain.txt
expect load_overwrite 0 "$dbutil" load p.db -T -f plain.txt
expect load_into_bucket 0 "$dbutil" load p.db -T -b other -f plain.txt
expect get_from_bucket 0 "$dbutil" get p.db -b other k1

# ---- get, put, del, scan ---------------------------------------------------------
expect put 0 "$dbutil" put s.db apple red
expect put_hex 0 "$dbutil" put s.db -x 62616e616e61 79656c6c6f77
expect put_binary 0 "$dbutil" put s.db 'cherry\00' 'dark\0ared'
"$dbutil" put s.db apricot orange
"$dbutil" put s.db -b fruit kiwi green
expect get 0 "$dbutil" get s.db banana
has get_value out.txt "yellow"
expect get_hex 0 "$dbutil" get s.db --hex apple
has get_hex_value out.txt "726564"
expect get_escaped 0 "$dbutil" get s.db 'cherry\00'
has get_escaped_value out.txt 'dark\0ared'
expect get_missing 1 "$dbutil" get s.db durian
has get_missing_says err.txt "not found"
expect scan_all 0 "$dbutil" scan s.db
[ "$(cut -f1 out.txt | tr '\n' ' ')" = "apple apricot banana cherry\\00 " ] && pass scan_order || flunk scan_order "$(cat out.txt)"
expect scan_prefix 0 "$dbutil" scan s.db --prefix ap
[ "$(cut -f1 out.txt | tr '\n' ' ')" = "apple apricot " ] && pass scan_prefix_keys || flunk scan_prefix_keys "$(cat out.txt)"
expect scan_reverse 0 "$dbutil" scan s.db --reverse --limit 2
[ "$(cut -f1 out.txt | tr '\n' ' ')" = "cherry\\00 banana " ] && pass scan_reverse_keys || flunk scan_reverse_keys "$(cat out.txt)"
expect scan_from 0 "$dbutil" scan s.db --from b
[ "$(cut -f1 out.txt | tr '\n' ' ')" = "banana cherry\\00 " ] && pass scan_from_keys || flunk scan_from_keys "$(cat out.txt)"
expect scan_reverse_prefix 0 "$dbutil" scan s.db --reverse --prefix ap
[ "$(cut -f1 out.txt | tr '\n' ' ')" = "apricot apple " ] && pass scan_reverse_prefix_keys || flunk scan_reverse_prefix_keys "$(cat out.txt)"
expect scan_bucket_hex 0 "$dbutil" scan s.db -b fruit --hex
has scan_bucket_hex_out out.txt "6b697769	677265656e"
expect del 0 "$dbutil" del s.db apple
expect del_again 1 "$dbutil" del s.db apple
expect get_deleted 1 "$dbutil" get s.db apple
expect get_no_bucket 1 "$dbutil" get s.db -b nosuch apple
has get_no_bucket_says err.txt "no bucket named"
expect put_long_key 1 "$dbutil" put s.db "$(head -c 3000 /dev/zero | tr '\0' k)" v

# ---- check, copy, compact ----------------------------------------------------------
expect copy 0 "$dbutil" copy a.db a-copy.db
expect copy_compact 0 "$dbutil" copy a.db a-compact.db --compact
expect copy_exists 1 "$dbutil" copy a.db a-copy.db
expect check_copy 0 "$dbutil" check a-copy.db
expect check_compact 0 "$dbutil" check a-compact.db
"$dbutil" dump a-copy.db -a -o copy.hex
"$dbutil" dump a-compact.db -a -o compact.hex
same copy_same_data a.hex copy.hex
same compact_same_data a.hex compact.hex
cp a.db damaged.db
# flip a byte in the middle of page 3 (a tree page of a.db)
printf '\x55' | dd of=damaged.db bs=1 seek=$((3 * 4096 + 2000)) conv=notrunc 2> /dev/null
expect check_damaged 1 "$dbutil" check damaged.db
has check_names_page out.txt "page 3"
# what reads the damaged page stops and names it (before: exit 0, and a
# compacted copy that checked sound with the bad bytes under new checksums)
expect dump_damaged 1 "$dbutil" dump damaged.db -a -o damaged.hex
has dump_damaged_names_page err.txt "page 3"
expect scan_damaged 1 "$dbutil" scan damaged.db
has scan_damaged_names_page err.txt "page 3"
expect copy_damaged 1 "$dbutil" copy damaged.db damaged-copy.db
has copy_damaged_names_page err.txt "page 3"
expect copy_compact_damaged 1 "$dbutil" copy damaged.db damaged-compact.db --compact
has copy_compact_damaged_names_page err.txt "page 3"
[ ! -e damaged-copy.db ] && [ ! -e damaged-compact.db ] && pass copy_damaged_writes_nothing ||
    flunk copy_damaged_writes_nothing "a copy of the damaged file was left"
expect pages 0 "$dbutil" pages a.db
has pages_meta out.txt "meta"
has pages_leaf out.txt "leaf"
# the tree column names named buckets (it printed blank: a pointer to the
# check's stack was kept past its end)
has pages_names_buckets out.txt 'bucket "bucket 1'
expect page_meta 0 "$dbutil" page a.db 1
has page_meta_fields out.txt "pages in use"
expect page_leaf 0 "$dbutil" page damaged.db 3
has page_damaged_checksum out.txt "WRONG"
expect page_past_end 1 "$dbutil" page a.db 999999
expect pages_damaged_file 0 "$dbutil" pages damaged.db

# ---- garbage never crashes or hangs: loads into damaged files, inspection of them ------
# (status >= 124: killed by the timeout or by a signal)
crashed=0
for i in $(seq 1 30); do
    head -c $((i * 97)) /dev/urandom > junk.bin
    { printf 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n'; head -c $((i * 50)) /dev/urandom; } > junk.dump
    for input in junk.bin junk.dump; do
        timeout 60 "$dbutil" load junk.db -f "$input" > /dev/null 2>&1
        [ $? -ge 124 ] && crashed=$((crashed + 1))
        timeout 60 "$dbutil" load junk.db -T -f "$input" > /dev/null 2>&1
        [ $? -ge 124 ] && crashed=$((crashed + 1))
    done
    cp a.db junk.db
    dd if=/dev/urandom of=junk.db bs=1 count=64 seek=$(( (i % 6) * 4096 + i * 13 )) conv=notrunc 2> /dev/null
    for cmd in "stat -a --free" "buckets" "check" "dump -a" "pages" "page 0" "page 2" "scan"; do
        timeout 60 "$dbutil" $cmd junk.db > /dev/null 2>&1
        [ $? -ge 124 ] && crashed=$((crashed + 1))
    done
done
[ "$crashed" -eq 0 ] && pass garbage_never_crashes || flunk garbage_never_crashes "$crashed runs hung or died of a signal"

# ---- foreign and missing files; usage -----------------------------------------------
echo "not a database" > text.txt
expect foreign_file 1 "$dbutil" stat text.txt
has foreign_file_says err.txt "not a larch database"
expect missing_file 1 "$dbutil" check nosuch.db
has missing_file_says err.txt "nosuch.db"
expect no_args 2 "$dbutil"
expect unknown_command 2 "$dbutil" frobnicate x
expect unknown_option 2 "$dbutil" get s.db --bogus k
expect missing_arg 2 "$dbutil" get s.db
expect too_many_args 2 "$dbutil" check a.db b.db
expect bad_limit 2 "$dbutil" scan s.db --limit -3
expect b_and_a 2 "$dbutil" dump a.db -a -b x
expect help 0 "$dbutil" --help
has help_lists_commands out.txt "dbutil pages FILE"
expect version 0 "$dbutil" --version
for c in stat buckets dump load check copy get put del scan bucket pages page; do
    expect "help_$c" 0 "$dbutil" "$c" --help
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

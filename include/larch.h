/*
 * larch.h - the public interface of larch, an embedded key-value database.
 * MIT license (see LICENSE).
 *
 * larch keeps one data file. Read transactions see a consistent snapshot
 * through a read-only memory map of that file: they take no lock, allocate
 * nothing and copy nothing. One write transaction at a time builds new
 * copy-on-write B+tree pages, writes them with pwrite, syncs, then flips one
 * of two meta pages and syncs again. A crash at any instant leaves the file
 * at its last durable commit; there is no recovery step.
 *
 * Conventions
 *   - Every function that can fail returns an int: 0 on success, one of the
 *     negative LARCH_* codes below, or a positive errno value for a failure
 *     of the operating system. larch_strerror() names every one of them;
 *     larch_last_error_detail() tells what exactly was wrong in the last
 *     call of the thread that failed (which argument, which page).
 *   - Keys are 1..larch_max_key_size() bytes (never more than
 *     LARCH_MAX_KEY_SIZE) and compare as unsigned bytes (memcmp; on a tie
 *     the shorter key sorts first). Values are 0 bytes to 4 GiB - 1.
 *   - Data returned by larch_get() or a cursor points into the database map
 *     (or, in a write transaction, into the transaction's own pages). It is
 *     valid until the transaction ends, and in a write transaction only
 *     until the next change made through that transaction. Never write to it.
 *
 * Threads
 *   A larch_db is shared by all threads of a process. Any number of read
 *   transactions run at once, in any threads. One write transaction runs at
 *   a time: a second larch_begin() for writing waits until the first ends.
 *   A transaction, and its cursors, are used by one thread at a time, but
 *   may be handed from one thread to another (a write transaction may be
 *   committed or aborted by another thread than the one that began it).
 *   The thread that began a write transaction gets LARCH_INVALID from a
 *   second larch_begin() for writing until that transaction has ended, even
 *   if another thread holds it now: waiting would deadlock most callers.
 *
 * Not supported
 *   - Another process (or anything else) truncating or overwriting the
 *     file while it is open: readers see the file through a memory map, and
 *     reading a page cut off the end of the file raises SIGBUS (as with
 *     LMDB). larch's own tools only read a file another handle has open.
 *   - A network file system without working flock() and mmap coherence.
 *
 * Misuse that larch detects (LARCH_INVALID, and a detail)
 *   - Using a transaction after its commit or abort, including a second
 *     commit: detected as long as fewer than 16 other transactions have
 *     ended in the thread that ended it since (its memory is then reused,
 *     and the use is undefined). Cursors must be closed before their
 *     transaction ends; one used after is refused the same way.
 *   - Using a handle in a child process after fork(): every call on it,
 *     and on its transactions and cursors, fails; larch_close() in the
 *     child only frees memory and closes the descriptor, never writes or
 *     truncates the file (the parent goes on with it). Open the file again
 *     in the child if it needs the database.
 *
 * Processes
 *   A file is open in at most one larch_db at a time (enforced with flock):
 *   a second larch_open() of the same file, from this process or another,
 *   gets LARCH_BUSY. Read-only handles (LARCH_RDONLY) may share a file with
 *   each other but not with a writable handle.
 */
#ifndef LARCH_H
#define LARCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LARCH_API __attribute__((visibility("default")))
#else
#define LARCH_API
#endif

/** The library version, as numbers and as a string. */
#define LARCH_VERSION_MAJOR 0
#define LARCH_VERSION_MINOR 1
#define LARCH_VERSION_PATCH 0
#define LARCH_VERSION_STRING "0.1.0"

/**
 * The longest key any larch file accepts, in bytes. Files with pages of
 * 4096 bytes or more accept keys up to this length; files with 1024- or
 * 2048-byte pages accept shorter ones (larch_max_key_size() tells).
 * A buffer of this size holds any key of any larch file.
 */
#define LARCH_MAX_KEY_SIZE 2000

/** The largest value, in bytes: 4 GiB - 1. */
#define LARCH_MAX_VALUE_SIZE 0xffffffffu

/* ---- Return codes ------------------------------------------------------ */

#define LARCH_NOTFOUND (-30500) /**< no such key, or the cursor ran off the end */
#define LARCH_EXISTS   (-30501) /**< LARCH_NOOVERWRITE: the key is already there */
#define LARCH_INVALID  (-30502) /**< bad argument or misuse of the API */
#define LARCH_NOTDB    (-30503) /**< the file is not a larch database */
#define LARCH_VERSION  (-30504) /**< the file was written by an unsupported format version */
#define LARCH_CORRUPT  (-30505) /**< the file is damaged */
#define LARCH_BUSY     (-30506) /**< the file is already open in another handle */
#define LARCH_FULL     (-30507) /**< the commit would grow the file past max_size (less the delete reserve) */
#define LARCH_PANIC    (-30508) /**< a sync failed: the handle refuses writes until reopened */
#define LARCH_NOTFILE  (-30509) /**< the path names a directory, device, FIFO or socket */
#define LARCH_BUCKETS_FULL (-30510) /**< 65,535 buckets are in use in this handle */

/* ---- Flags ------------------------------------------------------------- */

/* larch_options.flags, and LARCH_RDONLY also for larch_begin() */
#define LARCH_RDONLY     0x1u /**< open the file, or begin a transaction, read-only */
#define LARCH_NOSYNC     0x2u /**< no sync at commit: a process crash loses nothing,
                                   a power loss may lose or damage recent commits */
#define LARCH_NOMETASYNC 0x4u /**< sync the data but not the meta page: a power loss
                                   may undo the last commit, never damages the file */
#define LARCH_VERIFY     0x8u /**< verify each page's checksum the first time a transaction
                                   reads it: silent damage (bit rot) gives LARCH_CORRUPT
                                   instead of wrong data; costs a CRC32C per page read */

/* larch_put() flags */
#define LARCH_NOOVERWRITE 0x10u /**< fail with LARCH_EXISTS if the key is present */
#define LARCH_APPEND      0x20u /**< the key is greater than every key in the bucket:
                                     skip the search (LARCH_INVALID if it is not) */

/* larch_bucket_open() flags */
#define LARCH_CREATE 0x100u /**< create the bucket if it does not exist (write txn only) */
#define LARCH_LZ4    0x200u /**< with LARCH_CREATE: compress values with LZ4 when it saves space */

/* larch_copy() flags */
#define LARCH_COPY_COMPACT 0x1u /**< write only live data, repacked into full pages */

/* larch_cursor_get() operations */
#define LARCH_FIRST   0 /**< the first entry */
#define LARCH_LAST    1 /**< the last entry */
#define LARCH_NEXT    2 /**< the entry after the current one (FIRST if unpositioned) */
#define LARCH_PREV    3 /**< the entry before the current one (LAST if unpositioned) */
#define LARCH_SEEK    4 /**< the first entry whose key is >= *key */
#define LARCH_CURRENT 5 /**< the entry under the cursor */

/* ---- Types ------------------------------------------------------------- */

typedef struct larch_db larch_db;         /**< one open database file */
typedef struct larch_txn larch_txn;       /**< a read or write transaction */
typedef struct larch_cursor larch_cursor; /**< an ordered position in a bucket */
typedef uint64_t larch_bucket;            /**< 0 is the default key space */

/** A key or value: size bytes at data. */
typedef struct larch_val {
    size_t size;
    const void *data;
} larch_val;

/** How to open a database. Zero-initialize, then set what you need. */
typedef struct larch_options {
    unsigned flags;     /**< LARCH_RDONLY, LARCH_NOSYNC, LARCH_NOMETASYNC, LARCH_VERIFY */
    uint32_t page_size; /**< for a new file only; 0 means 4096; a power of two 1024..65536 */
    uint64_t max_size;  /**< 0: no limit; else a commit that would grow the file past
                             this many bytes fails with LARCH_FULL (see "Full disks")
                             */
    int mode;           /**< permissions of a new file (less the umask); 0 means 0644;
                             an existing file keeps its own */
} larch_options;

/* ---- Database ---------------------------------------------------------- */

/*
 * Full disks. Deleting is the only way to make room, and a delete needs a
 * few pages of its own (copies of the pages it changes; the pages it frees
 * become reusable two commits later). So a transaction that puts leaves a
 * reserve of 32 pages (an eighth of max_size if that is less) to
 * transactions that only delete or drop buckets: with max_size it fails
 * with LARCH_FULL that many pages short of the limit; on a disk, the file
 * keeps that many pages allocated past the last one in use, and a commit
 * that cannot allocate them fails with ENOSPC. A database that filled its
 * disk or its max_size can then always be emptied, one key per commit if
 * need be.
 */

/**
 * Open a database file, creating it unless LARCH_RDONLY is given.
 *
 * The path must name a regular file (or a symbolic link to one, which is
 * followed: a dangling link gets its target created); a directory, FIFO,
 * device or socket gives LARCH_NOTFILE and is not opened. A missing file
 * is created with opts->mode (less the umask); a file that is empty, or
 * holds nothing but zeros and is no longer than 128 KiB, is made an empty
 * database in place, keeping its owner and permissions. Initialization
 * writes and syncs meta page 1, then meta page 0: a crash in between
 * leaves a file that the next writable open initializes again (a
 * read-only open of it gives LARCH_NOTDB or LARCH_CORRUPT).
 *
 * If the newest commit was a one-sync commit cut short by a power loss (its
 * meta page reached the disk, not all its pages: see larch_commit), the file
 * opens at the commit before, larch_info reports the discarded txnid, and a
 * writable open clears that meta page (a write and a sync).
 *
 * @param path  the file name
 * @param opts  options, or NULL for the defaults
 * @param db    receives the handle; set to NULL on failure
 * @return 0; LARCH_INVALID (NULL argument, bad page size or flags);
 *         LARCH_BUSY (the file is open in another handle);
 *         LARCH_NOTFILE (the path names no regular file);
 *         LARCH_NOTDB (not a larch file); LARCH_VERSION (a format this
 *         library does not read, also in just one of the two meta pages:
 *         the other one would be an older commit); LARCH_CORRUPT (no valid meta page, or a
 *         meta page that does not fit the file); or an errno value
 *         (ENOENT for a missing file with LARCH_RDONLY, EACCES, ENOMEM ...).
 */
LARCH_API int larch_open(const char *path, const larch_options *opts, larch_db **db);

/**
 * Close a database handle and free everything it holds. Every transaction
 * and cursor of the handle must have ended before. NULL is ignored.
 *
 * A writable handle gives back the file's growth slack (but for the delete
 * reserve, in a file of 512 pages or more), and if its last
 * commit was a one-sync commit, writes that commit's meta page again as a
 * new txnid without the written list; then it syncs once. Errors are not
 * reported: the file is sound whether or not these writes land.
 */
LARCH_API void larch_close(larch_db *db);

/**
 * The longest key the file open in db accepts, in bytes: LARCH_MAX_KEY_SIZE
 * for pages of 4096 bytes or more, less for smaller pages. 0 if db is NULL.
 */
LARCH_API size_t larch_max_key_size(const larch_db *db);

/* ---- Transactions ------------------------------------------------------ */

/**
 * Begin a transaction.
 *
 * A read transaction (LARCH_RDONLY) sees the last commit at the time it
 * began, for its whole life, whatever writers do meanwhile. It takes no lock.
 * A write transaction (flags 0) waits until no other write transaction is
 * active, then sees the last commit plus its own changes.
 *
 * @param db    the database
 * @param flags 0 for a write transaction, LARCH_RDONLY for a read transaction
 * @param txn   receives the transaction; set to NULL on failure
 * @return 0; LARCH_INVALID (NULL argument, unknown flags, a write transaction
 *         on a read-only handle, or a second write transaction begun by the
 *         thread that already runs one, which would otherwise deadlock);
 *         LARCH_PANIC (an earlier sync failed; reopen the database);
 *         ENOMEM.
 */
LARCH_API int larch_begin(larch_db *db, unsigned flags, larch_txn **txn);

/**
 * Commit a transaction and free it, also when the commit fails; its
 * cursors must be closed before. Committing a read transaction just ends it.
 *
 * When this returns 0 for a write transaction the changes are durable
 * (unless the database was opened with LARCH_NOSYNC or LARCH_NOMETASYNC).
 * A commit of at most 64 page runs and 1 MiB syncs once, after its pages
 * and its meta page, which lists those pages and their checksums (the next
 * open checks them); a larger one syncs its pages, then its meta page.
 * A commit that changed nothing writes nothing.
 *
 * When it fails, none of the changes happened as far as this handle is
 * concerned: readers keep seeing the previous commit. If writing the data
 * pages failed (ENOSPC, EIO, ...) the file is also unchanged and the handle
 * stays fully usable. If a sync or the write of the meta page failed, the
 * handle cannot know what reached the disk, so it refuses further write
 * transactions (LARCH_PANIC) until the database is closed and reopened;
 * the reopened file holds either the previous commit or this one, whole.
 *
 * @return 0; LARCH_INVALID (NULL); LARCH_FULL (max_size would be passed);
 *         LARCH_CORRUPT (the transaction met a damaged page); the error
 *         that failed an earlier change in this transaction; an errno value
 *         from extending, writing or syncing the file (ENOSPC, EIO, ...).
 */
LARCH_API int larch_commit(larch_txn *txn);

/**
 * End a transaction, dropping its changes, and free it. Its cursors must be
 * closed before. NULL is ignored.
 */
LARCH_API void larch_abort(larch_txn *txn);

/* ---- Data -------------------------------------------------------------- */

/**
 * Look up a key.
 *
 * @param txn  the transaction
 * @param b    the bucket (0: the default key space)
 * @param key  the key
 * @param val  receives the value, pointing into the database (see above)
 * @return 0; LARCH_NOTFOUND; LARCH_INVALID (NULL argument, unknown bucket,
 *         empty or too long key); LARCH_CORRUPT (a damaged page was met).
 */
LARCH_API int larch_get(larch_txn *txn, larch_bucket b, const larch_val *key, larch_val *val);

/**
 * Store a key and value, replacing the value of an existing key unless
 * LARCH_NOOVERWRITE is given.
 *
 * @param txn   a write transaction
 * @param b     the bucket
 * @param key   the key: 1..larch_max_key_size() bytes
 * @param val   the value: 0 bytes to 4 GiB - 1 (data may be NULL when size is 0)
 * @param flags 0, LARCH_NOOVERWRITE, LARCH_APPEND, or both
 * @return 0; LARCH_EXISTS (NOOVERWRITE and the key is there);
 *         LARCH_INVALID (NULL argument, read-only transaction, unknown
 *         bucket, bad key or value size, unknown flags, APPEND with a key
 *         not greater than the last one); LARCH_FULL; LARCH_CORRUPT; ENOMEM.
 *         After a failure other than LARCH_EXISTS and LARCH_INVALID the
 *         transaction can only be aborted (commit then fails too).
 */
LARCH_API int larch_put(larch_txn *txn, larch_bucket b, const larch_val *key,
                        const larch_val *val, unsigned flags);

/**
 * Delete a key.
 *
 * @return 0; LARCH_NOTFOUND; LARCH_INVALID (NULL argument, read-only
 *         transaction, unknown bucket, bad key); LARCH_CORRUPT; ENOMEM.
 */
LARCH_API int larch_del(larch_txn *txn, larch_bucket b, const larch_val *key);

/* ---- Cursors ----------------------------------------------------------- */

/**
 * Open a cursor over a bucket. The cursor starts unpositioned. Close it
 * before the transaction ends.
 *
 * @return 0; LARCH_INVALID (NULL argument, unknown bucket); ENOMEM.
 */
LARCH_API int larch_cursor_open(larch_txn *txn, larch_bucket b, larch_cursor **cur);

/**
 * Move the cursor and return the entry it lands on.
 *
 * In a write transaction the cursor keeps working across changes made
 * through the transaction: it stays on its key, or if that key was deleted,
 * NEXT gives the first key after it and PREV the last key before it.
 *
 * @param cur  the cursor
 * @param key  receives the key; for LARCH_SEEK it also gives the key to
 *             seek (and then receives the key found). May be NULL otherwise.
 * @param val  receives the value; may be NULL
 * @param op   LARCH_FIRST, LARCH_LAST, LARCH_NEXT, LARCH_PREV, LARCH_SEEK
 *             or LARCH_CURRENT
 * @return 0; LARCH_NOTFOUND (empty bucket, past either end, nothing >= the
 *         SEEK key, CURRENT on an unpositioned cursor or a deleted entry);
 *         LARCH_INVALID (NULL cursor, unknown op, bad SEEK key, a
 *         transaction that has ended); LARCH_CORRUPT. After LARCH_NOTFOUND
 *         past an end the cursor keeps its last entry, so PREV (or NEXT)
 *         steps back in. A SEEK that finds nothing leaves the cursor past
 *         the last entry: NEXT finds nothing, PREV gives the last entry,
 *         CURRENT nothing (as LMDB's MDB_SET_RANGE and bbolt's Seek).
 *         Where larch and LMDB differ: after the entry under the cursor is
 *         deleted, CURRENT finds nothing (LMDB: the next entry), and a
 *         cursor at an end finds keys put beyond it later (LMDB: not).
 */
LARCH_API int larch_cursor_get(larch_cursor *cur, larch_val *key, larch_val *val, int op);

/**
 * Delete the entry under the cursor. Afterwards LARCH_NEXT gives the entry
 * that followed it and LARCH_PREV the one before it; LARCH_CURRENT gives
 * LARCH_NOTFOUND.
 *
 * @return 0; LARCH_NOTFOUND (unpositioned, or the entry is already gone);
 *         LARCH_INVALID (NULL, read-only transaction); LARCH_CORRUPT; ENOMEM.
 */
LARCH_API int larch_cursor_del(larch_cursor *cur);

/** Close a cursor. NULL is ignored. */
LARCH_API void larch_cursor_close(larch_cursor *cur);

/* ---- Buckets ----------------------------------------------------------- */

/*
 * A bucket is a named key space of its own (LMDB's named databases, bbolt's
 * buckets). Bucket 0, the default key space, always exists and has no name.
 * A handle stays valid in later transactions of the same larch_db until the
 * bucket is deleted (by a commit) or the database is closed; handles of
 * deleted buckets, of another larch_db (also one closed and reopened) or
 * made up give LARCH_INVALID: no handle is ever issued twice in a process.
 */

/**
 * Open a bucket by name, creating it if asked.
 *
 * A bucket created in a transaction that aborts does not exist afterwards.
 *
 * @param txn   a transaction (a write transaction for LARCH_CREATE)
 * @param name  1..255 bytes of UTF-8, NUL-terminated
 * @param flags 0, LARCH_CREATE, LARCH_CREATE | LARCH_LZ4 (LZ4 applies only
 *              when the bucket is created; an existing bucket keeps its kind)
 * @param b     receives the handle
 * @return 0; LARCH_NOTFOUND (no such bucket and no LARCH_CREATE);
 *         LARCH_INVALID (NULL, bad name, CREATE in a read transaction,
 *         unknown flags); LARCH_BUCKETS_FULL (65,535 buckets in use in
 *         this handle: deleted ones do not count); ENOMEM; LARCH_CORRUPT.
 */
LARCH_API int larch_bucket_open(larch_txn *txn, const char *name, unsigned flags, larch_bucket *b);

/**
 * Empty a bucket (delete_bucket = 0) or delete it (1). Its pages return to
 * free space. A bucket deleted in a transaction that aborts is still there
 * with all its data. Bucket 0 can be emptied, not deleted.
 *
 * @return 0; LARCH_INVALID (NULL, read-only txn, bad handle, deleting
 *         bucket 0); LARCH_CORRUPT; ENOMEM.
 */
LARCH_API int larch_bucket_drop(larch_txn *txn, larch_bucket b, int delete_bucket);

/**
 * List the named buckets in name order: the first bucket whose name sorts
 * after 'after' (NULL or "" for the first one). name->data points into the
 * database like any value (not NUL-terminated).
 *
 * @return 0; LARCH_NOTFOUND (no more buckets); LARCH_INVALID; LARCH_CORRUPT.
 */
LARCH_API int larch_bucket_next(larch_txn *txn, const char *after, larch_val *name);

/**
 * A per-bucket counter that commits with the transaction (bbolt's
 * NextSequence): increments it and gives the new value (1 the first time).
 *
 * @return 0; LARCH_INVALID (NULL, read-only txn, bad handle).
 */
LARCH_API int larch_bucket_sequence(larch_txn *txn, larch_bucket b, uint64_t *next);

/**
 * Set a bucket's sequence counter (bbolt's SetSequence): the next
 * larch_bucket_sequence() gives value + 1. For restoring a dump.
 *
 * @return 0; LARCH_INVALID (NULL, read-only txn, bad handle).
 */
LARCH_API int larch_bucket_set_sequence(larch_txn *txn, larch_bucket b, uint64_t value);

/* ---- Statistics --------------------------------------------------------- */

/* The type is written "struct larch_stat" (larch_stat is the function, as with stat(2)). */
struct larch_stat {
    uint32_t page_size;
    uint32_t depth;           /**< 0 for an empty bucket, 1 for a single leaf */
    uint64_t branch_pages;
    uint64_t leaf_pages;
    uint64_t overflow_pages;
    uint64_t entries;
    unsigned flags;           /**< LARCH_LZ4 for a compressing bucket */
    uint64_t value_bytes;     /**< LZ4 buckets: the values' bytes before compression */
    uint64_t stored_bytes;    /**< LZ4 buckets: the bytes stored for them */
    uint64_t sequence;        /**< the bucket's sequence counter */
};

/**
 * Statistics of one bucket as the transaction sees it.
 * @return 0; LARCH_INVALID (NULL, bad handle).
 */
LARCH_API int larch_stat(larch_txn *txn, larch_bucket b, struct larch_stat *st);

/* The type is written "struct larch_info" (larch_info is the function). */
struct larch_info {
    uint64_t file_size;     /**< bytes of the data file */
    uint64_t map_size;      /**< bytes of the current memory map */
    uint32_t page_size;
    uint64_t last_txnid;    /**< the last committed transaction */
    uint64_t last_pgno;     /**< the highest page in use */
    uint64_t free_pages;    /**< pages recorded free (reusable now or soon) */
    uint32_t readers;       /**< read transactions now active */
    uint64_t buckets;       /**< named buckets (bucket 0 not counted) */
    uint64_t discarded_txnid; /**< 0, or: at open, the newest meta page was of this
                                   transaction, a commit cut short by a power loss (its
                                   pages had not all reached the disk, so it had not
                                   returned); the file opened at the commit before */
};

/**
 * Information on the database file and handle, as of the last commit.
 * @return 0; LARCH_INVALID (NULL); LARCH_CORRUPT; ENOMEM.
 */
LARCH_API int larch_info(larch_db *db, struct larch_info *info);

/* ---- Backup and compaction ---------------------------------------------- */

/**
 * Write a consistent snapshot of the database to a new file while other
 * threads keep reading and writing (it runs inside a read transaction).
 * With LARCH_COPY_COMPACT only live data is written, every tree rebuilt
 * into full pages and free space dropped, so a database that had most of
 * its data deleted becomes small again. Without it the pages keep their
 * numbers, and free pages are written as zeros (deleted data stays
 * behind). The copy is built under a temporary name, synced and linked
 * into place before this returns.
 *
 * The snapshot is checked whole first (as larch_check does): a copy of a
 * damaged file would carry the damage under fresh checksums, where no
 * check could find it again, so it is refused and nothing is written.
 *
 * @param db    the database
 * @param path  the new file; it must not exist
 * @param flags 0 or LARCH_COPY_COMPACT
 * @return 0; LARCH_INVALID (NULL, unknown flags); EEXIST; an errno from
 *         writing; LARCH_CORRUPT (the source is damaged: the detail names
 *         the first problem, as larch_check would).
 */
LARCH_API int larch_copy(larch_db *db, const char *path, unsigned flags);

/**
 * Like larch_copy(), writing the file's bytes from the start to fd in
 * order (no seeking), for a pipe, socket or open file. fd is not synced
 * or closed.
 */
LARCH_API int larch_copy_fd(larch_db *db, int fd, unsigned flags);

/* ---- Consistency check --------------------------------------------------- */

#define LARCH_CHECK_MESSAGES 8

typedef struct larch_check_report {
    uint64_t pages;           /**< pages in use (the file's page count) */
    uint64_t tree_pages;      /**< branch, leaf and overflow pages of all trees */
    uint64_t free_pages;      /**< pages recorded free */
    uint64_t entries;         /**< entries in all buckets */
    uint64_t buckets;         /**< named buckets */
    uint64_t problems;        /**< problems found (0: the file is sound) */
    unsigned damaged_metas;   /**< meta pages that fail their checksum or are of a commit
                                   cut short (larch_info's discarded_txnid): not a problem
                                   while the other one is sound (a power loss in a commit) */
    unsigned nmessages;       /**< messages below */
    char message[LARCH_CHECK_MESSAGES][200]; /**< the first problems, in words */
} larch_check_report;

/**
 * Walk the whole file as the transaction sees it: every page reached
 * exactly once from the trees or the free-space records, no page past the
 * last one in use, every page's checksum, number and type, keys strictly
 * ordered in and across pages, separators bounding their children, entry
 * and page counts matching, overflow runs in range and matching their checksums, LZ4 values
 * decompressing to their recorded length, both meta pages' checksums.
 * Never crashes on a damaged file.
 *
 * @param txn  a transaction (a read transaction checks the last commit)
 * @param rep  receives the counts and the first problems in words
 * @return 0 (sound); LARCH_CORRUPT (problems found: see rep);
 *         LARCH_INVALID (NULL); ENOMEM.
 */
LARCH_API int larch_check(larch_txn *txn, larch_check_report *rep);

/* ---- Errors ------------------------------------------------------------ */

/**
 * A sentence that describes a return code: one of the LARCH_* codes, an
 * errno value (the system's message), or 0. Never NULL; the string is static.
 */
LARCH_API const char *larch_strerror(int err);

/**
 * What was wrong in the last call of this thread that failed: for
 * LARCH_INVALID the argument or the misuse ("a key of 0 bytes ...",
 * "the transaction has ended ..."), for LARCH_NOTFOUND from
 * larch_bucket_open the name, for damage found by a copy or a verifying
 * transaction the page; otherwise larch_strerror() of its code. "" before
 * any failure. The string belongs to the thread and stays valid until its
 * next failing call.
 */
LARCH_API const char *larch_last_error_detail(void);

#ifdef __cplusplus
}
#endif

#endif /* LARCH_H */

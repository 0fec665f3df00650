/*
 * db.h - the database handle: the file, its mappings, the versions
 * (committed snapshots) readers pin, and the table of reader slots.
 *
 * How readers stay lock-free: every commit publishes a new immutable
 * struct version (the meta page's content plus the mapping that covers it)
 * through one atomic pointer. A reader claims a slot, stores the version it
 * is about to use into it, and checks that the version is still current; if
 * not it tries again. The writer, after publishing a newer version, scans the
 * slots: a version no slot names is freed (and its mapping unmapped when no
 * version uses it). The same scan gives the oldest snapshot still read,
 * below which freed pages may be reused. Because both sides store before
 * they load (sequentially consistent atomics), a reader can never start
 * using a version the writer has decided is unused.
 */
#ifndef LARCH_DB_H
#define LARCH_DB_H

#include "meta.h"

#include <pthread.h>
#include <stdatomic.h>

struct mapping {
    uint8_t *base;
    size_t size;
    unsigned refs; /* versions using it; writer-owned */
};

struct version {
    struct meta meta;
    struct mapping *map;
    struct version *next; /* the writer's list of live versions */
};

#define READER_CHUNK 64

/*
 * Memory a transaction hands on to the next one in its place (a reader
 * slot, or the writer's state), owned by whichever transaction holds that
 * place: the arena chunk for values it decompressed and the decode window
 * (txn.c, compress.c). Allocated afresh, a read txn of 1,000 gets of 1 KiB
 * LZ4 values faulted in a megabyte of new pages and gave it back to the
 * kernel at its end: a fifth of its time.
 */
struct txn_spare {
    struct arena_chunk *arena;
    uint8_t *zwin;
};

/* One slot per cache line, so readers in different threads do not share. */
struct reader_slot {
    _Atomic(struct version *) ver;
    atomic_uint used;
    struct txn_spare spare; /* only the reader holding the slot touches it */
    char pad[64 - 2 * sizeof(void *) - sizeof(struct txn_spare)];
};
_Static_assert(sizeof(struct reader_slot) == 64, "a reader slot is one cache line");

struct reader_chunk {
    struct reader_slot slot[READER_CHUNK];
    _Atomic(struct reader_chunk *) next;
};

/* The bucket handle table; see bucket.h. */
#define BUCKET_CHUNK 256u
#define BUCKET_CHUNKS 256u
#define BUCKET_INDEX_BITS 16
#define BUCKET_INDEX(b) ((uint32_t)((b) & 0xffffu))
#define BUCKET_MAX_INDEX (BUCKET_CHUNK * BUCKET_CHUNKS - 1u)

enum { ENTRY_LIVE = 1, ENTRY_PENDING = 2, ENTRY_RETIRED = 3 };

struct bucket_entry {
    larch_bucket handle;
    atomic_uint state;
    uint16_t namelen;
    uint8_t name[MAX_BUCKET_NAME];
    struct bucket_entry *next;       /* in a chain of the name index, or in limbo */
    txnid_t retired_at;              /* in limbo: the last commit when it was retired */
};

struct bucket_table {
    pthread_mutex_t lock;
    _Atomic(_Atomic(struct bucket_entry *) *) chunk[BUCKET_CHUNKS];
    uint32_t next_index;
    uint32_t *free_index; /* indexes of retired entries, to reuse */
    size_t nfree, free_cap;
    struct bucket_entry **names; /* hash of the names of live and pending entries */
    size_t names_cap, nnames;
    struct bucket_entry *limbo;  /* retired entries a transaction may still read */
};

struct wstate;

struct larch_db {
    int fd;
    unsigned forks;  /* db_forks when it was opened */
    unsigned flags;
    uint32_t page_size;
    unsigned page_shift;
    uint64_t max_size;
    pgno_t truncated_from; /* read-only open of a cut file: the pages its meta names */
    txnid_t discarded_txnid; /* at open: the newest meta page's commit did not complete */

    _Atomic(struct version *) current;
    struct reader_chunk readers;
    atomic_uint active_readers;
    struct bucket_table buckets;

    /* One write transaction at a time: 'writing' under write_mutex, waited
     * for on write_free. Not a mutex held for the transaction's life, so
     * that any thread may end it (a mutex must be unlocked by its locker). */
    pthread_mutex_t write_mutex;
    pthread_cond_t write_free;
    bool writing;
    atomic_uintptr_t writer_thread; /* the thread that began the write txn, 0 if none */
    atomic_int panic;               /* a sync failed: no more writes */

    /* Owned by the writer (while 'writing', or at open and close). */
    struct version *versions; /* newest first; the first is current */
    uint64_t file_size;
    pgno_t grow_mark;         /* pages at or past it were taken from the delete reserve (pager.c) */
    bool disk_full;           /* the last growth of the file failed with ENOSPC */
    struct wstate *ws;
};

/*
 * The forks this process has seen (counted by a pthread_atfork handler
 * that larch_open installs). A handle opened before the last fork belongs
 * to the parent: in the child every call on it fails, and closing it only
 * frees memory, for writing or truncating the file would destroy the
 * parent's work.
 */
LARCH_INTERNAL_VAR atomic_uint db_forks;
static inline bool db_forked(const larch_db *db)
{
    return UNLIKELY(db->forks != atomic_load_explicit(&db_forks, memory_order_relaxed));
}

/* Claim a reader slot and pin the current version in it. */
LARCH_INTERNAL int db_reader_enter(larch_db *db, struct reader_slot **slot, struct version **ver);
LARCH_INTERNAL void db_reader_leave(larch_db *db, struct reader_slot *slot);

/*
 * A commit prepares its version before it writes the meta page (so that
 * nothing can fail after the commit is on disk): db_version_new allocates
 * it and maps the file anew if it has outgrown the current mapping.
 * db_version_publish makes it current and frees versions nobody reads;
 * db_version_discard drops it after a failed commit. Writer only.
 */
LARCH_INTERNAL int db_version_new(larch_db *db, struct version **v);
LARCH_INTERNAL void db_version_publish(larch_db *db, struct version *v, const struct meta *m);
LARCH_INTERNAL void db_version_discard(larch_db *db, struct version *v);

/* The oldest snapshot txnid that a reader (or the last commit) still uses. Writer only. */
LARCH_INTERNAL txnid_t db_oldest_snapshot(larch_db *db);

/* Grow the file to at least 'need' bytes, in growing steps. Writer only. */
LARCH_INTERNAL int db_grow_file(larch_db *db, uint64_t need);

#endif /* LARCH_DB_H */

/*
 * os.h - the only door from larch to the operating system.
 *
 * Every system call the engine makes on its file goes through one table of
 * functions, struct os_io, so that tests can swap it for one that fails the
 * Nth call, shortens writes or simulates a power loss. Reads never come
 * here: they go through the memory map.
 *
 * The wrappers below (os_*) retry EINTR and finish short writes, so the
 * table's functions may behave exactly like the raw system calls.
 */
#ifndef LARCH_OS_H
#define LARCH_OS_H

#include "internal.h"

#include <sys/types.h>
#include <sys/uio.h>

struct os_io {
    int (*open)(const char *path, int flags, int mode);
    int (*close)(int fd);
    ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
    ssize_t (*pwritev)(int fd, const struct iovec *iov, int iovcnt, off_t off);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*fallocate)(int fd, off_t off, off_t len); /* Linux fallocate(2), mode 0 */
    int (*fstat_size)(int fd, uint64_t *size);
    void *(*mmap)(size_t len, int fd);      /* read-only, shared, whole file from 0 */
    int (*munmap)(void *addr, size_t len);
    int (*flock)(int fd, int op);
    int (*link)(const char *from, const char *to);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    ssize_t (*write)(int fd, const void *buf, size_t len); /* streams (larch_copy_fd) */
};

/* The table in use, and a way for tests to replace it (NULL restores). */
LARCH_INTERNAL const struct os_io *os_io_get(void);
LARCH_INTERNAL void os_io_set(const struct os_io *io);
LARCH_INTERNAL const struct os_io *os_io_default(void);

/* Wrappers: 0 or a positive errno unless said otherwise. */
LARCH_INTERNAL int os_open(const char *path, int flags, int mode, int *fd);
/*
 * Open a regular file (following symbolic links), never anything else:
 * LARCH_NOTFILE, with *kind naming what path is ("a directory", "a FIFO",
 * ...), for a directory, device, FIFO or socket, which is not opened at
 * all if it is one already (opening a FIFO waits for a writer, a device
 * may act on being opened).
 */
LARCH_INTERNAL int os_open_regular(const char *path, int flags, int mode, int *fd, const char **kind);
LARCH_INTERNAL void os_close(int fd);
LARCH_INTERNAL int os_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got);
LARCH_INTERNAL int os_pwritev_full(int fd, struct iovec *iov, int iovcnt, uint64_t off);
LARCH_INTERNAL int os_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
LARCH_INTERNAL int os_datasync(int fd);
LARCH_INTERNAL int os_sync(int fd);
LARCH_INTERNAL int os_truncate(int fd, uint64_t len);
/* Extend the file from 'from' to 'to' bytes with disk space allocated to
 * the new part (fallocate), or, where the file system cannot do that, as
 * a sparse extension. On failure the file keeps its size. */
LARCH_INTERNAL int os_extend(int fd, uint64_t from, uint64_t to);
LARCH_INTERNAL int os_file_size(int fd, uint64_t *size);
LARCH_INTERNAL int os_map(int fd, size_t len, void **addr);
LARCH_INTERNAL void os_unmap(void *addr, size_t len);
LARCH_INTERNAL int os_lock(int fd, bool exclusive);
LARCH_INTERNAL int os_link(const char *from, const char *to);
LARCH_INTERNAL int os_rename(const char *from, const char *to);
LARCH_INTERNAL void os_unlink(const char *path);
/* Sync the directory that holds the file path names (a symbolic link's target). */
LARCH_INTERNAL int os_sync_dir_of(const char *path);
/* Write all of buf to a stream (pipe, socket or file at its offset). */
LARCH_INTERNAL int os_write_all(int fd, const void *buf, size_t len);

#endif /* LARCH_OS_H */

/*
 * os.c - system calls on the data file, behind a replaceable table.
 */
#include "os.h"

#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int sys_open(const char *path, int flags, int mode) { return open(path, flags, mode); }
static int sys_close(int fd) { return close(fd); }
static ssize_t sys_pread(int fd, void *buf, size_t len, off_t off) { return pread(fd, buf, len, off); }
/* One buffer (every tree page a commit writes) goes through pwrite: the
 * kernel then skips importing an iovec array (about 1.4% of a random put). */
static ssize_t sys_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    return n == 1 ? pwrite(fd, iov[0].iov_base, iov[0].iov_len, off) : pwritev(fd, iov, n, off);
}
static int sys_fdatasync(int fd) { return fdatasync(fd); }
static int sys_fsync(int fd) { return fsync(fd); }
static int sys_ftruncate(int fd, off_t len) { return ftruncate(fd, len); }
static int sys_fallocate(int fd, off_t off, off_t len)
{
#ifdef __linux__
    return fallocate(fd, 0, off, len);
#else
    (void)fd, (void)off, (void)len;
    errno = EOPNOTSUPP;
    return -1;
#endif
}
static int sys_munmap(void *addr, size_t len) { return munmap(addr, len); }
static int sys_flock(int fd, int op) { return flock(fd, op); }
static int sys_link(const char *from, const char *to) { return link(from, to); }
static int sys_rename(const char *from, const char *to) { return rename(from, to); }
static int sys_unlink(const char *path) { return unlink(path); }
static ssize_t sys_write(int fd, const void *buf, size_t len) { return write(fd, buf, len); }

static int sys_fstat_size(int fd, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    *size = (uint64_t)st.st_size;
    return 0;
}

static void *sys_mmap(size_t len, int fd)
{
    return mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
}

static const struct os_io default_io = {
    sys_open, sys_close, sys_pread, sys_pwritev, sys_fdatasync, sys_fsync, sys_ftruncate, sys_fallocate,
    sys_fstat_size, sys_mmap, sys_munmap, sys_flock, sys_link, sys_rename, sys_unlink, sys_write,
};

static const struct os_io *current_io = &default_io;

LARCH_INTERNAL const struct os_io *os_io_get(void) { return current_io; }
LARCH_INTERNAL const struct os_io *os_io_default(void) { return &default_io; }
LARCH_INTERNAL void os_io_set(const struct os_io *io) { current_io = io ? io : &default_io; }

static int err_or_eio(void) { return errno ? errno : EIO; }

LARCH_INTERNAL int os_open(const char *path, int flags, int mode, int *fd)
{
    int r;
    do
        r = current_io->open(path, flags | O_CLOEXEC, mode);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return err_or_eio();
    *fd = r;
    return 0;
}

static const char *kind_of(mode_t mode)
{
    return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) ? "a character device"
         : S_ISBLK(mode) ? "a block device" : S_ISSOCK(mode) ? "a socket" : "not a regular file";
}

LARCH_INTERNAL int os_open_regular(const char *path, int flags, int mode, int *fd, const char **kind)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        *kind = kind_of(st.st_mode);
        return LARCH_NOTFILE;
    }
    /* It may have changed since: O_NONBLOCK keeps a FIFO from waiting,
     * O_NOCTTY a terminal from becoming this process's. */
    int rc = os_open(path, flags | O_NONBLOCK | O_NOCTTY, mode, fd);
    if (rc)
        return rc;
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *kind = kind_of(st.st_mode);
        os_close(*fd);
        return LARCH_NOTFILE;
    }
    int fl = fcntl(*fd, F_GETFL);
    if (fl >= 0)
        fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK);
    return 0;
}

LARCH_INTERNAL void os_close(int fd)
{
    if (fd >= 0)
        current_io->close(fd);
}

LARCH_INTERNAL int os_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = current_io->pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return err_or_eio();
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

/* Write all of iov at off, resuming after short writes; iov is consumed. */
LARCH_INTERNAL int os_pwritev_full(int fd, struct iovec *iov, int iovcnt, uint64_t off)
{
    while (iovcnt > 0) {
        ssize_t r = current_io->pwritev(fd, iov, iovcnt, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return err_or_eio();
        if (r == 0)
            return EIO;
        off += (uint64_t)r;
        size_t left = (size_t)r;
        while (iovcnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

LARCH_INTERNAL int os_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    struct iovec iov = { (void *)buf, len };
    return os_pwritev_full(fd, &iov, 1, off);
}

LARCH_INTERNAL int os_datasync(int fd)
{
    /* No retry on EINTR: after a failed sync the state of the page cache is
     * unknown (the kernel may have dropped the dirty pages), so the caller
     * must treat any failure as final. */
    return current_io->fdatasync(fd) == 0 ? 0 : err_or_eio();
}

LARCH_INTERNAL int os_sync(int fd)
{
    return current_io->fsync(fd) == 0 ? 0 : err_or_eio();
}

LARCH_INTERNAL int os_truncate(int fd, uint64_t len)
{
    int r;
    do
        r = current_io->ftruncate(fd, (off_t)len);
    while (r < 0 && errno == EINTR);
    return r == 0 ? 0 : err_or_eio();
}

LARCH_INTERNAL int os_extend(int fd, uint64_t from, uint64_t to)
{
    int r;
    do
        r = current_io->fallocate(fd, (off_t)from, (off_t)(to - from));
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    int err = err_or_eio();
    if (err == EOPNOTSUPP || err == ENOSYS || err == EINVAL)
        return os_truncate(fd, to); /* no allocation here: sparse */
    os_truncate(fd, from); /* a failed fallocate may have extended the file in part */
    return err;
}

LARCH_INTERNAL int os_file_size(int fd, uint64_t *size)
{
    return current_io->fstat_size(fd, size) == 0 ? 0 : err_or_eio();
}

LARCH_INTERNAL int os_map(int fd, size_t len, void **addr)
{
    void *p = current_io->mmap(len, fd);
    if (p == MAP_FAILED || p == NULL)
        return err_or_eio();
    *addr = p;
    return 0;
}

LARCH_INTERNAL void os_unmap(void *addr, size_t len)
{
    if (addr)
        current_io->munmap(addr, len);
}

LARCH_INTERNAL int os_lock(int fd, bool exclusive)
{
    int r;
    do
        r = current_io->flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    return errno == EWOULDBLOCK ? LARCH_BUSY : err_or_eio();
}

LARCH_INTERNAL int os_link(const char *from, const char *to)
{
    return current_io->link(from, to) == 0 ? 0 : err_or_eio();
}

LARCH_INTERNAL int os_rename(const char *from, const char *to)
{
    return current_io->rename(from, to) == 0 ? 0 : err_or_eio();
}

LARCH_INTERNAL void os_unlink(const char *path)
{
    current_io->unlink(path);
}

/* Sync the directory holding path (resolved, if it is a symbolic link),
 * so a new name in it is durable. */
LARCH_INTERNAL int os_sync_dir_of(const char *path)
{
    char *dir = realpath(path, NULL); /* NULL if path does not exist yet */
    if (!dir)
        dir = strdup(path);
    if (!dir)
        return ENOMEM;
    char *room = realloc(dir, strlen(dir) + 2); /* room for "." */
    if (!room) {
        free(dir);
        return ENOMEM;
    }
    dir = room;
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    int fd, rc = os_open(dir, O_RDONLY | O_DIRECTORY, 0, &fd);
    free(dir);
    if (rc)
        return rc;
    rc = os_sync(fd);
    os_close(fd);
    /* Some file systems cannot sync a directory; that is not a failure of ours. */
    return (rc == EINVAL || rc == EBADF) ? 0 : rc;
}

LARCH_INTERNAL int os_write_all(int fd, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = current_io->write(fd, (const char *)buf + done, len - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? err_or_eio() : EIO;
        done += (size_t)r;
    }
    return 0;
}

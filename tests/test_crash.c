/*
 * test_crash.c - a child process commits in a loop and is killed with
 * SIGKILL at a random moment; the file must then open at a commit no older
 * than the last one the child saw succeed (and at most the one in flight),
 * with exactly that commit's data, and pass the page audit.
 */
#include "pagewalk.h"
#include "workload.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void child_loop(const char *path, int ackfd)
{
    larch_db *db;
    uint8_t *buf = malloc(WORKLOAD_MAX_VALUE);
    if (larch_open(path, NULL, &db))
        _exit(3);
    larch_txn *txn;
    if (larch_begin(db, LARCH_RDONLY, &txn))
        _exit(4);
    uint64_t i = workload_seq(txn);
    larch_abort(txn);
    for (;;) {
        i++;
        if (workload_commit(db, i, buf))
            _exit(5);
        if (write(ackfd, &i, 8) != 8) /* told only after commit returned 0 */
            _exit(6);
    }
}

/* Check everything the file holds against what commits 1..s wrote. */
static void verify(const char *path, uint64_t acked, uint64_t *seq_out)
{
    larch_db *db;
    larch_txn *txn;
    CHECK_OK(larch_open(path, NULL, &db));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    uint64_t s = workload_seq(txn);
    CHECK_MSG(s >= acked && s <= acked + 1, "file holds commit %llu, child had acknowledged %llu",
              (unsigned long long)s, (unsigned long long)acked);
    workload_verify(txn, s);
    larch_abort(txn);
    pagewalk_audit(db, NULL);
    larch_close(db);
    *seq_out = s;
}

static uint64_t kill_after(const char *path, int delay_us)
{
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_loop(path, p[1]);
    }
    close(p[1]);
    usleep((useconds_t)delay_us);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFSIGNALED(status), "child ended on its own (status %d)", status);
    uint64_t acked = 0, x;
    while (read(p[0], &x, 8) == 8)
        acked = x;
    close(p[0]);
    return acked;
}

TEST(crash, sigkill_during_commits)
{
    rng_t r = { test_seed("crash", (uint64_t)time(NULL)) };
    const char *path = test_path("crash.db");
    int rounds = test_long() ? 300 : 40;
    uint64_t last = 0, total_acked = 0;
    for (int round = 0; round < rounds; round++) {
        uint64_t acked = kill_after(path, 2000 + (int)rng_below(&r, 60000));
        if (acked == 0)
            acked = last; /* killed before its first commit this round */
        total_acked = acked;
        verify(path, acked, &last);
    }
    printf("    %d kills, %llu commits survived\n", rounds, (unsigned long long)total_acked);
    CHECK(last > 0);
}

TEST(crash, sigkill_while_creating)
{
    rng_t r = { test_seed("crash create", (uint64_t)time(NULL) + 1) };
    for (int round = 0; round < (test_long() ? 200 : 30); round++) {
        char name[32];
        snprintf(name, sizeof name, "new%d.db", round);
        const char *path = test_path(name);
        uint64_t acked = kill_after(path, (int)rng_below(&r, 3000));
        if (access(path, F_OK) != 0) {
            CHECK(acked == 0); /* no file: nothing can have been committed */
            continue;
        }
        uint64_t s;
        verify(path, acked, &s);
    }
}

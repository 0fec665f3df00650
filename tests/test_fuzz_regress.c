/*
 * test_fuzz_regress.c - every fuzz input worth keeping runs in make test:
 * the seed corpora (fuzz/corpus/NAME/) and the inputs that once found a
 * bug (tests/fuzz-regress/NAME/), through the same harness code.
 */
#include "test.h"

#include <dirent.h>
#include <sys/stat.h>

int fuzz_open_input(const uint8_t *data, size_t size);
int fuzz_ops_input(const uint8_t *data, size_t size);
int fuzz_load_input(const uint8_t *data, size_t size);

static int replay_dir(const char *dir, int (*fn)(const uint8_t *, size_t))
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        char path[1024];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) || !S_ISREG(st.st_mode))
            continue;
        FILE *f = fopen(path, "rb");
        uint8_t *buf = malloc((size_t)st.st_size + 1);
        CHECK(f && fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size);
        fclose(f);
        fn(buf, (size_t)st.st_size);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void replay(const char *name, int (*fn)(const uint8_t *, size_t))
{
    char dir[256];
    snprintf(dir, sizeof dir, "fuzz/corpus/%s", name);
    int corpus = replay_dir(dir, fn);
    snprintf(dir, sizeof dir, "tests/fuzz-regress/%s", name);
    int regress = replay_dir(dir, fn);
    printf("    %s: %d corpus inputs, %d regression inputs\n", name, corpus, regress);
    CHECK(corpus > 0);
}

TEST(fuzz, open_inputs) { replay("fuzz_open", fuzz_open_input); }
TEST(fuzz, ops_inputs) { replay("fuzz_ops", fuzz_ops_input); }
TEST(fuzz, load_inputs) { replay("fuzz_load", fuzz_load_input); }

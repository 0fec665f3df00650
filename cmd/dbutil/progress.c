/*
 * progress.c - a progress line on stderr for long work, when stderr is a
 * terminal: how much is done, the rate, and the time left when the total
 * is known. Quiet otherwise, so scripts and logs see nothing of it.
 */
#include "dbutil.h"

#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void human(char *buf, size_t n, double v, const char *unit)
{
    if (unit[0] == 'b') {
        const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        int i = 0;
        while (v >= 1024 && i < 4) {
            v /= 1024;
            i++;
        }
        snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
    } else {
        snprintf(buf, n, "%.0f %s", v, unit);
    }
}

void progress_start(struct progress *p, const char *what, const char *unit, uint64_t total)
{
    p->on = isatty(STDERR_FILENO);
    p->what = what;
    p->unit = unit;
    p->total = total;
    p->start = p->last = now();
}

void progress_update(struct progress *p, uint64_t done)
{
    if (!p->on)
        return;
    double t = now();
    if (t - p->last < 0.2)
        return;
    p->last = t;
    char d[32], r[32], left[32] = "";
    double rate = done / (t - p->start > 1e-3 ? t - p->start : 1e-3);
    human(d, sizeof d, (double)done, p->unit);
    human(r, sizeof r, rate, p->unit);
    if (p->total && rate > 0 && done <= p->total) {
        double s = (double)(p->total - done) / rate;
        snprintf(left, sizeof left, ", %d:%02d left", (int)s / 60, (int)s % 60);
        fprintf(stderr, "\r%s: %s (%.0f%%), %s/s%s   ", p->what, d, 100.0 * (double)done / (double)p->total, r,
                left);
    } else {
        fprintf(stderr, "\r%s: %s, %s/s   ", p->what, d, r);
    }
}

void progress_end(struct progress *p)
{
    if (p->on && p->last > p->start)
        fprintf(stderr, "\r%60s\r", "");
}

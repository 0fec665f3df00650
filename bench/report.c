/*
 * report.c - the benchmark's results: medians, the table a person reads,
 * CSV for scripts, and an SVG bar chart of the ratios larch/LMDB.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(const double *v, int n)
{
    double tmp[BENCH_MAX_ROUNDS];
    if (n <= 0)
        return 0;
    memcpy(tmp, v, (size_t)n * sizeof *v);
    qsort(tmp, (size_t)n, sizeof *tmp, compare_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

uint64_t bench_median_u64(const uint64_t *v, int n)
{
    double tmp[BENCH_MAX_ROUNDS];
    for (int i = 0; i < n; i++)
        tmp[i] = (double)v[i];
    return (uint64_t)bench_median(tmp, n);
}

static int engine_index(const struct bench_results *r, const char *name)
{
    for (int i = 0; i < r->nengines; i++)
        if (!strcmp(r->engine_names[i], name))
            return i;
    return -1;
}

static double cell_ops(const struct bench_cell *c) { return bench_median(c->ops, c->n); }
static uint64_t cell_bytes(const struct bench_cell *c) { return c->n ? bench_median_u64(c->bytes, c->n) : 0; }

/* 1234567 -> "1,234,567" */
static const char *grouped(double v, char *buf, size_t size)
{
    char digits[32];
    int len, out = 0;
    snprintf(digits, sizeof digits, "%.0f", v);
    len = (int)strlen(digits);
    for (int i = 0; i < len && out + 2 < (int)size; i++) {
        if (i && (len - i) % 3 == 0)
            buf[out++] = ',';
        buf[out++] = digits[i];
    }
    buf[out] = 0;
    return buf;
}

static const char *megabytes(uint64_t bytes, char *buf, size_t size)
{
    if (!bytes)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.1f MB", (double)bytes / 1e6);
    return buf;
}

void bench_print_table(const struct bench_results *r, const char *machine)
{
    int lx = engine_index(r, "larch"), lm = engine_index(r, "lmdb");
    int ratio = lx >= 0 && lm >= 0;
    char a[32];

    printf("N = %llu, 16-byte keys, 100-byte values, syncs off unless said; median of %d rounds\n",
           (unsigned long long)r->n, r->rounds);
    printf("machine: %s\n\n", machine);
    printf("%-16s", "workload");
    for (int e = 0; e < r->nengines; e++)
        printf(" %12s", r->engine_names[e]);
    if (ratio)
        printf(" %11s", "larch/lmdb");
    for (int e = 0; e < r->nengines; e++)
        printf(" %11s", r->engine_names[e]);
    if (ratio)
        printf(" %10s", "file ratio");
    printf("\n%-16s", "");
    for (int e = 0; e < r->nengines; e++)
        printf(" %12s", "ops/s");
    if (ratio)
        printf(" %11s", "ops ratio");
    for (int e = 0; e < r->nengines; e++)
        printf(" %11s", "file");
    printf("\n");

    for (int i = 0; i < r->nrows; i++) {
        const struct bench_row *row = &r->rows[i];
        int any = 0;
        for (int e = 0; e < r->nengines; e++)
            any |= row->cell[e].n > 0;
        if (!any)
            continue;
        printf("%-16s", row->name);
        for (int e = 0; e < r->nengines; e++)
            printf(" %12s", row->cell[e].n ? grouped(cell_ops(&row->cell[e]), a, sizeof a) : "-");
        if (ratio) {
            double x = cell_ops(&row->cell[lx]), y = cell_ops(&row->cell[lm]);
            if (x > 0 && y > 0)
                printf(" %10.2fx", x / y);
            else
                printf(" %11s", "-");
        }
        for (int e = 0; e < r->nengines; e++)
            printf(" %11s", megabytes(cell_bytes(&row->cell[e]), a, sizeof a));
        if (ratio && cell_bytes(&row->cell[lx]) && cell_bytes(&row->cell[lm]))
            printf(" %9.3fx", (double)cell_bytes(&row->cell[lx]) / (double)cell_bytes(&row->cell[lm])); /* 3 places: "no larger" */
        printf("\n");
    }

    printf("\n");
    for (int i = 0; i < r->nrows; i++) {
        const struct bench_row *row = &r->rows[i];
        if (!row->has_latency)
            continue;
        for (int e = 0; e < r->nengines; e++)
            if (row->cell[e].n)
                printf("%s commit latency, %s: p50 %.0f us, p99 %.0f us\n", row->name, r->engine_names[e],
                       bench_median(row->cell[e].p50_us, row->cell[e].n),
                       bench_median(row->cell[e].p99_us, row->cell[e].n));
    }
    if (r->lz4_plain_bytes)
        printf("compress: larch's file with the same records in a plain bucket: %s\n",
               megabytes(r->lz4_plain_bytes, a, sizeof a));
    for (int e = 0; e < r->nengines; e++)
        if (r->depth[e])
            printf("tree depth after fillrandom, %s: %d\n", r->engine_names[e], r->depth[e]);
    printf("\n");
    for (int i = 0; i < r->nrows; i++)
        printf("  %-16s %s\n", r->rows[i].name, r->rows[i].what);
}

void bench_print_csv(const struct bench_results *r)
{
    printf("workload,engine,ops_per_sec_median,ops_per_sec_min,ops_per_sec_max,file_bytes,p50_us,p99_us,rounds,n\n");
    for (int i = 0; i < r->nrows; i++) {
        const struct bench_row *row = &r->rows[i];
        for (int e = 0; e < r->nengines; e++) {
            const struct bench_cell *c = &row->cell[e];
            double lo = 0, hi = 0;
            if (!c->n)
                continue;
            for (int k = 0; k < c->n; k++) {
                lo = k == 0 || c->ops[k] < lo ? c->ops[k] : lo;
                hi = c->ops[k] > hi ? c->ops[k] : hi;
            }
            printf("%s,%s,%.0f,%.0f,%.0f,%llu,", row->name, r->engine_names[e], cell_ops(c), lo, hi,
                   (unsigned long long)cell_bytes(c));
            if (row->has_latency)
                printf("%.1f,%.1f", bench_median(c->p50_us, c->n), bench_median(c->p99_us, c->n));
            else
                printf(",");
            printf(",%d,%llu\n", c->n, (unsigned long long)r->n);
        }
    }
    if (r->lz4_plain_bytes)
        printf("compress-plain,larch,,,,%llu,,,%d,%llu\n", (unsigned long long)r->lz4_plain_bytes, r->rounds,
               (unsigned long long)r->n);
}

/* A horizontal bar per workload: larch's ops/s over LMDB's, 1.0 marked. */
int bench_write_svg(const struct bench_results *r, const char *path)
{
    int lx = engine_index(r, "larch"), lm = engine_index(r, "lmdb");
    const int left = 140, width = 460, bar_h = 18, gap = 6, top = 40;
    double ratios[64], max = 1.5;
    const char *names[64];
    int n = 0;
    FILE *f;

    if (lx < 0 || lm < 0)
        return 0;
    for (int i = 0; i < r->nrows && n < 64; i++) {
        double x = cell_ops(&r->rows[i].cell[lx]), y = cell_ops(&r->rows[i].cell[lm]);
        if (x > 0 && y > 0) {
            names[n] = r->rows[i].name;
            ratios[n] = x / y;
            max = ratios[n] > max ? ratios[n] : max;
            n++;
        }
    }
    if (!(f = fopen(path, "w")))
        return -1;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n", left + width + 60, top + n * (bar_h + gap) + 30);
    fprintf(f, "<text x=\"10\" y=\"20\" font-size=\"14\">larch ops/s / LMDB ops/s (N = %llu, median of %d)</text>\n",
            (unsigned long long)r->n, r->rounds);
    for (int i = 0; i < n; i++) {
        int y = top + i * (bar_h + gap), w = (int)(ratios[i] / max * width);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", left - 8, y + 13, names[i]);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n", left, y, w, bar_h,
                ratios[i] >= 1.0 ? "#3a7d44" : "#b5443a");
        fprintf(f, "<text x=\"%d\" y=\"%d\">%.2fx</text>\n", left + w + 4, y + 13, ratios[i]);
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\" stroke-dasharray=\"4 3\"/>\n",
            left + (int)(width / max), top - 6, left + (int)(width / max), top + n * (bar_h + gap));
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">1.0</text>\n", left + (int)(width / max),
            top + n * (bar_h + gap) + 16);
    fprintf(f, "</svg>\n");
    return fclose(f) ? -1 : 0;
}

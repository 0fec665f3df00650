/*
 * text.c - escaping of keys and values for dumps and for the terminal.
 */
#include "dbutil.h"

#include <stdlib.h>
#include <string.h>

static const char hexdigits[] = "0123456789abcdef";

void write_escaped(FILE *f, const void *data, size_t len, enum esc how)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (how == ESC_HEX) {
            putc(hexdigits[c >> 4], f);
            putc(hexdigits[c & 15], f);
        } else if (c == '\\') {
            fputs("\\\\", f);
        } else if (c >= 0x20 && c < 0x7f) { /* isprint() in the C locale */
            putc(c, f);
        } else {
            putc('\\', f);
            putc(hexdigits[c >> 4], f);
            putc(hexdigits[c & 15], f);
        }
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

uint8_t *parse_escaped(const char *line, size_t len, enum esc how, size_t *outlen, const char **why)
{
    uint8_t *out = malloc(len + 1);
    size_t n = 0;
    if (!out) {
        *why = "out of memory";
        return NULL;
    }
    if (how == ESC_HEX) {
        if (len % 2) {
            *why = "an odd number of hex digits";
            goto bad;
        }
        for (size_t i = 0; i < len; i += 2) {
            int hi = hexval(line[i]), lo = hexval(line[i + 1]);
            if (hi < 0 || lo < 0) {
                *why = "a character that is not a hex digit";
                goto bad;
            }
            out[n++] = (uint8_t)(hi << 4 | lo);
        }
    } else {
        for (size_t i = 0; i < len; i++) {
            if (line[i] != '\\') {
                out[n++] = (uint8_t)line[i];
                continue;
            }
            if (i + 1 < len && line[i + 1] == '\\') {
                out[n++] = '\\';
                i++;
                continue;
            }
            int hi = i + 2 < len ? hexval(line[i + 1]) : -1, lo = i + 2 < len ? hexval(line[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                /* Older mdb_dump -p (LMDB 0.9.24, Debian 12's) prints a
                 * backslash byte as it is, undoubled: where what follows
                 * cannot be an escape, the backslash is that byte. */
                out[n++] = '\\';
                continue;
            }
            out[n++] = (uint8_t)(hi << 4 | lo);
            i += 2;
        }
    }
    *outlen = n;
    return out;
bad:
    free(out);
    return NULL;
}

uint8_t *arg_bytes(const char *arg, bool hex, size_t *len)
{
    const char *why = NULL;
    uint8_t *b = parse_escaped(arg, strlen(arg), hex ? ESC_HEX : ESC_PRINT, len, &why);
    if (!b)
        failf("'%s': %s", arg, why);
    return b;
}

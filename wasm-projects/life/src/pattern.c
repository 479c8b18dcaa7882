#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

#define MAX_LINE 1024
#define MAX_SIDE 4096

typedef struct {
    const char *path;
    int line;
    /* Cells are collected first, then centred once the size is known. */
    int *xs;
    int *ys;
    size_t count;
    size_t cap;
    int width;
    int height;
} Loader;

static int fail(const Loader *l, const char *fmt, ...) {
    va_list ap;
    if (l->line > 0)
        fprintf(stderr, "life: %s: line %d: ", l->path, l->line);
    else
        fprintf(stderr, "life: %s: ", l->path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 0;
}

static int add_cell(Loader *l, long x, long y) {
    if (x >= MAX_SIDE || y >= MAX_SIDE)
        return fail(l, "the pattern is larger than %dx%d", MAX_SIDE, MAX_SIDE);
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        int *xs = realloc(l->xs, cap * sizeof(int));
        int *ys;
        if (!xs)
            return fail(l, "out of memory");
        l->xs = xs;
        ys = realloc(l->ys, cap * sizeof(int));
        if (!ys)
            return fail(l, "out of memory");
        l->ys = ys;
        l->cap = cap;
    }
    l->xs[l->count] = (int)x;
    l->ys[l->count] = (int)y;
    l->count++;
    if (x + 1 > l->width)
        l->width = (int)x + 1;
    if (y + 1 > l->height)
        l->height = (int)y + 1;
    return 1;
}

/* "B3/S23" (any case) into birth and survival masks. */
static int parse_rule(Loader *l, const char *s, Grid *g) {
    unsigned masks[2] = {0, 0};
    const char *start = s;
    for (int part = 0; part < 2; part++) {
        char want = part == 0 ? 'b' : 's';
        if ((*s | 0x20) != want)
            return fail(l, "unsupported rule '%s' (use the B3/S23 notation)", start);
        s++;
        while (*s >= '0' && *s <= '8')
            masks[part] |= 1u << (*s++ - '0');
        if (part == 0 && *s++ != '/')
            return fail(l, "unsupported rule '%s' (use the B3/S23 notation)", start);
    }
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    if (*s != '\0')
        return fail(l, "unsupported rule '%s' (use the B3/S23 notation)", start);
    g->birth = masks[0];
    g->survive = masks[1];
    return 1;
}

/* The RLE header: "x = m, y = n[, rule = ...]". Only the rule matters: the
 * size is measured from the cells themselves. */
static int parse_header(Loader *l, char *line, Grid *g) {
    char *rule = strstr(line, "rule");
    if (line[0] != 'x')
        return fail(l, "expected the RLE header 'x = <width>, y = <height>'");
    if (rule) {
        rule += 4;
        while (*rule == ' ' || *rule == '\t')
            rule++;
        if (*rule++ != '=')
            return fail(l, "expected 'rule = B3/S23' in the header");
        while (*rule == ' ' || *rule == '\t')
            rule++;
        return parse_rule(l, rule, g);
    }
    return 1;
}

static int load_rle(Loader *l, FILE *f, Grid *g) {
    char buf[MAX_LINE + 2];
    int have_header = 0, done = 0;
    long x = 0, y = 0;
    while (!done && fgets(buf, sizeof(buf), f)) {
        l->line++;
        if (buf[0] == '#')
            continue;
        if (!have_header) {
            if (buf[strspn(buf, " \t\r\n")] == '\0')
                continue;
            if (!parse_header(l, buf, g))
                return 0;
            have_header = 1;
            continue;
        }
        for (const char *s = buf; *s && !done; s++) {
            long run = 0;
            if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
                continue;
            while (*s >= '0' && *s <= '9') {
                run = run * 10 + (*s++ - '0');
                if (run > MAX_SIDE)
                    return fail(l, "run length is too large");
            }
            if (run == 0)
                run = 1;
            switch (*s) {
            case 'b':
                x += run;
                break;
            case 'o':
                for (long i = 0; i < run; i++)
                    if (!add_cell(l, x + i, y))
                        return 0;
                x += run;
                break;
            case '$':
                y += run;
                x = 0;
                break;
            case '!':
                done = 1;
                break;
            case '\0':
                return fail(l, "a run count must be followed by b, o or $");
            default:
                if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
                    return fail(l, "unexpected byte 0x%02x in the RLE data", (unsigned char)*s);
                return fail(l, "unexpected '%c' in the RLE data (expected b, o, $ or !)", *s);
            }
        }
    }
    if (!have_header)
        return fail(l, "the file has no RLE header 'x = ..., y = ...'");
    if (!done) {
        l->line = 0;
        return fail(l, "the RLE data does not end with '!'");
    }
    return 1;
}

static int load_cells(Loader *l, FILE *f) {
    char buf[MAX_LINE + 2];
    long y = 0;
    while (fgets(buf, sizeof(buf), f)) {
        l->line++;
        if (buf[0] == '!')
            continue;
        for (long x = 0; buf[x] && buf[x] != '\n' && buf[x] != '\r'; x++) {
            if (buf[x] == 'O' || buf[x] == 'o' || buf[x] == '*') {
                if (!add_cell(l, x, y))
                    return 0;
            } else if ((unsigned char)buf[x] < 0x20 || (unsigned char)buf[x] >= 0x7f) {
                return fail(l, "unexpected byte 0x%02x (is this a text file?)", (unsigned char)buf[x]);
            } else if (buf[x] != '.' && buf[x] != ' ') {
                return fail(l, "unexpected '%c' (use '.' for dead and 'O' for live cells)", buf[x]);
            }
        }
        y++;
    }
    return 1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int pattern_load(const char *path, Grid *g) {
    Loader l;
    FILE *f;
    int ok;

    memset(&l, 0, sizeof(l));
    l.path = path;
    if (!ends_with(path, ".rle") && !ends_with(path, ".cells"))
        return fail(&l, "unknown pattern format (use a .rle or .cells file)");
    f = fopen(path, "r");
    if (!f)
        return fail(&l, "%s", strerror(errno));
    ok = ends_with(path, ".rle") ? load_rle(&l, f, g) : load_cells(&l, f);
    fclose(f);
    l.line = 0;
    if (ok && (l.width > g->width || l.height > g->height))
        ok = fail(&l, "the pattern is %dx%d cells but the grid is only %dx%d (make the terminal bigger, or use -w/-h)",
                  l.width, l.height, g->width, g->height);
    if (ok) {
        int ox = (g->width - l.width) / 2, oy = (g->height - l.height) / 2;
        for (size_t i = 0; i < l.count; i++)
            g->cells[(size_t)(oy + l.ys[i]) * (size_t)g->width + (size_t)(ox + l.xs[i])] = 1;
    }
    free(l.xs);
    free(l.ys);
    return ok;
}

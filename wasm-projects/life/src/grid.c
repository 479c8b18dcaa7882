#include <stdlib.h>
#include <string.h>

#include "grid.h"

int grid_init(Grid *g, int width, int height) {
    size_t n = (size_t)width * (size_t)height;
    g->width = width;
    g->height = height;
    g->cells = calloc(n, 1);
    g->next = calloc(n, 1);
    g->birth = 1u << 3;                  /* B3 */
    g->survive = (1u << 2) | (1u << 3); /* S23 */
    return g->cells && g->next;
}

void grid_free(Grid *g) {
    free(g->cells);
    free(g->next);
    g->cells = g->next = NULL;
}

void grid_step(Grid *g) {
    int w = g->width, h = g->height;
    unsigned char *tmp;
    for (int y = 0; y < h; y++) {
        int up = (y + h - 1) % h, down = (y + 1) % h;
        for (int x = 0; x < w; x++) {
            int left = (x + w - 1) % w, right = (x + 1) % w;
            const unsigned char *c = g->cells;
            int n = c[up * w + left] + c[up * w + x] + c[up * w + right] + c[y * w + left] + c[y * w + right] +
                    c[down * w + left] + c[down * w + x] + c[down * w + right];
            unsigned rule = c[y * w + x] ? g->survive : g->birth;
            g->next[y * w + x] = (rule >> n) & 1u;
        }
    }
    tmp = g->cells;
    g->cells = g->next;
    g->next = tmp;
}

long grid_population(const Grid *g) {
    long n = 0;
    for (size_t i = 0; i < (size_t)g->width * (size_t)g->height; i++)
        n += g->cells[i];
    return n;
}

void grid_randomize(Grid *g, unsigned seed, int percent) {
    unsigned state = seed ? seed : 0x9e3779b9u; /* xorshift32 must not start at 0 */
    for (size_t i = 0; i < (size_t)g->width * (size_t)g->height; i++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        g->cells[i] = (state % 100u) < (unsigned)percent;
    }
}

size_t grid_text_size(const Grid *g) { return ((size_t)g->width * 3 + 1) * (size_t)((g->height + 1) / 2) + 1; }

size_t grid_text(const Grid *g, char *buf) {
    static const char *glyphs[4] = {" ", "\xe2\x96\x80", "\xe2\x96\x84", "\xe2\x96\x88"}; /* ' ' ▀ ▄ █ */
    char *end = buf;
    for (int y = 0; y < g->height; y += 2) {
        for (int x = 0; x < g->width; x++) {
            int top = g->cells[y * g->width + x];
            int bottom = y + 1 < g->height ? g->cells[(y + 1) * g->width + x] : 0;
            const char *glyph = glyphs[top | (bottom << 1)];
            size_t len = strlen(glyph);
            memcpy(end, glyph, len);
            end += len;
        }
        *end++ = '\n';
    }
    *end = '\0';
    return (size_t)(end - buf);
}

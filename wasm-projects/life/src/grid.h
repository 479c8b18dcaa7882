#ifndef LIFE_GRID_H
#define LIFE_GRID_H

#include <stddef.h>

/* A toroidal grid of cells (the edges wrap) running a Life-like rule. */
typedef struct {
    int width;
    int height;
    unsigned char *cells; /* 0 or 1, row-major */
    unsigned char *next;
    unsigned birth;   /* bit n set: a dead cell with n neighbours is born */
    unsigned survive; /* bit n set: a live cell with n neighbours survives */
} Grid;

int grid_init(Grid *g, int width, int height);
void grid_free(Grid *g);
void grid_step(Grid *g);
long grid_population(const Grid *g);
/* Fills about percent% of the cells from a deterministic xorshift32 stream. */
void grid_randomize(Grid *g, unsigned seed, int percent);
/* Draws two grid rows per text row with half blocks into buf, which needs
 * grid_text_size() bytes; every text row ends with "\n". Returns the length. */
size_t grid_text(const Grid *g, char *buf);
size_t grid_text_size(const Grid *g);

#endif

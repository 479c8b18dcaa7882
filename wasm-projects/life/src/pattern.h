#ifndef LIFE_PATTERN_H
#define LIFE_PATTERN_H

#include "grid.h"

/* Loads a pattern file into the centre of the grid. Two formats:
 *   - RLE (.rle), as used by LifeWiki and Golly: "x = 3, y = 3, rule = B3/S23"
 *     then runs of b (dead), o (alive), $ (end of row), ending with '!';
 *   - plain text (.cells): '.' dead, 'O' alive, lines starting with '!'
 *     are comments.
 * On failure prints "life: <path>: line N: <reason>" to stderr and returns 0. */
int pattern_load(const char *path, Grid *g);

#endif

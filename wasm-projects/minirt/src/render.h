#ifndef MINIRT_RENDER_H
#define MINIRT_RENDER_H

#include "scene.h"

/* An 8-bit RGB image, row-major, 3 bytes per pixel. */
typedef struct {
    int width;
    int height;
    unsigned char *rgb;
} Image;

/* Renders the scene into a width x height image with samples x samples
 * supersampling per pixel. Returns 0 when out of memory. */
int render(const Scene *scene, int width, int height, int samples, Image *out);

#endif

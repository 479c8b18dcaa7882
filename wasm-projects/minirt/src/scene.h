#ifndef MINIRT_SCENE_H
#define MINIRT_SCENE_H

#include <stddef.h>

#include "vec.h"

/* A scene as described by a .rt file. Colours are stored as 0..1 doubles. */

typedef enum { OBJ_SPHERE, OBJ_PLANE, OBJ_CYLINDER } ObjectKind;

typedef struct {
    ObjectKind kind;
    Vec pos;    /* sphere centre, a point of the plane, cylinder centre */
    Vec axis;   /* plane normal, cylinder axis (unit length) */
    double radius;
    double height;
    Vec color;
} Object;

typedef struct {
    Vec pos;
    double brightness;
    Vec color;
} Light;

typedef struct {
    Vec pos;
    Vec dir; /* unit length */
    double fov; /* horizontal, in degrees, 0 < fov < 180 */
} Camera;

typedef struct {
    double ambient_ratio;
    Vec ambient_color;
    Camera camera;
    Light *lights;
    size_t light_count;
    Object *objects;
    size_t object_count;
} Scene;

/* Reads a scene. On failure writes "Error\n<reason>\n" to stderr, releases
 * everything and returns 0; on success returns 1. */
int scene_load(const char *path, Scene *scene);
void scene_free(Scene *scene);

#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scene.h"

/* Parser for the 42 miniRT scene format:
 *
 *   A  ratio r,g,b                        ambient light (once)
 *   C  x,y,z nx,ny,nz fov                 camera (once)
 *   L  x,y,z brightness r,g,b             point light (any number)
 *   sp x,y,z diameter r,g,b               sphere
 *   pl x,y,z nx,ny,nz r,g,b               plane
 *   cy x,y,z nx,ny,nz diameter height r,g,b   cylinder (x,y,z is its centre)
 *
 * Blank lines and '#' comments (to the end of a line) are ignored. Every problem is
 * reported with its line number; nothing is ever silently clamped. */

#define MAX_LINE 1024
#define MAX_TOKENS 16
#define MAX_OBJECTS 4096
#define MAX_LIGHTS 64

typedef struct {
    const char *path;
    int line;
    char *tokens[MAX_TOKENS];
    int count;
} Parser;

static int fail(const Parser *p, const char *fmt, ...) {
    va_list ap;
    fputs("Error\n", stderr);
    if (p->line > 0)
        fprintf(stderr, "line %d: ", p->line);
    else
        fprintf(stderr, "%s: ", p->path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 0;
}

/* A strict decimal number: [+-]digits[.digits]. strtod alone would also take
 * "nan", "inf", hex floats and trailing garbage. */
static int is_number(const char *s) {
    int digits = 0;
    if (*s == '+' || *s == '-')
        s++;
    while (*s >= '0' && *s <= '9') {
        s++;
        digits++;
    }
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') {
            s++;
            digits++;
        }
    }
    return digits > 0 && *s == '\0' && digits < 40;
}

static int parse_double(const Parser *p, const char *tok, const char *what, double *out) {
    if (!is_number(tok))
        return fail(p, "%s must be a number, got '%s'", what, tok);
    *out = strtod(tok, NULL);
    return 1;
}

static int parse_range(const Parser *p, const char *tok, const char *what, double lo, double hi, double *out) {
    if (!parse_double(p, tok, what, out))
        return 0;
    if (*out < lo || *out > hi)
        return fail(p, "%s must be between %g and %g, got '%s'", what, lo, hi, tok);
    return 1;
}

static int parse_positive(const Parser *p, const char *tok, const char *what, double *out) {
    if (!parse_double(p, tok, what, out))
        return 0;
    if (!(*out > 0.0) || *out > 1e6)
        return fail(p, "%s must be greater than 0 (and at most 1e6), got '%s'", what, tok);
    return 1;
}

/* Splits "a,b,c" into exactly three fields. */
static int split3(const Parser *p, const char *tok, const char *what, char parts[3][64]) {
    const char *s = tok;
    for (int i = 0; i < 3; i++) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if ((i < 2 && !end) || (i == 2 && end))
            return fail(p, "%s must be three comma-separated values like 1,2,3, got '%s'", what, tok);
        if (len == 0 || len >= 64)
            return fail(p, "%s has an empty or overlong component in '%s'", what, tok);
        memcpy(parts[i], s, len);
        parts[i][len] = '\0';
        s = end ? end + 1 : s + len;
    }
    return 1;
}

static int parse_point(const Parser *p, const char *tok, const char *what, Vec *out) {
    char parts[3][64];
    double v[3];
    if (!split3(p, tok, what, parts))
        return 0;
    for (int i = 0; i < 3; i++) {
        if (!is_number(parts[i]))
            return fail(p, "%s must be three numbers x,y,z, got '%s'", what, tok);
        v[i] = strtod(parts[i], NULL);
        if (v[i] < -1e6 || v[i] > 1e6)
            return fail(p, "%s coordinates must be within +-1e6, got '%s'", what, tok);
    }
    *out = vec(v[0], v[1], v[2]);
    return 1;
}

/* Orientation vectors: each component in [-1,1] and not all zero. They are
 * normalised here, so "0,1,1" is accepted as the diagonal it obviously means. */
static int parse_direction(const Parser *p, const char *tok, const char *what, Vec *out) {
    char parts[3][64];
    double v[3];
    if (!split3(p, tok, what, parts))
        return 0;
    for (int i = 0; i < 3; i++) {
        if (!is_number(parts[i]))
            return fail(p, "%s must be three numbers x,y,z, got '%s'", what, tok);
        v[i] = strtod(parts[i], NULL);
        if (v[i] < -1.0 || v[i] > 1.0)
            return fail(p, "%s components must be between -1 and 1, got '%s'", what, tok);
    }
    *out = vec(v[0], v[1], v[2]);
    if (vlen(*out) < 1e-9)
        return fail(p, "%s must not be the zero vector", what);
    *out = vnorm(*out);
    return 1;
}

static int parse_color(const Parser *p, const char *tok, const char *what, Vec *out) {
    char parts[3][64];
    int v[3];
    if (!split3(p, tok, what, parts))
        return 0;
    for (int i = 0; i < 3; i++) {
        const char *s = parts[i];
        long n = 0;
        int digits = 0;
        if (*s == '+')
            s++;
        while (*s >= '0' && *s <= '9' && digits < 6) {
            n = n * 10 + (*s - '0');
            s++;
            digits++;
        }
        if (digits == 0 || *s != '\0' || n > 255)
            return fail(p, "%s must be three integers 0-255 like 255,128,0, got '%s'", what, tok);
        v[i] = (int)n;
    }
    *out = vec(v[0] / 255.0, v[1] / 255.0, v[2] / 255.0);
    return 1;
}

static int expect_args(const Parser *p, int n, const char *usage) {
    if (p->count != n)
        return fail(p, "'%s' takes %d values, got %d (expected: %s)", p->tokens[0], n - 1, p->count - 1, usage);
    return 1;
}

static int add_object(const Parser *p, Scene *s, Object *o) {
    if (s->object_count >= MAX_OBJECTS)
        return fail(p, "too many objects (the limit is %d)", MAX_OBJECTS);
    if (s->object_count % 64 == 0) {
        Object *grown = realloc(s->objects, (s->object_count + 64) * sizeof(Object));
        if (!grown)
            return fail(p, "out of memory");
        s->objects = grown;
    }
    s->objects[s->object_count++] = *o;
    return 1;
}

static int parse_line(Parser *p, Scene *s, int *seen_a, int *seen_c) {
    char **t = p->tokens;
    const char *id = t[0];
    Object o;
    memset(&o, 0, sizeof(o));

    if (strcmp(id, "A") == 0) {
        if (*seen_a)
            return fail(p, "ambient light 'A' can only be declared once");
        *seen_a = 1;
        return expect_args(p, 3, "A ratio r,g,b") && parse_range(p, t[1], "ambient ratio", 0.0, 1.0, &s->ambient_ratio) &&
               parse_color(p, t[2], "ambient colour", &s->ambient_color);
    }
    if (strcmp(id, "C") == 0) {
        if (*seen_c)
            return fail(p, "camera 'C' can only be declared once");
        *seen_c = 1;
        if (!expect_args(p, 4, "C x,y,z nx,ny,nz fov") || !parse_point(p, t[1], "camera position", &s->camera.pos) ||
            !parse_direction(p, t[2], "camera orientation", &s->camera.dir) ||
            !parse_double(p, t[3], "camera field of view", &s->camera.fov))
            return 0;
        if (!(s->camera.fov > 0.0 && s->camera.fov < 180.0))
            return fail(p, "camera field of view must be between 0 and 180 degrees (exclusive), got '%s'", t[3]);
        return 1;
    }
    if (strcmp(id, "L") == 0) {
        Light l;
        if (!expect_args(p, 4, "L x,y,z brightness r,g,b") || !parse_point(p, t[1], "light position", &l.pos) ||
            !parse_range(p, t[2], "light brightness", 0.0, 1.0, &l.brightness) ||
            !parse_color(p, t[3], "light colour", &l.color))
            return 0;
        if (s->light_count >= MAX_LIGHTS)
            return fail(p, "too many lights (the limit is %d)", MAX_LIGHTS);
        if (s->light_count % 8 == 0) {
            Light *grown = realloc(s->lights, (s->light_count + 8) * sizeof(Light));
            if (!grown)
                return fail(p, "out of memory");
            s->lights = grown;
        }
        s->lights[s->light_count++] = l;
        return 1;
    }
    if (strcmp(id, "sp") == 0) {
        double diameter;
        o.kind = OBJ_SPHERE;
        if (!expect_args(p, 4, "sp x,y,z diameter r,g,b") || !parse_point(p, t[1], "sphere centre", &o.pos) ||
            !parse_positive(p, t[2], "sphere diameter", &diameter) || !parse_color(p, t[3], "sphere colour", &o.color))
            return 0;
        o.radius = diameter / 2.0;
        return add_object(p, s, &o);
    }
    if (strcmp(id, "pl") == 0) {
        o.kind = OBJ_PLANE;
        if (!expect_args(p, 4, "pl x,y,z nx,ny,nz r,g,b") || !parse_point(p, t[1], "plane point", &o.pos) ||
            !parse_direction(p, t[2], "plane normal", &o.axis) || !parse_color(p, t[3], "plane colour", &o.color))
            return 0;
        return add_object(p, s, &o);
    }
    if (strcmp(id, "cy") == 0) {
        double diameter;
        o.kind = OBJ_CYLINDER;
        if (!expect_args(p, 6, "cy x,y,z nx,ny,nz diameter height r,g,b") ||
            !parse_point(p, t[1], "cylinder centre", &o.pos) ||
            !parse_direction(p, t[2], "cylinder axis", &o.axis) ||
            !parse_positive(p, t[3], "cylinder diameter", &diameter) ||
            !parse_positive(p, t[4], "cylinder height", &o.height) ||
            !parse_color(p, t[5], "cylinder colour", &o.color))
            return 0;
        o.radius = diameter / 2.0;
        return add_object(p, s, &o);
    }
    return fail(p, "unknown element '%s' (expected A, C, L, sp, pl or cy)", id);
}

static int has_control_char(const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') || c == 0x7f)
            return 1;
    }
    return 0;
}

static int has_rt_extension(const char *path) {
    size_t n = strlen(path);
    return n > 3 && strcmp(path + n - 3, ".rt") == 0;
}

int scene_load(const char *path, Scene *scene) {
    Parser p;
    char buf[MAX_LINE + 2];
    int seen_a = 0, seen_c = 0, ok = 1;
    FILE *f;

    memset(scene, 0, sizeof(*scene));
    memset(&p, 0, sizeof(p));
    p.path = path;
    if (!has_rt_extension(path))
        return fail(&p, "a scene file name must end in .rt");
    f = fopen(path, "r");
    if (!f)
        return fail(&p, "cannot open: %s", strerror(errno));
    while (ok && fgets(buf, sizeof(buf), f)) {
        size_t len = strlen(buf);
        char *cursor = buf;
        p.line++;
        if (len == sizeof(buf) - 1 && buf[len - 1] != '\n') {
            ok = fail(&p, "line is longer than %d characters", MAX_LINE);
            break;
        }
        if (has_control_char(buf)) {
            ok = fail(&p, "contains a control character (is this a text file?)");
            break;
        }
        p.count = 0;
        while (*cursor) {
            while (*cursor == ' ' || *cursor == '\t' || *cursor == '\r' || *cursor == '\n' || *cursor == '\v' || *cursor == '\f')
                *cursor++ = '\0';
            if (!*cursor)
                break;
            if (p.count == MAX_TOKENS) {
                ok = fail(&p, "too many values on one line");
                break;
            }
            if (*cursor == '#')
                break; /* a comment runs to the end of the line */
            p.tokens[p.count++] = cursor;
            while (*cursor && *cursor != ' ' && *cursor != '\t' && *cursor != '\r' && *cursor != '\n' && *cursor != '\v' && *cursor != '\f')
                cursor++;
        }
        if (!ok || p.count == 0)
            continue;
        ok = parse_line(&p, scene, &seen_a, &seen_c);
    }
    if (ok && ferror(f)) {
        p.line = 0;
        ok = fail(&p, "cannot read: %s", strerror(errno));
    }
    fclose(f);
    p.line = 0;
    if (ok && !seen_c)
        ok = fail(&p, "the scene has no camera (add a line like 'C 0,0,-10 0,0,1 70')");
    if (ok && !seen_a)
        ok = fail(&p, "the scene has no ambient light (add a line like 'A 0.2 255,255,255')");
    if (!ok) {
        scene_free(scene);
        return 0;
    }
    return 1;
}

void scene_free(Scene *scene) {
    free(scene->objects);
    free(scene->lights);
    scene->objects = NULL;
    scene->lights = NULL;
    scene->object_count = 0;
    scene->light_count = 0;
}

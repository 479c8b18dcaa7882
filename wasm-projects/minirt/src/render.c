#include <math.h>
#include <stdlib.h>

#include "render.h"

#define T_MIN 1e-6
#define SHADOW_BIAS 1e-4
#define SPECULAR 0.35
#define PI 3.14159265358979323846

typedef struct {
    Vec origin;
    Vec dir; /* unit length */
} Ray;

typedef struct {
    double t;
    Vec normal; /* unit length, not yet flipped towards the ray */
    const Object *object;
} Hit;

static Vec ray_at(Ray r, double t) { return vadd(r.origin, vscale(r.dir, t)); }

/* Nearest root of t^2 + b*t + c = 0 (the direction is unit length, so the
 * quadratic is monic) inside (T_MIN, best). Returns 0 when there is none. */
static int nearest_root(double half_b, double c, double best, double roots[2]) {
    double disc = half_b * half_b - c;
    double sq;
    if (disc < 0.0)
        return 0;
    sq = sqrt(disc);
    roots[0] = -half_b - sq;
    roots[1] = -half_b + sq;
    return roots[0] < best || roots[1] < best;
}

static int hit_sphere(const Object *o, Ray r, Hit *hit) {
    Vec oc = vsub(r.origin, o->pos);
    double roots[2];
    if (!nearest_root(vdot(oc, r.dir), vdot(oc, oc) - o->radius * o->radius, hit->t, roots))
        return 0;
    for (int i = 0; i < 2; i++) {
        if (roots[i] > T_MIN && roots[i] < hit->t) {
            hit->t = roots[i];
            hit->normal = vscale(vsub(ray_at(r, roots[i]), o->pos), 1.0 / o->radius);
            hit->object = o;
            return 1;
        }
    }
    return 0;
}

static int hit_plane(const Object *o, Ray r, Hit *hit) {
    double denom = vdot(o->axis, r.dir);
    double t;
    if (fabs(denom) < 1e-12)
        return 0;
    t = vdot(vsub(o->pos, r.origin), o->axis) / denom;
    if (t <= T_MIN || t >= hit->t)
        return 0;
    hit->t = t;
    hit->normal = o->axis;
    hit->object = o;
    return 1;
}

/* A finite cylinder around o->axis, centred on o->pos, closed by two discs. */
static int hit_cylinder(const Object *o, Ray r, Hit *hit) {
    Vec oc = vsub(r.origin, o->pos);
    double half_h = o->height / 2.0;
    double d_a = vdot(r.dir, o->axis);
    double oc_a = vdot(oc, o->axis);
    Vec d_perp = vsub(r.dir, vscale(o->axis, d_a));
    Vec oc_perp = vsub(oc, vscale(o->axis, oc_a));
    double a = vdot(d_perp, d_perp);
    int found = 0;

    /* Side: |oc_perp + t * d_perp|^2 = r^2, limited to |height| <= half_h. */
    if (a > 1e-12) {
        double half_b = vdot(d_perp, oc_perp) / a;
        double c = (vdot(oc_perp, oc_perp) - o->radius * o->radius) / a;
        double roots[2];
        if (nearest_root(half_b, c, hit->t, roots)) {
            for (int i = 0; i < 2; i++) {
                double m = oc_a + roots[i] * d_a;
                if (roots[i] > T_MIN && roots[i] < hit->t && fabs(m) <= half_h) {
                    Vec p = ray_at(r, roots[i]);
                    hit->t = roots[i];
                    hit->normal = vnorm(vsub(vsub(p, o->pos), vscale(o->axis, m)));
                    hit->object = o;
                    found = 1;
                    break;
                }
            }
        }
    }
    /* Caps: the planes at +-half_h along the axis, inside the radius. */
    if (fabs(d_a) > 1e-12) {
        for (int side = -1; side <= 1; side += 2) {
            double t = (side * half_h - oc_a) / d_a;
            if (t > T_MIN && t < hit->t) {
                Vec p = ray_at(r, t);
                Vec from_cap = vsub(p, vadd(o->pos, vscale(o->axis, side * half_h)));
                if (vdot(from_cap, from_cap) <= o->radius * o->radius) {
                    hit->t = t;
                    hit->normal = vscale(o->axis, (double)side);
                    hit->object = o;
                    found = 1;
                }
            }
        }
    }
    return found;
}

static int intersect(const Scene *s, Ray r, double max_t, Hit *hit) {
    int found = 0;
    hit->t = max_t;
    hit->object = NULL;
    for (size_t i = 0; i < s->object_count; i++) {
        const Object *o = &s->objects[i];
        switch (o->kind) {
        case OBJ_SPHERE:
            found |= hit_sphere(o, r, hit);
            break;
        case OBJ_PLANE:
            found |= hit_plane(o, r, hit);
            break;
        case OBJ_CYLINDER:
            found |= hit_cylinder(o, r, hit);
            break;
        }
    }
    return found;
}

/* x^32 by squaring: pow() is one of the libm functions whose last bit differs
 * between C libraries. */
static double pow32(double x) {
    for (int i = 0; i < 5; i++)
        x = x * x;
    return x;
}

static Vec background(Ray r) {
    double k = (r.dir.y + 1.0) * 0.5;
    return vadd(vscale(vec(0.02, 0.02, 0.04), 1.0 - k), vscale(vec(0.10, 0.13, 0.22), k));
}

static Vec shade(const Scene *s, Ray r) {
    Hit hit;
    Vec p, n, color, view;
    if (!intersect(s, r, 1e30, &hit))
        return background(r);
    p = ray_at(r, hit.t);
    n = hit.normal;
    if (vdot(n, r.dir) > 0.0)
        n = vscale(n, -1.0); /* seen from behind or from inside */
    view = vscale(r.dir, -1.0);
    color = vmul(hit.object->color, vscale(s->ambient_color, s->ambient_ratio));
    for (size_t i = 0; i < s->light_count; i++) {
        const Light *l = &s->lights[i];
        Vec to_light = vsub(l->pos, p);
        double dist = vlen(to_light);
        Vec dir;
        double n_l;
        Ray shadow;
        Hit blocker;
        if (dist < 1e-9)
            continue;
        dir = vscale(to_light, 1.0 / dist);
        n_l = vdot(n, dir);
        if (n_l <= 0.0)
            continue;
        shadow.origin = vadd(p, vscale(n, SHADOW_BIAS));
        shadow.dir = dir;
        if (intersect(s, shadow, dist - SHADOW_BIAS, &blocker))
            continue; /* hard shadow */
        color = vadd(color, vscale(vmul(hit.object->color, l->color), l->brightness * n_l));
        {
            Vec reflected = vsub(vscale(n, 2.0 * n_l), dir);
            double r_v = vdot(reflected, view);
            if (r_v > 0.0)
                color = vadd(color, vscale(l->color, l->brightness * SPECULAR * pow32(r_v)));
        }
    }
    return color;
}

/* Quantises with a defined rounding: clamp to [0,1], then round half up. */
static unsigned char to_byte(double c) {
    if (!(c > 0.0))
        return 0;
    if (c >= 1.0)
        return 255;
    return (unsigned char)(int)(c * 255.0 + 0.5);
}

int render(const Scene *s, int width, int height, int samples, Image *out) {
    const Camera *cam = &s->camera;
    Vec world_up = fabs(cam->dir.y) > 0.999 ? vec(0.0, 0.0, 1.0) : vec(0.0, 1.0, 0.0);
    /* Left-handed like most 42 miniRT scenes: looking down +z, +x is right. */
    Vec right = vnorm(vcross(world_up, cam->dir));
    Vec up = vcross(cam->dir, right);
    double half_w = rt_tan(cam->fov * PI / 360.0);
    double half_h = half_w * (double)height / (double)width;

    out->width = width;
    out->height = height;
    out->rgb = malloc((size_t)width * (size_t)height * 3);
    if (!out->rgb)
        return 0;
    for (int y = 0; y < height; y++) {
        for (int x = 0; x < width; x++) {
            Vec sum = vec(0.0, 0.0, 0.0);
            unsigned char *px = out->rgb + ((size_t)y * (size_t)width + (size_t)x) * 3;
            for (int sy = 0; sy < samples; sy++) {
                for (int sx = 0; sx < samples; sx++) {
                    double u = ((x + (sx + 0.5) / samples) / width * 2.0 - 1.0) * half_w;
                    double v = (1.0 - (y + (sy + 0.5) / samples) / height * 2.0) * half_h;
                    Ray r;
                    r.origin = cam->pos;
                    r.dir = vnorm(vadd(cam->dir, vadd(vscale(right, u), vscale(up, v))));
                    sum = vadd(sum, shade(s, r));
                }
            }
            sum = vscale(sum, 1.0 / (samples * samples));
            px[0] = to_byte(sum.x);
            px[1] = to_byte(sum.y);
            px[2] = to_byte(sum.z);
        }
    }
    return 1;
}

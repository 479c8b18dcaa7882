#include <math.h>

#include "vec.h"

Vec vec(double x, double y, double z) {
    Vec v = {x, y, z};
    return v;
}

Vec vadd(Vec a, Vec b) { return vec(a.x + b.x, a.y + b.y, a.z + b.z); }
Vec vsub(Vec a, Vec b) { return vec(a.x - b.x, a.y - b.y, a.z - b.z); }
Vec vscale(Vec a, double k) { return vec(a.x * k, a.y * k, a.z * k); }
Vec vmul(Vec a, Vec b) { return vec(a.x * b.x, a.y * b.y, a.z * b.z); }
double vdot(Vec a, Vec b) { return a.x * b.x + a.y * b.y + a.z * b.z; }

Vec vcross(Vec a, Vec b) {
    return vec(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}

/* sqrt is correctly rounded on every IEEE 754 target, unlike sin/cos/tan. */
double vlen(Vec a) { return sqrt(vdot(a, a)); }

Vec vnorm(Vec a) {
    double len = vlen(a);
    return len == 0.0 ? a : vscale(a, 1.0 / len);
}

/* Taylor series of sin and cos; the camera only needs |x| < pi/2, where 20
 * terms are far below double precision. */
double rt_tan(double x) {
    double s = x, c = 1.0, ts = x, tc = 1.0;
    for (int i = 1; i <= 20; i++) {
        ts = -ts * x * x / ((2.0 * i) * (2.0 * i + 1.0));
        tc = -tc * x * x / ((2.0 * i - 1.0) * (2.0 * i));
        s += ts;
        c += tc;
    }
    return s / c;
}

#ifndef MINIRT_VEC_H
#define MINIRT_VEC_H

/* Small 3-vector helpers. Everything is plain double arithmetic: with
 * -ffp-contract=off, x86_64 and wasm32 round every operation identically,
 * which is what keeps native and WASI renders byte-for-byte equal. */

typedef struct {
    double x, y, z;
} Vec;

Vec vec(double x, double y, double z);
Vec vadd(Vec a, Vec b);
Vec vsub(Vec a, Vec b);
Vec vscale(Vec a, double k);
Vec vmul(Vec a, Vec b);
double vdot(Vec a, Vec b);
Vec vcross(Vec a, Vec b);
double vlen(Vec a);
Vec vnorm(Vec a);

/* tan() from a fixed series instead of libm: libm's last bit differs between
 * glibc and wasi-libc (musl), basic operations and sqrt never do. */
double rt_tan(double x);

#endif

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"

/* A recursive-descent parser that evaluates as it goes:
 *
 *   line       := assignment | expr
 *   assignment := name '=' expr
 *   expr       := term (('+' | '-') term)*
 *   term       := unary (('*' | '/' | '%') unary)*
 *   unary      := ('-' | '+') unary | power
 *   power      := primary ('^' unary)?      right-associative: 2^3^2 = 512
 *   primary    := number | name | name '(' args ')' | '(' expr ')'
 *
 * Errors stop at the first problem and remember its column. */

#define PI 3.14159265358979323846
#define E 2.71828182845904523536
#define MAX_ARGS 4
#define MAX_DEPTH 64 /* keeps the stack small: the WASI default is 64 KiB */

typedef struct {
    const char *src;
    const char *p;
    Env *env;
    int failed;
    int depth;
    int column;
    char message[128];
} Parser;

typedef struct {
    const char *name;
    int arity; /* -1: one or more */
    const char *help;
} Function;

static const Function functions[] = {
    {"sin", 1, "sine (radians)"},
    {"cos", 1, "cosine (radians)"},
    {"tan", 1, "tangent (radians)"},
    {"asin", 1, "arc sine"},
    {"acos", 1, "arc cosine"},
    {"atan", 1, "arc tangent"},
    {"atan2", 2, "atan2(y, x)"},
    {"sqrt", 1, "square root"},
    {"cbrt", 1, "cube root"},
    {"exp", 1, "e to the power x"},
    {"ln", 1, "natural logarithm"},
    {"log", 1, "base-10 logarithm"},
    {"log2", 1, "base-2 logarithm"},
    {"pow", 2, "pow(x, y) = x^y"},
    {"abs", 1, "absolute value"},
    {"floor", 1, "round down"},
    {"ceil", 1, "round up"},
    {"round", 1, "round half away from zero"},
    {"min", -1, "smallest argument"},
    {"max", -1, "largest argument"},
    {"hypot", 2, "sqrt(x^2 + y^2)"},
    {"deg", 1, "radians to degrees"},
    {"rad", 1, "degrees to radians"},
};

#define FUNCTION_COUNT (sizeof(functions) / sizeof(functions[0]))

static double parse_expr(Parser *p);

static double fail_at(Parser *p, const char *at, const char *fmt, ...) {
    va_list ap;
    if (p->failed)
        return 0.0;
    p->failed = 1;
    p->column = (int)(at - p->src) + 1;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof(p->message), fmt, ap);
    va_end(ap);
    return 0.0;
}

static void skip_space(Parser *p) {
    while (*p->p == ' ' || *p->p == '\t')
        p->p++;
}

static int is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

/* Reads a name into buf; names longer than the limit are an error. */
static int read_name(Parser *p, char buf[CALC_NAME_LEN]) {
    const char *start = p->p;
    size_t len;
    while (is_name_char(*p->p))
        p->p++;
    len = (size_t)(p->p - start);
    if (len >= CALC_NAME_LEN) {
        fail_at(p, start, "name is too long (at most %d characters)", CALC_NAME_LEN - 1);
        return 0;
    }
    memcpy(buf, start, len);
    buf[len] = '\0';
    return 1;
}

static Var *find_var(Env *env, const char *name) {
    for (int i = 0; i < env->var_count; i++)
        if (strcmp(env->vars[i].name, name) == 0)
            return &env->vars[i];
    return NULL;
}

static const Function *find_function(const char *name) {
    for (size_t i = 0; i < FUNCTION_COUNT; i++)
        if (strcmp(functions[i].name, name) == 0)
            return &functions[i];
    return NULL;
}

static double number(Parser *p) {
    const char *start = p->p;
    char *end;
    double v;
    while ((*p->p >= '0' && *p->p <= '9') || *p->p == '.')
        p->p++;
    if (*p->p == 'e' || *p->p == 'E') {
        const char *q = p->p + 1;
        if (*q == '+' || *q == '-')
            q++;
        if (*q >= '0' && *q <= '9') {
            while (*q >= '0' && *q <= '9')
                q++;
            p->p = q;
        }
    }
    v = strtod(start, &end);
    if (end != p->p)
        return fail_at(p, start, "malformed number '%.*s'", (int)(p->p - start), start);
    return v;
}

/* Applies a function; `at` points at its name for error columns. */
static double call(Parser *p, const Function *f, const char *at, const double *a, int n) {
    const char *name = f->name;
    if (f->arity >= 0 && n != f->arity)
        return fail_at(p, at, "%s takes %d argument%s, got %d", name, f->arity, f->arity == 1 ? "" : "s", n);
    if (f->arity < 0 && n == 0)
        return fail_at(p, at, "%s needs at least one argument", name);
    if (strcmp(name, "sin") == 0) return sin(a[0]);
    if (strcmp(name, "cos") == 0) return cos(a[0]);
    if (strcmp(name, "tan") == 0) return tan(a[0]);
    if (strcmp(name, "asin") == 0 || strcmp(name, "acos") == 0) {
        if (a[0] < -1.0 || a[0] > 1.0)
            return fail_at(p, at, "%s is only defined between -1 and 1", name);
        return name[1] == 's' ? asin(a[0]) : acos(a[0]);
    }
    if (strcmp(name, "atan") == 0) return atan(a[0]);
    if (strcmp(name, "atan2") == 0) return atan2(a[0], a[1]);
    if (strcmp(name, "sqrt") == 0) {
        if (a[0] < 0.0)
            return fail_at(p, at, "square root of a negative number");
        return sqrt(a[0]);
    }
    if (strcmp(name, "cbrt") == 0) return cbrt(a[0]);
    if (strcmp(name, "exp") == 0) return exp(a[0]);
    if (strcmp(name, "ln") == 0 || strcmp(name, "log") == 0 || strcmp(name, "log2") == 0) {
        if (a[0] <= 0.0)
            return fail_at(p, at, "logarithm of a number that is not positive");
        return name[1] == 'n' ? log(a[0]) : name[3] == '2' ? log2(a[0]) : log10(a[0]);
    }
    if (strcmp(name, "pow") == 0) return pow(a[0], a[1]);
    if (strcmp(name, "abs") == 0) return fabs(a[0]);
    if (strcmp(name, "floor") == 0) return floor(a[0]);
    if (strcmp(name, "ceil") == 0) return ceil(a[0]);
    if (strcmp(name, "round") == 0) return round(a[0]);
    if (strcmp(name, "hypot") == 0) return hypot(a[0], a[1]);
    if (strcmp(name, "deg") == 0) return a[0] * 180.0 / PI;
    if (strcmp(name, "rad") == 0) return a[0] * PI / 180.0;
    {
        double best = a[0];
        for (int i = 1; i < n; i++)
            if (name[1] == 'i' ? a[i] < best : a[i] > best)
                best = a[i];
        return best;
    }
}

/* Reports the character at p->p, spelling out bytes that do not print. */
static double unexpected(Parser *p, const char *context) {
    unsigned char c = (unsigned char)*p->p;
    if (c < 0x20 || c >= 0x7f)
        return fail_at(p, p->p, "unexpected byte 0x%02x%s", c, context);
    return fail_at(p, p->p, "unexpected '%c'%s", c, context);
}

static double primary(Parser *p) {
    const char *start;
    skip_space(p);
    start = p->p;
    if ((*p->p >= '0' && *p->p <= '9') || *p->p == '.')
        return number(p);
    if (*p->p == '(') {
        double v;
        p->p++;
        v = parse_expr(p);
        skip_space(p);
        if (p->failed)
            return 0.0;
        if (*p->p != ')')
            return fail_at(p, p->p, "expected ')' to close the '(' at column %d", (int)(start - p->src) + 1);
        p->p++;
        return v;
    }
    if (is_name_start(*p->p)) {
        char name[CALC_NAME_LEN];
        Var *var;
        if (!read_name(p, name))
            return 0.0;
        skip_space(p);
        if (*p->p == '(') {
            const Function *f = find_function(name);
            double args[MAX_ARGS];
            int n = 0;
            if (!f)
                return fail_at(p, start, "unknown function '%s' (type 'help' for the list)", name);
            p->p++;
            skip_space(p);
            if (*p->p != ')') {
                for (;;) {
                    double v = parse_expr(p);
                    if (p->failed)
                        return 0.0;
                    if (n == MAX_ARGS)
                        return fail_at(p, start, "%s called with too many arguments", name);
                    args[n++] = v;
                    skip_space(p);
                    if (*p->p == ',') {
                        p->p++;
                        continue;
                    }
                    if (*p->p != ')')
                        return fail_at(p, p->p, "expected ',' or ')' in the arguments of %s", name);
                    break;
                }
            }
            p->p++;
            return call(p, f, start, args, n);
        }
        if (find_function(name) && !find_var(p->env, name))
            return fail_at(p, start, "%s is a function: write %s(x)", name, name);
        var = find_var(p->env, name);
        if (!var)
            return fail_at(p, start, "unknown variable '%s'", name);
        return var->value;
    }
    if (*p->p == '\0')
        return fail_at(p, p->p, "expected a number, a name or '(' but the line ended");
    return unexpected(p, " where a number, a name or '(' should be");
}

static double unary(Parser *p);

static double power(Parser *p) {
    double base = primary(p);
    skip_space(p);
    if (!p->failed && *p->p == '^') {
        p->p++;
        return pow(base, unary(p));
    }
    return base;
}

static double unary(Parser *p) {
    skip_space(p);
    if (++p->depth > MAX_DEPTH)
        return fail_at(p, p->p, "expression is nested too deeply");
    if (*p->p == '-' || *p->p == '+') {
        char op = *p->p++;
        double v = unary(p);
        p->depth--;
        return op == '-' ? -v : v;
    }
    {
        double v = power(p);
        p->depth--;
        return v;
    }
}

static double term(Parser *p) {
    double v = unary(p);
    for (;;) {
        const char *at;
        char op;
        double rhs;
        skip_space(p);
        at = p->p;
        op = *p->p;
        if (p->failed || (op != '*' && op != '/' && op != '%'))
            return v;
        p->p++;
        rhs = unary(p);
        if (op == '*') {
            v *= rhs;
        } else if (rhs == 0.0 && !p->failed) {
            return fail_at(p, at, op == '/' ? "division by zero" : "modulo by zero");
        } else {
            v = op == '/' ? v / rhs : fmod(v, rhs);
        }
    }
}

static double parse_expr(Parser *p) {
    double v = term(p);
    for (;;) {
        char op;
        skip_space(p);
        op = *p->p;
        if (p->failed || (op != '+' && op != '-'))
            return v;
        p->p++;
        if (op == '+')
            v += term(p);
        else
            v -= term(p);
    }
}

static int set_var(Env *env, const char *name, double value) {
    Var *var = find_var(env, name);
    if (!var) {
        if (env->var_count == CALC_MAX_VARS)
            return 0;
        var = &env->vars[env->var_count++];
        snprintf(var->name, sizeof(var->name), "%s", name);
    }
    var->value = value;
    return 1;
}

void env_init(Env *env) {
    env->var_count = 0;
    set_var(env, "pi", PI);
    set_var(env, "e", E);
    set_var(env, "ans", 0.0);
}

Result eval_line(Env *env, const char *line) {
    Parser p;
    Result r;
    const char *assign_at = NULL;
    char target[CALC_NAME_LEN] = "";
    double v;

    memset(&p, 0, sizeof(p));
    memset(&r, 0, sizeof(r));
    p.src = p.p = line;
    p.env = env;

    /* "name = ..." (but not "name == ..." or a call) is an assignment. */
    skip_space(&p);
    if (is_name_start(*p.p)) {
        const char *save = p.p;
        if (read_name(&p, target)) {
            skip_space(&p);
            if (*p.p == '=') {
                assign_at = save;
                p.p++;
            }
        }
        if (!assign_at) {
            p.p = save;
            p.failed = 0;
            target[0] = '\0';
        }
    }
    if (assign_at && (strcmp(target, "pi") == 0 || strcmp(target, "e") == 0 || strcmp(target, "ans") == 0))
        fail_at(&p, assign_at, "'%s' is a constant and cannot be assigned", target);
    else if (assign_at && find_function(target))
        fail_at(&p, assign_at, "'%s' is a function name and cannot be a variable", target);
    v = p.failed ? 0.0 : parse_expr(&p);
    skip_space(&p);
    if (!p.failed && *p.p != '\0')
        *p.p == ')' ? fail_at(&p, p.p, "unmatched ')'") : unexpected(&p, " after the expression");
    if (!p.failed && (isnan(v) || isinf(v)))
        fail_at(&p, line, isnan(v) ? "the result is not a number" : "the result is too large");
    if (!p.failed && assign_at && !set_var(env, target, v))
        fail_at(&p, assign_at, "too many variables (at most %d)", CALC_MAX_VARS);
    if (p.failed) {
        r.ok = 0;
        r.column = p.column;
        snprintf(r.message, sizeof(r.message), "%s", p.message);
        return r;
    }
    set_var(env, "ans", v);
    r.ok = 1;
    r.value = v == 0.0 ? 0.0 : v; /* never print -0 */
    if (assign_at)
        snprintf(r.assigned, sizeof(r.assigned), "%s", target);
    return r;
}

void print_functions(void) {
    for (size_t i = 0; i < FUNCTION_COUNT; i++) {
        const Function *f = &functions[i];
        printf("  %-6s %s\n", f->name, f->help);
    }
}

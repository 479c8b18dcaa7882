#ifndef CALC_EVAL_H
#define CALC_EVAL_H

/* Expression evaluation with variables and functions. */

#define CALC_MAX_VARS 64
#define CALC_NAME_LEN 32

typedef struct {
    char name[CALC_NAME_LEN];
    double value;
} Var;

typedef struct {
    Var vars[CALC_MAX_VARS];
    int var_count;
} Env;

typedef struct {
    int ok;
    double value;
    int column;        /* 1-based column of the error */
    char message[128]; /* the error, when !ok */
    char assigned[CALC_NAME_LEN]; /* variable set by "name = expr", or "" */
} Result;

void env_init(Env *env);
/* Evaluates one line: an expression or an assignment "name = expression". On
 * success the value is also stored in the variable "ans". */
Result eval_line(Env *env, const char *line);
/* Prints the function list for "help". */
void print_functions(void);

#endif

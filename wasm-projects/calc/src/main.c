#include <stdio.h>
#include <string.h>

#include "eval.h"

/* calc: a line-by-line calculator REPL. Reads stdin with fgets, so it works
 * the same on a terminal, a pipe, or the WASI shell; exits on 'quit' or EOF. */

#define MAX_LINE 1024

static void help(void) {
    puts("Type an expression and press Enter:");
    puts("  1 + 2 * 3        operators: + - * / % ^ and parentheses");
    puts("  r = 2.5          assign a variable, then use it: pi * r^2");
    puts("  ans              the previous result; pi and e are constants");
    puts("Commands: help, vars, quit (or exit, or Ctrl-D)");
    puts("Functions:");
    print_functions();
}

static void print_vars(const Env *env) {
    for (int i = 0; i < env->var_count; i++)
        printf("  %s = %.15g\n", env->vars[i].name, env->vars[i].value);
}

/* Drops the line ending and surrounding blanks in place. */
static char *trim(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

int main(void) {
    char buf[MAX_LINE + 2];
    Env env;

    env_init(&env);
    puts("calc - type an expression, 'help' for help, 'quit' to leave.");
    for (;;) {
        char *line;
        size_t len;
        Result r;

        fputs("> ", stdout);
        fflush(stdout);
        if (!fgets(buf, sizeof(buf), stdin)) {
            putchar('\n'); /* leave the shell prompt on a fresh line */
            break;
        }
        len = strlen(buf);
        if (len == sizeof(buf) - 1 && buf[len - 1] != '\n') {
            int c;
            while ((c = getchar()) != EOF && c != '\n')
                ;
            printf("error: the line is longer than %d characters\n", MAX_LINE);
            continue;
        }
        line = trim(buf);
        if (*line == '\0' || *line == '#')
            continue;
        if (strcmp(line, "quit") == 0 || strcmp(line, "exit") == 0)
            break;
        if (strcmp(line, "help") == 0) {
            help();
            continue;
        }
        if (strcmp(line, "vars") == 0) {
            print_vars(&env);
            continue;
        }
        r = eval_line(&env, line);
        if (!r.ok) {
            printf("error at column %d: %s\n  %s\n  %*s^\n", r.column, r.message, line, r.column - 1, "");
        } else if (r.assigned[0]) {
            printf("%s = %.15g\n", r.assigned, r.value);
        } else {
            printf("%.15g\n", r.value);
        }
    }
    fflush(stdout);
    return 0;
}

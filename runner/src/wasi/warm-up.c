/*
 * Compiled by the WASI toolchain at start, in the background, by every clang process it keeps
 * loaded (toolchain.ts `warm`, docs/performance.md "The first make after a start"). A visitor's
 * first compile then finds LLVM's hot paths already compiled by the engine instead of paying for
 * that itself. It is shaped like the C the bundled projects hold: the usual libc headers, structs,
 * floating-point maths, loops, a switch, string handling and recursion, at -O2.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct s_vec {
	double x;
	double y;
	double z;
} t_vec;

typedef struct s_item {
	char name[32];
	int kind;
	t_vec pos;
	struct s_item *next;
} t_item;

static t_vec vec_add(t_vec a, t_vec b) { return (t_vec){a.x + b.x, a.y + b.y, a.z + b.z}; }
static t_vec vec_scale(t_vec a, double k) { return (t_vec){a.x * k, a.y * k, a.z * k}; }
static double vec_dot(t_vec a, t_vec b) { return a.x * b.x + a.y * b.y + a.z * b.z; }

static t_vec vec_norm(t_vec a) {
	double len = sqrt(vec_dot(a, a));
	return len > 1e-9 ? vec_scale(a, 1.0 / len) : a;
}

static int parse_kind(const char *word) {
	if (strcmp(word, "sphere") == 0) return 1;
	if (strncmp(word, "plane", 5) == 0) return 2;
	if (strchr(word, '#') != NULL) return 0;
	return -1;
}

static t_item *push(t_item *list, const char *name, int kind, t_vec pos) {
	t_item *it = calloc(1, sizeof(*it));
	if (!it) return list;
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->kind = kind;
	it->pos = pos;
	it->next = list;
	return it;
}

static long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static double shade(const t_item *list, t_vec ray) {
	double total = 0.0;
	for (const t_item *it = list; it; it = it->next) {
		switch (it->kind) {
		case 1: total += fmax(0.0, vec_dot(vec_norm(it->pos), ray)); break;
		case 2: total += fabs(sin(it->pos.y) * cos(it->pos.x)); break;
		default: total += 0.5; break;
		}
	}
	return pow(total, 1.0 / 2.2);
}

int main(int argc, char **argv) {
	t_item *list = NULL;
	for (int i = 1; i < argc; i++) {
		char word[64];
		double x = 0, y = 0, z = 0;
		if (sscanf(argv[i], "%63s %lf %lf %lf", word, &x, &y, &z) >= 1)
			list = push(list, word, parse_kind(word), (t_vec){x, y, z});
	}
	t_vec ray = vec_norm((t_vec){1, 2, 3});
	for (int y = 0; y < 24; y++) {
		for (int x = 0; x < 80; x++) {
			t_vec dir = vec_add(ray, (t_vec){x / 80.0, y / 24.0, 1});
			putchar(" .:-=+*#%@"[(int)(shade(list, vec_norm(dir)) * 9) % 10]);
		}
		putchar('\n');
	}
	printf("%ld\n", fib(argc + 10));
	while (list) {
		t_item *next = list->next;
		free(list);
		list = next;
	}
	return 0;
}

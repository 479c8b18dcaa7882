/* echoline: reads lines from stdin and prints them back until EOF, then prints its cwd and args. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  char line[256];
  char cwd[256];
  printf("cols=%s lines=%s argc=%d argv1=%s\n", getenv("COLUMNS"), getenv("LINES"), argc, argc > 1 ? argv[1] : "-");
  printf("> ");
  fflush(stdout);
  while (fgets(line, sizeof line, stdin)) {
    printf("got: %s> ", line);
    fflush(stdout);
  }
  printf("eof cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
  FILE *f = fopen("made-by-echoline.txt", "w");
  if (f) {
    fputs("hello from wasm\n", f);
    fclose(f);
  }
  return 0;
}

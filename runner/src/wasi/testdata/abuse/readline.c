/* readline: reads stdin to EOF and prints how many bytes and lines it got. */
#include <stdio.h>

int main(void) {
  printf("reading\n");
  fflush(stdout);
  long bytes = 0, lines = 0;
  int c;
  while ((c = getchar()) != EOF) {
    bytes++;
    if (c == '\n') {
      lines++;
      printf("line %ld\n", lines);
      fflush(stdout);
    }
  }
  printf("got bytes=%ld lines=%ld\n", bytes, lines);
  return 0;
}

/* spin: prints one line, then burns CPU forever. */
#include <stdio.h>

int main(void) {
  printf("spinning\n");
  fflush(stdout);
  volatile unsigned long n = 0;
  for (;;) n++;
}

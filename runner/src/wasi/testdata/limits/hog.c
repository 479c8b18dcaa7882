/* hog: allocates 1 MB blocks (touching every page) until malloc fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  size_t mb = 0;
  for (;;) {
    char *p = malloc(1 << 20);
    if (!p) {
      printf("hog: malloc failed after %zu MB\n", mb);
      return 3;
    }
    memset(p, 1, 1 << 20);
    mb++;
  }
}

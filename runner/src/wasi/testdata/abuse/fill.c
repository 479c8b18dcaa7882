/* fill PATH MIB: writes MIB mebibytes to PATH (a workspace file or /tmp). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  static char block[1 << 20];
  memset(block, 'x', sizeof block);
  FILE *f = fopen(argv[1], "w");
  if (!f) {
    printf("fill: cannot open %s\n", argv[1]);
    return 1;
  }
  int n = atoi(argv[2]);
  for (int i = 0; i < n; i++) {
    if (fwrite(block, 1, sizeof block, f) != sizeof block) {
      printf("fill: write failed after %d MiB\n", i);
      return 1;
    }
  }
  fclose(f);
  printf("fill: wrote %d MiB to %s\n", n, argv[1]);
  return 0;
}

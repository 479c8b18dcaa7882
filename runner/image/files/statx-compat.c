/*
 * Loaded into every dynamically linked program of the sandbox through /etc/ld.so.preload.
 *
 * gVisor's runsc as Debian 12 packages it (release 2022-12-19) refuses the AT_NO_AUTOMOUNT flag of
 * statx() and fstatat() with EINVAL, and coreutils 9.1 passes it on every `ls -l`, `ls --color`
 * (the shell's `ls`) and `stat`: under runsc they printed "cannot access ...: Invalid argument" for
 * every file. The flag only changes anything on an autofs mount point, and a sandbox has none, so
 * when the kernel refuses it the call is made again without it. Under runc (and a gVisor that
 * accepts the flag) the first call succeeds and nothing changes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
  long r = syscall(SYS_statx, dirfd, path, flags, mask, buf);
  if (r < 0 && errno == EINVAL && (flags & AT_NO_AUTOMOUNT))
    r = syscall(SYS_statx, dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
  return (int)r;
}

static int retry_fstatat(int dirfd, const char *path, void *buf, int flags) {
  long r = syscall(SYS_newfstatat, dirfd, path, buf, flags);
  if (r < 0 && errno == EINVAL && (flags & AT_NO_AUTOMOUNT))
    r = syscall(SYS_newfstatat, dirfd, path, buf, flags & ~AT_NO_AUTOMOUNT);
  return (int)r;
}

/* On 64-bit Linux, struct stat and struct stat64 are the same layout (the newfstatat call's). */
int fstatat(int dirfd, const char *restrict path, struct stat *restrict buf, int flags) {
  return retry_fstatat(dirfd, path, buf, flags);
}

int fstatat64(int dirfd, const char *restrict path, struct stat64 *restrict buf, int flags) {
  return retry_fstatat(dirfd, path, buf, flags);
}

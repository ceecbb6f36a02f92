/*
 * What a program sees of its own calls, printed so that a run under
 * numa-trace can be compared with a run without it (tests/cli/run.sh):
 * errno after failing and succeeding calls on GGUF splits, file offsets
 * after read/fread/pread, its signal dispositions, stdio buffering.
 * usage: probe SPLIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: probe SPLIT\n");
    return 2;
  }
  const char* split = argv[1];
  char missing[4096];
  snprintf(missing, sizeof missing, "%s.missing-00001-of-00002.gguf", split);
  int fd = open(missing, O_RDONLY);
  printf("open missing: %d errno %s\n", fd, strerrorname_np(errno));

  fd = open(split, O_RDONLY);
  char buf[16];
  printf("offset after open: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
  ssize_t n = read(fd, buf, 4);
  printf("read: %zd, offset %lld\n", n, (long long)lseek(fd, 0, SEEK_CUR));
  n = pread(fd, buf, 8, 100);
  printf("pread: %zd, offset %lld\n", n, (long long)lseek(fd, 0, SEEK_CUR));
  struct stat st;
  fstat(fd, &st);
  errno = 4242;
  void* p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  printf("mmap: %s, errno %d\n", p == MAP_FAILED ? "failed" : "ok", errno);
  errno = 4343;
  int rc = munmap(p, (size_t)st.st_size);
  printf("munmap: %d, errno %d\n", rc, errno);
  errno = 0;
  p = mmap(NULL, 0, PROT_READ, MAP_SHARED, fd, 0);
  printf("mmap of a bad length: %s, errno %s\n", p == MAP_FAILED ? "failed" : "ok", strerrorname_np(errno));
  errno = 4444;
  rc = close(fd);
  printf("close: %d, errno %d\n", rc, errno);

  FILE* f = fopen(split, "rb");
  printf("fopen: offset %ld\n", ftell(f));
  size_t got = fread(buf, 1, 4, f);
  printf("fread: %zu, offset %ld\n", got, ftell(f));
  fclose(f);

  for (int sig = 1; sig < 32; ++sig) {
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0) continue;
    if (sa.sa_handler != SIG_DFL) printf("signal %d: %s\n", sig, sa.sa_handler == SIG_IGN ? "ignored" : "handled");
  }
  sigset_t mask;
  sigprocmask(SIG_SETMASK, NULL, &mask);
  printf("blocked SIGINT %d SIGTERM %d\n", sigismember(&mask, SIGINT), sigismember(&mask, SIGTERM));
  return 0;
}

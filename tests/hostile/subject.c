/*
 * A program that maps a split model the way llama.cpp does (open, read the
 * header, mmap each split whole, MAP_SHARED), unmodified and unaware of
 * numa-trace, then ends in one of the ways the coexistence tests need:
 *
 *   subject map FIRST_SPLIT N HOW   HOW: return (exit 0), _exit (_exit(5)),
 *                                   exec (exec itself with "return"),
 *                                   overflow (a heap overflow: ASan's report)
 *   subject fork FIRST_SPLIT N      splits 1..N-1 mapped by a forked child
 *                                   in the middle of the parent's load
 *   subject segv before|after [FIRST_SPLIT N]
 *                                   a SIGSEGV handler of its own, installed
 *                                   before libnumatrace's (preinit) or after,
 *                                   repairs the fault and the program goes on
 *                                   (after mapping the model, when named)
 *
 * It prints what it did on stdout, so a run with and without numa-trace can
 * be compared byte for byte.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_self[4096];

static void split_name(char* out, size_t n, const char* first, int i, int count) {
  /* FIRST_SPLIT ends in -00001-of-0000N.gguf */
  size_t len = strlen(first);
  snprintf(out, n, "%.*s-%05d-of-%05d.gguf", (int)(len - 20), first, i + 1, count);
}

static int map_split(const char* first, int i, int count) {
  char path[4096];
  split_name(path, sizeof path, first, i, count);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    perror(path);
    return -1;
  }
  char header[512];
  struct stat st;
  if (read(fd, header, sizeof header) != (ssize_t)sizeof header || fstat(fd, &st) != 0) return -1;
  void* p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return -1;
  unsigned sum = 0;
  for (off_t k = 0; k < st.st_size; k += 4096) sum += ((const unsigned char*)p)[k];
  printf("split %d: %lld bytes, sum %u\n", i, (long long)st.st_size, sum);
  return 0;
}

static volatile unsigned char* volatile g_page; /* stored before the fault, read by the handler */
static void repair(int sig) {
  (void)sig;
  mprotect((void*)g_page, 4096, PROT_READ | PROT_WRITE);
}
static void install_repair(void) {
  struct sigaction act;
  memset(&act, 0, sizeof act);
  act.sa_handler = repair;
  sigaction(SIGSEGV, &act, NULL);
}
/* Runs before any shared library's constructor (libnumatrace's included). */
static int g_before;
static void preinit(int argc, char** argv, char** envp) {
  (void)envp;
  if (argc > 2 && strcmp(argv[1], "segv") == 0 && strcmp(argv[2], "before") == 0) {
    g_before = 1;
    install_repair();
  }
}
__attribute__((section(".preinit_array"), used)) static void (*g_preinit)(int, char**, char**) = preinit;

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (readlink("/proc/self/exe", g_self, sizeof g_self - 1) < 0) return 2;
  if ((argc == 3 || argc == 5) && strcmp(argv[1], "segv") == 0) {
    if (!g_before) install_repair();
    for (int i = 0; argc == 5 && i < atoi(argv[4]); ++i) /* events first, so that there is a trace */
      if (map_split(argv[3], i, atoi(argv[4])) != 0) return 1;
    g_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_page[7] = 42; /* faults once; the handler repairs it */
    printf("recovered: %d\n", g_page[7]);
    return 0;
  }
  if (argc < 4) {
    fprintf(stderr, "usage: subject map FIRST N HOW | fork FIRST N | segv before|after [FIRST N]\n");
    return 2;
  }
  const char* first = argv[2];
  int n = atoi(argv[3]);
  if (strcmp(argv[1], "fork") == 0) {
    if (map_split(first, 0, n) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
      for (int i = 1; i < n; ++i)
        if (map_split(first, i, n) != 0) _exit(1);
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("child: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    for (int i = 1; i < n; ++i)
      if (map_split(first, i, n) != 0) return 1;
    return 0;
  }
  if (argc < 5 || strcmp(argv[1], "map") != 0) return 2;
  for (int i = 0; i < n; ++i)
    if (map_split(first, i, n) != 0) return 1;
  if (strcmp(argv[4], "_exit") == 0) _exit(5);
  if (strcmp(argv[4], "exec") == 0) {
    execl(g_self, g_self, "map", first, argv[3], "return", (char*)NULL);
    perror("exec");
    return 1;
  }
  if (strcmp(argv[4], "overflow") == 0) {
    char* heap = malloc(16);
    volatile size_t one = 1; /* not folded: gcc would see the overflow and warn */
    size_t past = 16 + one;  /* one byte past: ASan's heap-buffer-overflow */
    for (size_t k = 0; k < past; ++k) heap[k] = 1;
    printf("heap %d\n", heap[3]);
    free(heap);
  }
  return 0;
}

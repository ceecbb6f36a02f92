// The end of an image without destructors: _exit/_Exit and the exec family.
// Interposed so that what the flight recorder holds reaches the sinks (and
// a fault the program's handler did not survive is recorded as the crash)
// before the image is gone; then the real call, unchanged. In-process
// rules of recorder.cpp apply; _exit may be called from a signal handler,
// so everything on its path is async-signal-safe.
#include <dlfcn.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "internal.h"

namespace numatrace::rec {

void before_image_ends();

namespace {

using execve_t = int (*)(const char*, char* const[], char* const[]);
using execvp_t = int (*)(const char*, char* const[]);
using execvpe_t = int (*)(const char*, char* const[], char* const[]);
using fexecve_t = int (*)(int, char* const[], char* const[]);

// Looked up once at load, never on the exec path (which may run in a
// vfork child, where dlsym's locks are not safe to take).
execve_t g_execve;
execvp_t g_execvp;
execvpe_t g_execvpe;
fexecve_t g_fexecve;

// A sanitizer's runtime ends a program it reports on with a raw exit_group
// (no _exit, no destructors); its death callback is the one chance to get
// the last events out. Weak: present only in sanitized programs. Set at
// start, so a callback the program sets later replaces ours, never the
// other way round.
extern "C" void __sanitizer_set_death_callback(void (*)(void)) __attribute__((weak));
void on_sanitizer_death() {
  before_image_ends();
}

__attribute__((constructor)) void resolve_exec() {
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(on_sanitizer_death);
  g_execve = reinterpret_cast<execve_t>(dlsym(RTLD_NEXT, "execve"));
  g_execvp = reinterpret_cast<execvp_t>(dlsym(RTLD_NEXT, "execvp"));
  g_execvpe = reinterpret_cast<execvpe_t>(dlsym(RTLD_NEXT, "execvpe"));
  g_fexecve = reinterpret_cast<fexecve_t>(dlsym(RTLD_NEXT, "fexecve"));
}

}  // namespace

// Only in the process that owns the recorder: not in a vfork child, which
// shares this memory and these descriptors with its parent.
void before_image_ends() {
  if (!g_ready.load(std::memory_order_acquire)) return;
  if (static_cast<uint32_t>(syscall(SYS_getpid)) != fr().pid) return;
  const int saved = errno;
  finish_pending_crash();
  {
    Guard g;
    if (g.entered) sinks_before_image_ends();
  }
  errno = saved;
}

}  // namespace numatrace::rec

#ifndef NUMATRACE_NO_EXIT_INTERPOSER
using numatrace::rec::before_image_ends;

#define NT_EXPORT extern "C" __attribute__((visibility("default")))

NT_EXPORT void _exit(int status) {
  before_image_ends();
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

NT_EXPORT void _Exit(int status) {
  before_image_ends();
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

NT_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
  if (!numatrace::rec::g_execve) return errno = ENOSYS, -1;
  before_image_ends();
  return numatrace::rec::g_execve(path, argv, envp);
}

NT_EXPORT int execv(const char* path, char* const argv[]) {
  return execve(path, argv, environ);
}

NT_EXPORT int execvp(const char* file, char* const argv[]) {
  if (!numatrace::rec::g_execvp) return errno = ENOSYS, -1;
  before_image_ends();
  return numatrace::rec::g_execvp(file, argv);
}

NT_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
  if (!numatrace::rec::g_execvpe) return errno = ENOSYS, -1;
  before_image_ends();
  return numatrace::rec::g_execvpe(file, argv, envp);
}

NT_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  if (!numatrace::rec::g_fexecve) return errno = ENOSYS, -1;
  before_image_ends();
  return numatrace::rec::g_fexecve(fd, argv, envp);
}

// The variadic forms: their arguments into an array on the stack (as glibc
// does), then the forms above. `envp_out` reads what follows the terminating
// null pointer: execle's environment.
#define NT_COLLECT_ARGS(first, ap, envp_out)                                    \
  size_t n = 1;                                                                 \
  va_list count;                                                                \
  va_copy(count, ap);                                                           \
  while (va_arg(count, const char*)) ++n;                                       \
  va_end(count);                                                                \
  char** argv = static_cast<char**>(__builtin_alloca((n + 1) * sizeof(char*))); \
  argv[0] = const_cast<char*>(first);                                           \
  for (size_t i = 1; i <= n; ++i) argv[i] = va_arg(ap, char*);                  \
  envp_out

NT_EXPORT int execl(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  NT_COLLECT_ARGS(arg, ap, );
  va_end(ap);
  return execve(path, argv, environ);
}

NT_EXPORT int execlp(const char* file, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  NT_COLLECT_ARGS(arg, ap, );
  va_end(ap);
  return execvp(file, argv);
}

NT_EXPORT int execle(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  NT_COLLECT_ARGS(arg, ap, char* const* envp = va_arg(ap, char* const*));
  va_end(ap);
  return execve(path, argv, envp);
}
#endif  // NUMATRACE_NO_EXIT_INTERPOSER

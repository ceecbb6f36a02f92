// Opening the files that untrusted inputs name (a split, a trace, a core,
// a path inside a core). Offline code only.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace numatrace {

// Opens PATH read-only when it is a regular file. O_NONBLOCK keeps a FIFO
// (or a device) from blocking the open itself; fstat then refuses it, so a
// planted FIFO is an error, never a hang. Returns the descriptor, or -1 with
// `why` saying what failed ("open: No such file or directory", "a FIFO, not
// a regular file").
inline int open_regular(const std::string& path, std::string& why, struct stat* st_out = nullptr) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    why = std::string("open: ") + std::strerror(errno);
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    why = std::string("fstat: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    const char* kind = S_ISFIFO(st.st_mode)   ? "a FIFO"
                       : S_ISDIR(st.st_mode)  ? "a directory"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a file";
    why = std::string(kind) + ", not a regular file";
    ::close(fd);
    return -1;
  }
  // Reads of a regular file never block; the flag is dropped all the same
  // so that nothing later sees EAGAIN from a descriptor it did not expect.
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  if (st_out) *st_out = st;
  return fd;
}

}  // namespace numatrace

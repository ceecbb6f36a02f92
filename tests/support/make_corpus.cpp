// make-corpus DIR: writes the malformed-GGUF corpus for the CLI tests, one
// directory per case with an EXPECT file ("CODE FILE-TO-OPEN").
#include <cstdio>

#include "corpus.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make-corpus DIR\n");
    return 2;
  }
  if (!numatrace::test::write_corpus(argv[1], numatrace::test::malformed_corpus())) {
    std::perror(argv[1]);
    return 2;
  }
  return 0;
}

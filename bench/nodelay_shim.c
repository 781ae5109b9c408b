// LD_PRELOAD shim for bench/ab.sh: sets TCP_NODELAY on every listening socket (accepted
// sockets inherit it). Builds older than 348d27a ran the embedded cluster's brokers with
// Nagle's algorithm on, which made audit acknowledgements wait ~40 ms; comparing such a
// build with a newer one measures that artefact, not the change under test. Run the old
// build through it:
//   gcc -shared -fPIC -O2 -o /tmp/nodelay_shim.so bench/nodelay_shim.c -ldl
//   printf '#!/bin/sh\nexec env LD_PRELOAD=/tmp/nodelay_shim.so /path/to/old/lgsp "$@"\n' > DIR/lgsp
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int listen(int fd, int backlog) {
  static int (*real_listen)(int, int);
  if (!real_listen) real_listen = (int (*)(int, int))dlsym(RTLD_NEXT, "listen");
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return real_listen(fd, backlog);
}

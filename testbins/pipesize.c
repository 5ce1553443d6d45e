/* pipesize: pipe sizes (F_GETPIPE_SZ/F_SETPIPE_SZ), packet-mode pipes (pipe2 O_DIRECT),
 * F_CREATED_QUERY, calls an O_PATH descriptor cannot make, and RLIMIT_FSIZE on truncate. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"

#ifndef F_CREATED_QUERY
#define F_CREATED_QUERY (1024 + 4)
#endif

int main(void)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    CHECK(fcntl(p[0], F_GETPIPE_SZ) == 65536, "default size 64 KiB");
    CHECK(fcntl(p[0], F_SETPIPE_SZ, 0) == 4096, "size 0 rounds up to a page");
    CHECK(fcntl(p[1], F_GETPIPE_SZ) == 4096, "both ends see the new size");
    CHECK(fcntl(p[1], F_SETPIPE_SZ, 5000) == 8192, "5000 rounds up to two pages");
    CHECK(fcntl(p[1], F_SETPIPE_SZ, 3 * 4096) == 4 * 4096, "three pages round to four");
    char buf[8192];
    memset(buf, 'x', sizeof buf);
    CHECK(write(p[1], buf, sizeof buf) == (ssize_t)sizeof buf, "fill 8 KiB");
    CHECK(fcntl(p[1], F_SETPIPE_SZ, 4096) == -1 && errno == EBUSY, "shrinking below the data: EBUSY");
    CHECK(fcntl(p[1], F_SETPIPE_SZ, (1U << 31) + 1) == -1 && errno == EINVAL, "past 2^31: EINVAL");
    CHECK(fcntl(0 + open("/dev/null", O_RDONLY), F_GETPIPE_SZ) == -1, "not a pipe: an error");
    int flags = fcntl(p[1], F_GETFL);
    CHECK(fcntl(p[1], F_SETFL, flags | O_NONBLOCK) == 0, "nonblocking writer");
    CHECK(write(p[1], buf, sizeof buf) == 8192, "the rest of 16 KiB fits");
    CHECK(write(p[1], buf, 1) == -1 && errno == EAGAIN, "full: EAGAIN");
    close(p[0]);
    close(p[1]);

    CHECK(pipe2(p, O_DIRECT) == 0, "pipe2(O_DIRECT)");
    CHECK(fcntl(p[1], F_GETFL) & O_DIRECT, "F_GETFL shows O_DIRECT");
    CHECK(write(p[1], "hello", 5) == 5 && write(p[1], "world!", 6) == 6, "two packets");
    char in[100];
    CHECK(read(p[0], in, 3) == 3 && memcmp(in, "hel", 3) == 0, "a short read takes part of one packet");
    CHECK(read(p[0], in, sizeof in) == 6 && memcmp(in, "world!", 6) == 0, "the rest of it is gone");
    close(p[0]);
    close(p[1]);

    char name[] = "pipesize.XXXXXX";
    int fd = mkstemp(name);
    CHECK(fd >= 0, "mkstemp");
    int again = open(name, O_RDWR);
    CHECK(fcntl(again, F_CREATED_QUERY, 0) == 0, "F_CREATED_QUERY: an existing file");
    close(again);
    unlink(name);
    int made = open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(made >= 0 && fcntl(made, F_CREATED_QUERY, 0) == 1, "F_CREATED_QUERY: a file this open made");

    int opath = open(name, O_PATH);
    CHECK(opath >= 0, "O_PATH");
    int nread;
    CHECK(ioctl(opath, FIONREAD, &nread) == -1 && errno == EBADF, "ioctl on O_PATH: EBADF");
    CHECK(ioctl(opath, FIOCLEX) == -1 && errno == EBADF, "FIOCLEX on O_PATH: EBADF");
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, opath, 0) == MAP_FAILED && errno == EBADF,
          "mmap of O_PATH: EBADF");

    signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {1 << 20, 1 << 20};
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0, "RLIMIT_FSIZE 1 MiB");
    CHECK(truncate(name, 2 << 20) == -1 && errno == EFBIG, "truncate past RLIMIT_FSIZE: EFBIG");
    CHECK(ftruncate(made, 2 << 20) == -1 && errno == EFBIG, "ftruncate past RLIMIT_FSIZE: EFBIG");
    CHECK(truncate(name, 1 << 20) == 0, "truncate to the limit");
    unlink(name);
    printf("pipesize: ok\n");
    return 0;
}

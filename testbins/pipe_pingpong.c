/* pipe_pingpong: pipes between processes. 1000 round trips, a 1 MiB single write read
 * by the child with a checksum, EOF when the last writer closes, EPIPE with SIGPIPE
 * ignored, O_NONBLOCK -> EAGAIN, O_CLOEXEC visible through F_GETFD. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define ROUNDS 1000
#define BIG (1 << 20)

static int read_full(int fd, void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, (char *)buf + done, n - done);
        if (r <= 0)
            return 0;
        done += r;
    }
    return 1;
}

static uint64_t checksum(const unsigned char *p, size_t n, uint64_t sum)
{
    for (size_t i = 0; i < n; i++)
        sum = sum * 31 + p[i];
    return sum;
}

/* The child: answer each ping with ping+1, then checksum the bulk stream until EOF. */
static void child(int in, int out)
{
    uint32_t v;
    for (int i = 0; i < ROUNDS; i++) {
        if (!read_full(in, &v, sizeof v))
            _exit(2);
        v++;
        if (write(out, &v, sizeof v) != sizeof v)
            _exit(3);
    }
    static unsigned char buf[65536];
    uint64_t sum = 0, total = 0;
    ssize_t r;
    while ((r = read(in, buf, sizeof buf)) > 0) {
        sum = checksum(buf, r, sum);
        total += r;
    }
    if (r < 0)
        _exit(4);
    uint64_t reply[2] = {total, sum};
    write(out, reply, sizeof reply);
    _exit(0);
}

static void pingpong(void)
{
    int down[2], up[2];
    CHECK(pipe(down) == 0 && pipe(up) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        child(down[0], up[1]);
    }
    close(down[0]);
    close(up[1]);
    int ok = 1;
    for (uint32_t i = 0; i < ROUNDS && ok; i++) {
        uint32_t v = i * 3;
        ok = write(down[1], &v, sizeof v) == sizeof v && read_full(up[0], &v, sizeof v) && v == i * 3 + 1;
    }
    CHECK(ok, "1000 ping-pong round trips");

    unsigned char *big = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (unsigned char)(i * 131 + (i >> 11));
    CHECK(write(down[1], big, BIG) == BIG, "one 1 MiB write completes while the child reads");
    close(down[1]);
    uint64_t reply[2];
    CHECK(read_full(up[0], reply, sizeof reply), "child saw EOF after the writer closed");
    CHECK(reply[0] == BIG && reply[1] == checksum(big, BIG, 0), "child received all bytes, checksum matches");
    char c;
    CHECK(read(up[0], &c, 1) == 0, "read after the child exits returns EOF");
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && status == 0, "child exited 0");
    close(up[0]);
    free(big);
}

static void epipe(void)
{
    int fds[2];
    signal(SIGPIPE, SIG_IGN);
    pipe(fds);
    close(fds[0]);
    errno = 0;
    CHECK(write(fds[1], "x", 1) == -1 && errno == EPIPE, "write with no reader -> EPIPE (SIGPIPE ignored)");
    close(fds[1]);
    signal(SIGPIPE, SIG_DFL);
}

static void flags(void)
{
    int fds[2];
    char c;
    CHECK(pipe2(fds, O_NONBLOCK) == 0, "pipe2(O_NONBLOCK)");
    errno = 0;
    CHECK(read(fds[0], &c, 1) == -1 && errno == EAGAIN, "read on an empty non-blocking pipe -> EAGAIN");
    CHECK((fcntl(fds[0], F_GETFL) & O_NONBLOCK) && (fcntl(fds[1], F_GETFL) & O_NONBLOCK),
          "O_NONBLOCK visible through F_GETFL on both ends");
    CHECK(write(fds[1], "y", 1) == 1 && read(fds[0], &c, 1) == 1 && c == 'y', "data passes through");
    close(fds[0]);
    close(fds[1]);

    CHECK(pipe2(fds, O_CLOEXEC) == 0, "pipe2(O_CLOEXEC)");
    CHECK((fcntl(fds[0], F_GETFD) & FD_CLOEXEC) && (fcntl(fds[1], F_GETFD) & FD_CLOEXEC),
          "FD_CLOEXEC set on both ends");
    close(fds[0]);
    close(fds[1]);
    CHECK(pipe(fds) == 0 && fcntl(fds[0], F_GETFD) == 0 && fcntl(fds[1], F_GETFD) == 0,
          "plain pipe: FD_CLOEXEC clear");
    CHECK((fcntl(fds[0], F_GETFL) & O_ACCMODE) == O_RDONLY && (fcntl(fds[1], F_GETFL) & O_ACCMODE) == O_WRONLY,
          "read end O_RDONLY, write end O_WRONLY");
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    pingpong();
    epipe();
    flags();
    return 0;
}

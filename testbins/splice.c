/* splice: sendfile, splice, tee, vmsplice, copy_file_range and fallocate between
 * regular files, pipes and Unix sockets, their results and Linux's errors for the bad
 * combinations. Works on files made with mkstemp in /tmp, removed at exit.
 * Calls go through syscall(2) so that the exact system call is exercised.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static char path_a[] = "/tmp/pykern-splice-XXXXXX";
static char path_b[] = "/tmp/pykern-splice-XXXXXX";

static void cleanup(void)
{
    unlink(path_a);
    unlink(path_b);
}

#define FAILS(call, err) ((call) == -1 && errno == (err))

static long xsendfile(int out, int in, off_t *off, size_t n) { return syscall(SYS_sendfile, out, in, off, n); }
static long xsplice(int in, loff_t *oi, int out, loff_t *oo, size_t n, unsigned f)
{
    return syscall(SYS_splice, in, oi, out, oo, n, f);
}
static long xtee(int in, int out, size_t n, unsigned f) { return syscall(SYS_tee, in, out, n, f); }
static long xcfr(int in, loff_t *oi, int out, loff_t *oo, size_t n, unsigned f)
{
    return syscall(SYS_copy_file_range, in, oi, out, oo, n, f);
}

static int readall(int fd, char *buf, size_t n)
{
    ssize_t got = read(fd, buf, n);
    return got < 0 ? -1 : (int)got;
}

static void test_sendfile(int a)
{
    int p[2];
    char buf[64];
    CHECK(pipe(p) == 0, "pipe");
    /* file -> pipe, using and moving the file offset */
    CHECK(lseek(a, 0, SEEK_SET) == 0, "lseek 0");
    CHECK(xsendfile(p[1], a, NULL, 5) == 5, "sendfile file->pipe 5");
    CHECK(lseek(a, 0, SEEK_CUR) == 5, "sendfile moved the offset");
    CHECK(readall(p[0], buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0, "pipe got hello");
    /* with an offset pointer: the file offset stays, the pointer moves */
    off_t off = 6;
    CHECK(xsendfile(p[1], a, &off, 5) == 5 && off == 11, "sendfile with offset");
    CHECK(lseek(a, 0, SEEK_CUR) == 5, "offset pointer left the file offset alone");
    CHECK(readall(p[0], buf, sizeof buf) == 5 && memcmp(buf, "world", 5) == 0, "pipe got world");
    /* past EOF: 0 */
    off = 1000;
    CHECK(xsendfile(p[1], a, &off, 5) == 0 && off == 1000, "sendfile at EOF");
    /* file -> file */
    int b = open(path_b, O_RDWR | O_TRUNC);
    CHECK(b >= 0, "open b");
    off = 0;
    CHECK(xsendfile(b, a, &off, 100) == 26 && off == 26, "sendfile file->file whole");
    CHECK(pread(b, buf, sizeof buf, 0) == 26 && memcmp(buf, "hello world, from splice.\n", 26) == 0,
          "file->file content");
    /* to stdout */
    fflush(stdout);
    off = 0;
    CHECK(xsendfile(1, a, &off, 26) == 26, "sendfile to stdout");
    /* errors */
    CHECK(FAILS(xsendfile(p[1], p[0], NULL, 5), EINVAL) || 1, "sendfile pipe->pipe (checked below)");
    CHECK(write(p[1], "xyz", 3) == 3, "fill pipe");
    CHECK(FAILS(xsendfile(b, p[0], NULL, 5), EINVAL), "sendfile from a pipe: EINVAL");
    off = 0;
    CHECK(FAILS(xsendfile(b, p[0], &off, 5), ESPIPE), "sendfile from a pipe with offset: ESPIPE");
    CHECK(readall(p[0], buf, sizeof buf) == 3, "drain pipe");
    CHECK(FAILS(xsendfile(b, 99, NULL, 5), EBADF), "sendfile bad in fd: EBADF");
    CHECK(FAILS(xsendfile(99, a, NULL, 5), EBADF), "sendfile bad out fd: EBADF");
    CHECK(FAILS(xsendfile(a, p[1], NULL, 5), EBADF), "sendfile from a write end: EBADF");
    int ro = open(path_b, O_RDONLY);
    CHECK(FAILS(xsendfile(ro, a, NULL, 5), EBADF), "sendfile to a read-only fd: EBADF");
    off = -1;
    CHECK(FAILS(xsendfile(b, a, &off, 5), EINVAL), "sendfile negative offset: EINVAL");
    int ap = open(path_b, O_WRONLY | O_APPEND);
    off = 0;
    CHECK(FAILS(xsendfile(ap, a, &off, 5), EINVAL), "sendfile to O_APPEND: EINVAL");
    CHECK(FAILS(xsendfile(b, a, (off_t *)8, 5), EFAULT), "sendfile bad offset pointer: EFAULT");
    /* to a pipe nobody reads: EPIPE (SIGPIPE ignored) */
    close(p[0]);
    off = 0;
    CHECK(FAILS(xsendfile(p[1], a, &off, 5), EPIPE), "sendfile to a pipe without reader: EPIPE");
    /* a full nonblocking pipe: EAGAIN */
    int q[2];
    CHECK(pipe2(q, O_NONBLOCK) == 0, "pipe2 nonblock");
    static char big[65536];
    CHECK(write(q[1], big, sizeof big) == sizeof big, "fill the pipe");
    off = 0;
    CHECK(FAILS(xsendfile(q[1], a, &off, 5), EAGAIN), "sendfile to a full nonblocking pipe: EAGAIN");
    /* sendfile into a socket */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    off = 0;
    CHECK(xsendfile(sv[0], a, &off, 11) == 11, "sendfile to a socket");
    CHECK(read(sv[1], buf, sizeof buf) == 11 && memcmp(buf, "hello world", 11) == 0, "socket got it");
    close(sv[0]); close(sv[1]); close(q[0]); close(q[1]);
    close(p[1]); close(b); close(ro); close(ap);
}

static void test_splice(int a)
{
    int p[2], q[2];
    char buf[128];
    loff_t off;
    CHECK(pipe(p) == 0 && pipe(q) == 0, "pipes");
    off = 0;
    CHECK(xsplice(a, &off, p[1], NULL, 11, 0) == 11 && off == 11, "splice file->pipe with offset");
    CHECK(xsplice(p[0], NULL, q[1], NULL, 4, SPLICE_F_MOVE) == 4, "splice pipe->pipe 4");
    CHECK(readall(q[0], buf, sizeof buf) == 4 && memcmp(buf, "hell", 4) == 0, "q got hell");
    int b = open(path_b, O_RDWR | O_TRUNC);
    off = 3;
    CHECK(xsplice(p[0], NULL, b, &off, 100, 0) == 7 && off == 10, "splice pipe->file at offset");
    CHECK(lseek(b, 0, SEEK_CUR) == 0, "file offset unchanged");
    CHECK(pread(b, buf, sizeof buf, 0) == 10 && memcmp(buf, "\0\0\0o world", 10) == 0, "file content");
    /* without offsets: the file offsets move */
    CHECK(lseek(a, 6, SEEK_SET) == 6, "seek a");
    CHECK(xsplice(a, NULL, p[1], NULL, 5, 0) == 5 && lseek(a, 0, SEEK_CUR) == 11, "splice moves in offset");
    CHECK(xsplice(p[0], NULL, b, NULL, 5, 0) == 5 && lseek(b, 0, SEEK_CUR) == 5, "splice moves out offset");
    /* errors */
    CHECK(xsplice(a, NULL, b, NULL, 0, 0) == 0, "splice len 0: 0 before any check");
    CHECK(xsplice(99, NULL, 98, NULL, 0, 0) == 0, "splice len 0 with bad fds: 0");
    CHECK(FAILS(xsplice(a, NULL, b, NULL, 5, 0), EINVAL), "splice file->file: EINVAL");
    CHECK(FAILS(xsplice(p[0], NULL, p[1], NULL, 5, 0), EINVAL), "splice pipe to itself: EINVAL");
    CHECK(FAILS(xsplice(a, NULL, p[1], NULL, 5, 0x100), EINVAL), "splice bad flags: EINVAL");
    off = 0;
    CHECK(FAILS(xsplice(p[0], &off, b, NULL, 5, 0), ESPIPE), "splice offset on the in pipe: ESPIPE");
    CHECK(FAILS(xsplice(a, NULL, p[1], &off, 5, 0), ESPIPE), "splice offset on the out pipe: ESPIPE");
    CHECK(FAILS(xsplice(99, NULL, p[1], NULL, 5, 0), EBADF), "splice bad fd: EBADF");
    CHECK(FAILS(xsplice(p[1], NULL, q[1], NULL, 5, 0), EBADF), "splice from a write end: EBADF");
    CHECK(FAILS(xsplice(p[0], NULL, q[0], NULL, 5, 0), EBADF), "splice to a read end: EBADF");
    CHECK(FAILS(xsplice(p[0], NULL, b, NULL, 5, SPLICE_F_NONBLOCK), EAGAIN), "splice empty pipe nonblock: EAGAIN");
    off = -5;
    CHECK(FAILS(xsplice(a, &off, p[1], NULL, 5, 0), EINVAL), "splice negative in offset: EINVAL");
    int ap = open(path_b, O_WRONLY | O_APPEND);
    CHECK(write(p[1], "abc", 3) == 3, "fill p");
    CHECK(FAILS(xsplice(p[0], NULL, ap, NULL, 5, 0), EINVAL), "splice to O_APPEND: EINVAL");
    /* sockets on either side */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    CHECK(xsplice(p[0], NULL, sv[0], NULL, 3, 0) == 3, "splice pipe->socket");
    CHECK(xsplice(sv[1], NULL, q[1], NULL, 100, 0) == 3, "splice socket->pipe");
    CHECK(readall(q[0], buf, sizeof buf) == 3 && memcmp(buf, "abc", 3) == 0, "through the socket");
    off = 0;
    CHECK(FAILS(xsplice(sv[1], &off, q[1], NULL, 100, 0), EINVAL), "splice offset on a socket: EINVAL");
    /* EOF: no writer left */
    close(p[1]);
    CHECK(xsplice(p[0], NULL, q[1], NULL, 5, 0) == 0, "splice from a finished pipe: 0");
    /* a blocked splice wakes when a child writes */
    int r[2];
    CHECK(pipe(r) == 0, "pipe r");
    pid_t child = fork();
    if (child == 0) {
        usleep(20000);
        write(r[1], "late", 4);
        _exit(0);
    }
    close(r[1]);
    CHECK(xsplice(r[0], NULL, q[1], NULL, 10, 0) == 4, "blocked splice woke");
    CHECK(readall(q[0], buf, sizeof buf) == 4 && memcmp(buf, "late", 4) == 0, "q got late");
    int status;
    CHECK(waitpid(child, &status, 0) == child, "waitpid");
    /* no reader on the out pipe: EPIPE */
    close(q[0]);
    off = 0;
    CHECK(FAILS(xsplice(a, &off, q[1], NULL, 5, 0), EPIPE), "splice to a pipe without reader: EPIPE");
    close(p[0]); close(q[1]); close(r[0]); close(b); close(ap); close(sv[0]); close(sv[1]);
}

static void test_tee_vmsplice(int a)
{
    int p[2], q[2];
    char buf[64];
    CHECK(pipe(p) == 0 && pipe(q) == 0, "pipes");
    CHECK(write(p[1], "teeing", 6) == 6, "fill p");
    CHECK(xtee(p[0], q[1], 100, 0) == 6, "tee 6");
    CHECK(xtee(p[0], q[1], 3, 0) == 3, "tee 3");
    CHECK(readall(q[0], buf, sizeof buf) == 9 && memcmp(buf, "teeingtee", 9) == 0, "q got both copies");
    CHECK(readall(p[0], buf, sizeof buf) == 6 && memcmp(buf, "teeing", 6) == 0, "p still had its data");
    CHECK(FAILS(xtee(p[0], q[1], 5, SPLICE_F_NONBLOCK), EAGAIN), "tee empty nonblock: EAGAIN");
    CHECK(FAILS(xtee(p[0], q[1], 5, 0x40), EINVAL), "tee bad flags: EINVAL");
    CHECK(FAILS(xtee(a, q[1], 5, 0), EINVAL), "tee from a file: EINVAL");
    CHECK(FAILS(xtee(p[0], p[1], 5, 0), EINVAL), "tee to the same pipe: EINVAL");
    CHECK(FAILS(xtee(p[1], q[1], 5, 0), EBADF), "tee from a write end: EBADF");
    CHECK(xtee(99, q[1], 0, 0) == 0, "tee len 0: 0");
    CHECK(FAILS(xtee(p[0], q[1], 0, 0x40), EINVAL), "tee flags checked before len");

    struct iovec iov[2] = {{"vm", 2}, {"splice", 6}};
    CHECK(syscall(SYS_vmsplice, p[1], iov, 2, 0) == 8, "vmsplice into a pipe");
    char x[3] = {0}, y[10] = {0};
    struct iovec out[2] = {{x, 3}, {y, 10}};
    CHECK(syscall(SYS_vmsplice, p[0], out, 2, 0) == 8, "vmsplice out of a pipe");
    CHECK(memcmp(x, "vms", 3) == 0 && memcmp(y, "plice", 5) == 0, "vmsplice scattered");
    CHECK(FAILS(syscall(SYS_vmsplice, a, iov, 2, 0), EBADF), "vmsplice on a file: EBADF");
    CHECK(FAILS(syscall(SYS_vmsplice, 99, iov, 2, 0), EBADF), "vmsplice bad fd: EBADF");
    CHECK(FAILS(syscall(SYS_vmsplice, p[1], iov, 2, 0x40), EINVAL), "vmsplice bad flags: EINVAL");
    CHECK(syscall(SYS_vmsplice, p[1], iov, 0, 0) == 0, "vmsplice nothing: 0");
    CHECK(FAILS(syscall(SYS_vmsplice, p[0], out, 2, SPLICE_F_NONBLOCK), EAGAIN), "vmsplice empty nonblock");
    close(p[0]);
    CHECK(FAILS(syscall(SYS_vmsplice, p[1], iov, 2, 0), EPIPE), "vmsplice without reader: EPIPE");
    close(p[1]); close(q[0]); close(q[1]);
}

static void test_copy_file_range(int a)
{
    char buf[64];
    int b = open(path_b, O_RDWR | O_TRUNC);
    loff_t oi = 6, oo = 2;
    CHECK(xcfr(a, &oi, b, &oo, 5, 0) == 5 && oi == 11 && oo == 7, "copy_file_range with offsets");
    CHECK(pread(b, buf, sizeof buf, 0) == 7 && memcmp(buf, "\0\0world", 7) == 0, "copied content");
    CHECK(lseek(a, 0, SEEK_SET) == 0 && lseek(b, 0, SEEK_SET) == 0, "rewind");
    CHECK(xcfr(a, NULL, b, NULL, 5, 0) == 5, "copy_file_range with file offsets");
    CHECK(lseek(a, 0, SEEK_CUR) == 5 && lseek(b, 0, SEEK_CUR) == 5, "both offsets moved");
    oi = 1000;
    CHECK(xcfr(a, &oi, b, NULL, 5, 0) == 0, "copy_file_range past EOF: 0");
    CHECK(FAILS(xcfr(a, NULL, b, NULL, 5, 1), EINVAL), "copy_file_range flags: EINVAL");
    CHECK(FAILS(xcfr(99, NULL, b, NULL, 5, 0), EBADF), "copy_file_range bad fd: EBADF");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    CHECK(FAILS(xcfr(a, NULL, p[1], NULL, 5, 0), EINVAL), "copy_file_range to a pipe: EINVAL");
    CHECK(FAILS(xcfr(p[0], NULL, b, NULL, 5, 0), EINVAL), "copy_file_range from a pipe: EINVAL");
    int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
    CHECK(FAILS(xcfr(dir, NULL, b, NULL, 5, 0), EISDIR), "copy_file_range from a directory: EISDIR");
    CHECK(FAILS(xcfr(dir, NULL, p[1], NULL, 5, 0), EISDIR), "copy_file_range dir to pipe: EISDIR");
    int ro = open(path_b, O_RDONLY);
    CHECK(FAILS(xcfr(a, NULL, ro, NULL, 5, 0), EBADF), "copy_file_range to read-only: EBADF");
    int ap = open(path_b, O_WRONLY | O_APPEND);
    CHECK(FAILS(xcfr(a, NULL, ap, NULL, 5, 0), EBADF), "copy_file_range to O_APPEND: EBADF");
    oi = 0; oo = 2;
    CHECK(FAILS(xcfr(a, &oi, a, &oo, 5, 0), EINVAL), "copy_file_range overlapping: EINVAL");
    oi = -1;
    CHECK(FAILS(xcfr(a, &oi, b, NULL, 5, 0), EOVERFLOW), "copy_file_range negative offset: EOVERFLOW");
    close(p[0]); close(p[1]); close(dir); close(ro); close(ap); close(b);
}

static void test_fallocate(void)
{
    struct stat st;
    int b = open(path_b, O_RDWR | O_TRUNC);
    CHECK(fallocate(b, 0, 0, 8192) == 0, "fallocate 8192");
    CHECK(fstat(b, &st) == 0 && st.st_size == 8192, "size 8192");
    CHECK(fallocate(b, FALLOC_FL_KEEP_SIZE, 8192, 4096) == 0 && fstat(b, &st) == 0 && st.st_size == 8192,
          "fallocate KEEP_SIZE");
    CHECK(FAILS(fallocate(b, 0, -1, 10), EINVAL), "fallocate negative offset: EINVAL");
    CHECK(FAILS(fallocate(b, 0, 0, 0), EINVAL), "fallocate zero length: EINVAL");
    CHECK(FAILS(fallocate(b, FALLOC_FL_PUNCH_HOLE, 0, 10), EOPNOTSUPP), "punch hole without keep size");
    int ro = open(path_b, O_RDONLY);
    CHECK(FAILS(fallocate(ro, 0, 0, 10), EBADF), "fallocate read-only: EBADF");
    CHECK(FAILS(fallocate(99, 0, 0, 10), EBADF), "fallocate bad fd: EBADF");
    int p[2], sv[2];
    CHECK(pipe(p) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "pipe, socketpair");
    CHECK(FAILS(fallocate(p[1], 0, 0, 10), ESPIPE), "fallocate on a pipe: ESPIPE");
    CHECK(FAILS(fallocate(p[0], 0, 0, 10), EBADF), "fallocate on a read end: EBADF");
    CHECK(FAILS(fallocate(sv[0], 0, 0, 10), ENODEV), "fallocate on a socket: ENODEV");
    int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
    CHECK(FAILS(fallocate(dir, 0, 0, 10), EBADF), "fallocate on a directory fd: EBADF");
    close(p[0]); close(p[1]); close(sv[0]); close(sv[1]); close(ro); close(b); close(dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    int a = mkstemp(path_a);
    int b = mkstemp(path_b);
    CHECK(a >= 0 && b >= 0, "mkstemp");
    close(b);
    atexit(cleanup);
    const char text[] = "hello world, from splice.\n";
    CHECK(write(a, text, 26) == 26, "write a");
    test_sendfile(a);
    test_splice(a);
    test_tee_vmsplice(a);
    test_copy_file_range(a);
    test_fallocate();
    printf("done\n");
    return 0;
}

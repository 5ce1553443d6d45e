/* files: the file syscalls, their results and their errors.
 *
 * Works in a fresh directory made with mkdtemp under /tmp and removes it at exit.
 * Prints "ok <check>" for each passing check; on the first failure prints "FAIL ..."
 * to stderr and exits 1. No inode numbers, times or pids are printed.
 * Several calls are made with syscall(2) so that the exact system call is exercised
 * (glibc implements open with openat, stat with newfstatat, and so on).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "rmtree.h"

/* glibc defines O_LARGEFILE as 0 on x86-64; the kernel reports its own bit in F_GETFL. */
#define KERNEL_O_LARGEFILE 0100000

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2
#endif

#ifndef FILES_BASE
#define FILES_BASE "/tmp" /* files_shm.c: /dev/shm */
#endif
static char topdir[64];
static int checks;

static void fail(const char *name, const char *what, long got, int err, int line)
{
    fprintf(stderr, "FAIL %s: %s (line %d): got %ld, errno %d (%s)\n", name, what, line, got, err,
            strerror(err));
    exit(1);
}

#define CHECK(name, cond)                                  \
    do {                                                   \
        errno = 0;                                         \
        if (cond) {                                        \
            printf("ok %s\n", name);                       \
            checks++;                                      \
        } else {                                           \
            fail(name, #cond, 0, errno, __LINE__);         \
        }                                                  \
    } while (0)

/* `call` must fail with -1 and errno == err. */
#define CHECK_ERR(name, call, err)                                    \
    do {                                                              \
        errno = 0;                                                    \
        long r_ = (long)(call);                                       \
        int e_ = errno;                                               \
        if (r_ == -1 && e_ == (err)) {                                \
            printf("ok %s\n", name);                                  \
            checks++;                                                 \
        } else {                                                      \
            fail(name, #call " should fail with " #err, r_, e_, __LINE__); \
        }                                                             \
    } while (0)

/* `call` must succeed (>= 0); its value is stored in `var`. */
#define CHECK_OK(name, var, call)                                     \
    do {                                                              \
        errno = 0;                                                    \
        var = (call);                                                 \
        if ((long)(var) >= 0) {                                       \
            printf("ok %s\n", name);                                  \
            checks++;                                                 \
        } else {                                                      \
            fail(name, #call, (long)(var), errno, __LINE__);          \
        }                                                             \
    } while (0)

static void cleanup(void)
{
    if (topdir[0]) {
        if (chdir("/") == 0)
            remove_tree(topdir);
    }
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) != 0)
        fail("write_file", path, fd, errno, __LINE__);
}

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char type_letter(unsigned char type)
{
    switch (type) {
    case DT_REG: return 'f';
    case DT_DIR: return 'd';
    case DT_LNK: return 'l';
    case DT_FIFO: return 'p';
    default: return '?';
    }
}

static void test_open_read_write(void)
{
    int fd;
    char buf[64];

    CHECK_OK("open creat excl", fd, open("a.txt", O_CREAT | O_EXCL | O_WRONLY, 0644));
    CHECK("write", write(fd, "hello world\n", 12) == 12);
    CHECK_ERR("read on O_WRONLY", read(fd, buf, 1), EBADF);
    CHECK("close", close(fd) == 0);
    CHECK_ERR("close twice", close(fd), EBADF);
    CHECK_ERR("open excl existing", open("a.txt", O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST);
    CHECK_ERR("open missing", open("missing", O_RDONLY), ENOENT);
    CHECK_ERR("open under a file", open("a.txt/x", O_RDONLY), ENOTDIR);
    CHECK_ERR("open creat in missing dir", open("nodir/x", O_CREAT | O_WRONLY, 0644), ENOENT);
    CHECK_ERR("open O_DIRECTORY on file", open("a.txt", O_RDONLY | O_DIRECTORY), ENOTDIR);
    CHECK_ERR("open dir for writing", open(".", O_WRONLY), EISDIR);
    CHECK_ERR("open empty path", open("", O_RDONLY), ENOENT);
    CHECK_ERR("open NULL path", syscall(SYS_open, NULL, O_RDONLY), EFAULT);

    CHECK_OK("raw open", fd, syscall(SYS_open, "a.txt", O_RDONLY));
    CHECK_ERR("write on O_RDONLY", write(fd, "x", 1), EBADF);
    CHECK("read 5", read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK("lseek SEEK_CUR", lseek(fd, 0, SEEK_CUR) == 5);
    CHECK("lseek SEEK_END", lseek(fd, 0, SEEK_END) == 12);
    CHECK("read at EOF", read(fd, buf, sizeof buf) == 0);
    CHECK("lseek SEEK_SET", lseek(fd, 6, SEEK_SET) == 6);
    CHECK("read rest", read(fd, buf, sizeof buf) == 6 && memcmp(buf, "world\n", 6) == 0);
    CHECK_ERR("lseek negative", lseek(fd, -100, SEEK_SET), EINVAL);
    CHECK_ERR("lseek bad whence", lseek(fd, 0, 99), EINVAL);
    CHECK("lseek past end", lseek(fd, 100, SEEK_SET) == 100);
    CHECK("read past end", read(fd, buf, sizeof buf) == 0);
    CHECK("pread", pread(fd, buf, 5, 6) == 5 && memcmp(buf, "world", 5) == 0 && lseek(fd, 0, SEEK_CUR) == 100);
    CHECK_ERR("pread negative offset", pread(fd, buf, 5, -1), EINVAL);
    CHECK_ERR("pwrite on O_RDONLY", pwrite(fd, "x", 1, 0), EBADF);
    CHECK_ERR("read into NULL", syscall(SYS_read, (lseek(fd, 0, SEEK_SET), fd), NULL, 5), EFAULT);
    CHECK("read zero bytes", read(fd, buf, 0) == 0);
    CHECK("close raw open", close(fd) == 0);

    CHECK_OK("open O_RDWR", fd, open("a.txt", O_RDWR));
    CHECK("pwrite", pwrite(fd, "HELLO", 5, 0) == 5 && lseek(fd, 0, SEEK_CUR) == 0);
    CHECK("pread after pwrite", pread(fd, buf, 12, 0) == 12 && memcmp(buf, "HELLO world\n", 12) == 0);
    CHECK_ERR("write from NULL", syscall(SYS_write, fd, NULL, 5), EFAULT);
    CHECK("write zero bytes", write(fd, NULL, 0) == 0);
    CHECK("close O_RDWR", close(fd) == 0);

    CHECK_OK("open O_APPEND", fd, open("a.txt", O_WRONLY | O_APPEND));
    CHECK("append ignores offset", lseek(fd, 0, SEEK_SET) == 0 && write(fd, "more\n", 5) == 5 &&
                                       lseek(fd, 0, SEEK_CUR) == 17);
    close(fd);
    CHECK_OK("open O_TRUNC", fd, open("a.txt", O_RDWR | O_TRUNC));
    struct stat st;
    CHECK("O_TRUNC empties", fstat(fd, &st) == 0 && st.st_size == 0);
    CHECK("write after trunc", write(fd, "hello world\n", 12) == 12);
    close(fd);

    CHECK_OK("creat", fd, syscall(SYS_creat, "c.txt", 0600));
    CHECK("creat is write-only", fcntl(fd, F_GETFL) == (O_WRONLY | KERNEL_O_LARGEFILE));
    CHECK("write creat", write(fd, "abc", 3) == 3);
    close(fd);
    CHECK_OK("creat truncates", fd, syscall(SYS_creat, "c.txt", 0600));
    CHECK("creat truncated", fstat(fd, &st) == 0 && st.st_size == 0);
    close(fd);

    CHECK_OK("open O_CLOEXEC", fd, open("a.txt", O_RDONLY | O_CLOEXEC));
    CHECK("O_CLOEXEC sets FD_CLOEXEC", fcntl(fd, F_GETFD) == FD_CLOEXEC);
    close(fd);

    /* O_NOFOLLOW, /dev/null */
    CHECK("symlink for nofollow", symlink("a.txt", "a.lnk") == 0);
    CHECK_ERR("open O_NOFOLLOW symlink", open("a.lnk", O_RDONLY | O_NOFOLLOW), ELOOP);
    CHECK_OK("open through symlink", fd, open("a.lnk", O_RDONLY));
    CHECK("read through symlink", read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0);
    close(fd);
    CHECK_OK("open /dev/null", fd, open("/dev/null", O_RDWR));
    CHECK("write /dev/null", write(fd, "xyz", 3) == 3);
    CHECK("read /dev/null", read(fd, buf, sizeof buf) == 0);
    CHECK_ERR("TCGETS on /dev/null", ioctl(fd, TCGETS, &(struct termios){0}), ENOTTY);
    close(fd);

    /* O_TMPFILE: supported or not, the answer is the host file system's */
    fd = open(".", O_TMPFILE | O_RDWR, 0600);
    if (fd >= 0) {
        CHECK("O_TMPFILE write", write(fd, "tmp", 3) == 3 && fstat(fd, &st) == 0 && st.st_nlink == 0);
        close(fd);
    } else {
        printf("O_TMPFILE: errno %d\n", errno);
    }
}

static void test_vectors(void)
{
    int fd;
    char a[4], b[8], c[16];
    struct iovec out[3] = {{"abc", 3}, {NULL, 0}, {"defghij", 7}};
    CHECK_OK("open for writev", fd, open("v.txt", O_CREAT | O_RDWR | O_TRUNC, 0644));
    CHECK("writev", writev(fd, out, 3) == 10);
    CHECK("writev zero vectors", writev(fd, out, 0) == 0);
    CHECK_ERR("writev negative count", syscall(SYS_writev, fd, out, -1), EINVAL);
    CHECK_ERR("writev too many", syscall(SYS_writev, fd, out, 1025), EINVAL);
    CHECK_ERR("writev bad vector", syscall(SYS_writev, fd, NULL, 2), EFAULT);
    lseek(fd, 0, SEEK_SET);
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memset(c, 0, sizeof c);
    struct iovec in[3] = {{a, 2}, {b, 5}, {c, 16}};
    CHECK("readv", readv(fd, in, 3) == 10);
    CHECK("readv scatter", memcmp(a, "ab", 2) == 0 && memcmp(b, "cdefg", 5) == 0 && memcmp(c, "hij", 3) == 0);
    CHECK("readv at EOF", readv(fd, in, 3) == 0);
    CHECK_ERR("readv on O_WRONLY", (close(fd), fd = open("v.txt", O_WRONLY), readv(fd, in, 1)), EBADF);
    CHECK_ERR("readv bad fd", readv(999, in, 1), EBADF);
    close(fd);
}

/* close_range: CLOEXEC marking, closing a range, bad arguments. */
static void test_close_range(void)
{
    int a, b, c;
    CHECK_OK("open a", a, open("a.txt", O_RDONLY));
    CHECK_OK("dup b", b, dup(a));
    CHECK_OK("dup c", c, dup(a));
    CHECK_OK("close_range CLOEXEC", a, (int)syscall(SYS_close_range, b, c, 4 /* CLOSE_RANGE_CLOEXEC */));
    CHECK("b and c are close-on-exec", fcntl(b, F_GETFD) == FD_CLOEXEC && fcntl(c, F_GETFD) == FD_CLOEXEC);
    CHECK_OK("close_range", a, (int)syscall(SYS_close_range, b, ~0U, 0));
    CHECK_ERR("b is closed", fcntl(b, F_GETFD), EBADF);
    CHECK_ERR("c is closed", fcntl(c, F_GETFD), EBADF);
    CHECK_ERR("close_range first > last", syscall(SYS_close_range, 9, 3, 0), EINVAL);
    CHECK_ERR("close_range bad flags", syscall(SYS_close_range, 3, 9, 1), EINVAL);
}

static void test_descriptors(void)
{
    int fd, fd2, fd3;
    char buf[16];
    CHECK_OK("open for dup", fd, open("a.txt", O_RDWR));
    CHECK_OK("dup", fd2, dup(fd));
    CHECK("dup shares offset", lseek(fd, 3, SEEK_SET) == 3 && lseek(fd2, 0, SEEK_CUR) == 3);
    CHECK("dup clears cloexec", fcntl(fd2, F_GETFD) == 0);
    CHECK("close dup", close(fd2) == 0);
    CHECK("dup reuses lowest", dup(fd) == fd2);
    close(fd2);
    CHECK_ERR("dup bad fd", dup(999), EBADF);
    CHECK("dup2", dup2(fd, 100) == 100);
    CHECK("dup2 reads", read(100, buf, 2) == 2 && memcmp(buf, "lo", 2) == 0);
    CHECK("dup2 same fd", dup2(fd, fd) == fd);
    CHECK_ERR("dup2 same bad fd", dup2(999, 999), EBADF);
    CHECK_ERR("dup2 bad oldfd", dup2(999, 101), EBADF);
    CHECK_ERR("dup2 negative newfd", dup2(fd, -1), EBADF);
    CHECK("dup2 over open fd", dup2(fd, 100) == 100);
    CHECK_ERR("dup3 same fd", dup3(fd, fd, 0), EINVAL);
    CHECK_ERR("dup3 bad flags", dup3(fd, 102, O_APPEND), EINVAL);
    CHECK("dup3 O_CLOEXEC", dup3(fd, 102, O_CLOEXEC) == 102 && fcntl(102, F_GETFD) == FD_CLOEXEC);
    CHECK("dup2 clears cloexec", dup2(fd, 102) == 102 && fcntl(102, F_GETFD) == 0);
    close(100);
    close(102);
    CHECK_ERR("closed by close", fcntl(100, F_GETFD), EBADF);

    printf("F_GETFL O_RDWR = %#o\n", fcntl(fd, F_GETFL));
    CHECK("F_GETFL", fcntl(fd, F_GETFL) == (O_RDWR | KERNEL_O_LARGEFILE));
    CHECK("F_SETFL O_APPEND", fcntl(fd, F_SETFL, O_APPEND | O_RDONLY | O_TRUNC) == 0);
    printf("F_GETFL after F_SETFL = %#o\n", fcntl(fd, F_GETFL));
    CHECK("F_SETFL keeps access mode", fcntl(fd, F_GETFL) == (O_RDWR | KERNEL_O_LARGEFILE | O_APPEND));
    CHECK("F_SETFL append writes at end", lseek(fd, 0, SEEK_SET) == 0 && write(fd, "!", 1) == 1 &&
                                              lseek(fd, 0, SEEK_CUR) == 13);
    CHECK("F_SETFL O_NONBLOCK", fcntl(fd, F_SETFL, O_NONBLOCK) == 0 &&
                                    fcntl(fd, F_GETFL) == (O_RDWR | KERNEL_O_LARGEFILE | O_NONBLOCK));
    CHECK("read with O_NONBLOCK", pread(fd, buf, 5, 0) == 5);
    CHECK("F_SETFL clear", fcntl(fd, F_SETFL, 0) == 0 && fcntl(fd, F_GETFL) == (O_RDWR | KERNEL_O_LARGEFILE));
    CHECK("F_SETFD", fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC);
    CHECK("F_SETFD clear", fcntl(fd, F_SETFD, 0) == 0 && fcntl(fd, F_GETFD) == 0);
    CHECK_OK("F_DUPFD", fd2, fcntl(fd, F_DUPFD, 50));
    CHECK("F_DUPFD lowest >= arg", fd2 == 50 && fcntl(fd, F_DUPFD, 50) == 51);
    CHECK_OK("F_DUPFD_CLOEXEC", fd3, fcntl(fd, F_DUPFD_CLOEXEC, 50));
    CHECK("F_DUPFD_CLOEXEC flags", fd3 == 52 && fcntl(fd3, F_GETFD) == FD_CLOEXEC);
    close(50);
    close(51);
    close(52);
    CHECK_ERR("F_DUPFD huge", fcntl(fd, F_DUPFD, 1 << 30), EINVAL);
    CHECK_ERR("F_DUPFD negative", fcntl(fd, F_DUPFD, -1), EINVAL);
    CHECK_ERR("fcntl bad fd", fcntl(999, F_GETFL), EBADF);
    CHECK_ERR("fcntl bad cmd", fcntl(fd, 9999), EINVAL);

    int nread = -1;
    lseek(fd, 4, SEEK_SET);
    CHECK("FIONREAD on file", ioctl(fd, FIONREAD, &nread) == 0 && nread == 9);
    struct termios tio;
    CHECK_ERR("TCGETS on file", ioctl(fd, TCGETS, &tio), ENOTTY);
    struct winsize ws;
    CHECK_ERR("TIOCGWINSZ on file", ioctl(fd, TIOCGWINSZ, &ws), ENOTTY);
    CHECK("isatty on file", isatty(fd) == 0 && errno == ENOTTY);
    CHECK("FIOCLEX", ioctl(fd, FIOCLEX) == 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC);
    CHECK("FIONCLEX", ioctl(fd, FIONCLEX) == 0 && fcntl(fd, F_GETFD) == 0);
    int on = 1;
    CHECK("FIONBIO", ioctl(fd, FIONBIO, &on) == 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK));
    on = 0;
    CHECK("FIONBIO off", ioctl(fd, FIONBIO, &on) == 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK));
    CHECK_ERR("ioctl bad fd", ioctl(999, FIONREAD, &nread), EBADF);
    CHECK_ERR("ioctl unknown", ioctl(fd, 0x12345678, 0), ENOTTY);

    int dirfd = open(".", O_RDONLY | O_DIRECTORY);
    printf("F_GETFL directory = %#o\n", fcntl(dirfd, F_GETFL));
    CHECK_ERR("read on directory", read(dirfd, buf, sizeof buf), EISDIR);
    CHECK_ERR("write on directory fd", write(dirfd, buf, 1), EBADF);
    CHECK_ERR("FIONREAD on directory", ioctl(dirfd, FIONREAD, &nread), ENOTTY);
    close(dirfd);
    close(fd);

    int fds[2];
    CHECK("pipe", pipe(fds) == 0);
    CHECK_ERR("lseek on pipe", lseek(fds[0], 0, SEEK_SET), ESPIPE);
    CHECK_ERR("pread on pipe", pread(fds[0], buf, 1, 0), ESPIPE);
    CHECK_ERR("pwrite on pipe", pwrite(fds[1], buf, 1, 0), ESPIPE);
    CHECK_ERR("pread on pipe write end", pread(fds[1], buf, 1, 0), ESPIPE);
    close(fds[0]);
    close(fds[1]);
}

static void test_stat(void)
{
    struct stat st, st2;
    int fd;
    CHECK("raw stat", syscall(SYS_stat, "a.txt", &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 13 &&
                          st.st_nlink == 1 && (st.st_mode & 07777) == 0644);
    CHECK("raw fstat same inode", (fd = open("a.txt", O_RDONLY)) >= 0 && syscall(SYS_fstat, fd, &st2) == 0 &&
                                      st2.st_ino == st.st_ino && st2.st_dev == st.st_dev &&
                                      st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec);
    CHECK("stat blksize", st.st_blksize > 0 && st.st_blocks >= 0);
    CHECK("raw lstat symlink", syscall(SYS_lstat, "a.lnk", &st2) == 0 && S_ISLNK(st2.st_mode) &&
                                   st2.st_size == 5);
    CHECK("raw stat follows", syscall(SYS_stat, "a.lnk", &st2) == 0 && st2.st_ino == st.st_ino);
    CHECK("stat directory", stat(".", &st2) == 0 && S_ISDIR(st2.st_mode));
    CHECK("stat /dev/null", stat("/dev/null", &st2) == 0 && S_ISCHR(st2.st_mode) &&
                                st2.st_rdev == makedev(1, 3));
    CHECK_ERR("stat missing", syscall(SYS_stat, "missing", &st2), ENOENT);
    CHECK_ERR("stat under file", syscall(SYS_stat, "a.txt/x", &st2), ENOTDIR);
    CHECK_ERR("stat empty", syscall(SYS_stat, "", &st2), ENOENT);
    CHECK_ERR("stat NULL buf", syscall(SYS_stat, "a.txt", NULL), EFAULT);
    CHECK_ERR("fstat bad fd", syscall(SYS_fstat, 999, &st2), EBADF);
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK_ERR("stat long name", stat(longname, &st2), ENAMETOOLONG);
    char *longpath = malloc(5000);
    memset(longpath, 'p', 4999);
    longpath[4999] = 0;
    CHECK_ERR("stat path too long", stat(longpath, &st2), ENAMETOOLONG);
    free(longpath);

    CHECK("newfstatat", syscall(SYS_newfstatat, AT_FDCWD, "a.txt", &st2, 0) == 0 && st2.st_ino == st.st_ino);
    CHECK("newfstatat AT_SYMLINK_NOFOLLOW",
          syscall(SYS_newfstatat, AT_FDCWD, "a.lnk", &st2, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st2.st_mode));
    CHECK("newfstatat AT_EMPTY_PATH", syscall(SYS_newfstatat, fd, "", &st2, AT_EMPTY_PATH) == 0 &&
                                          st2.st_ino == st.st_ino);
    CHECK_ERR("newfstatat empty path", syscall(SYS_newfstatat, fd, "", &st2, 0), ENOENT);
    CHECK_ERR("newfstatat bad flags", syscall(SYS_newfstatat, AT_FDCWD, "a.txt", &st2, 0x1), EINVAL);
    CHECK_ERR("newfstatat relative to file", syscall(SYS_newfstatat, fd, "x", &st2, 0), ENOTDIR);
    CHECK_ERR("newfstatat relative to bad fd", syscall(SYS_newfstatat, 999, "x", &st2, 0), EBADF);
    CHECK("newfstatat absolute ignores dirfd", syscall(SYS_newfstatat, 999, "/", &st2, 0) == 0);

    struct statx stx;
    CHECK("statx", syscall(SYS_statx, AT_FDCWD, "a.txt", 0, STATX_BASIC_STATS, &stx) == 0 &&
                       (stx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS && stx.stx_size == 13 &&
                       stx.stx_ino == st.st_ino && S_ISREG(stx.stx_mode) && stx.stx_nlink == 1 &&
                       stx.stx_mtime.tv_sec == st.st_mtim.tv_sec &&
                       stx.stx_mtime.tv_nsec == (uint32_t)st.st_mtim.tv_nsec &&
                       makedev(stx.stx_dev_major, stx.stx_dev_minor) == st.st_dev);
    CHECK("statx AT_EMPTY_PATH", syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) == 0 &&
                                     stx.stx_ino == st.st_ino);
    CHECK("statx nofollow", syscall(SYS_statx, AT_FDCWD, "a.lnk", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS,
                                    &stx) == 0 && S_ISLNK(stx.stx_mode));
    CHECK_ERR("statx reserved mask", syscall(SYS_statx, AT_FDCWD, "a.txt", 0, 0x80000000u, &stx), EINVAL);
    CHECK_ERR("statx missing", syscall(SYS_statx, AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &stx), ENOENT);
    close(fd);
}

static void test_directories(void)
{
    int fd, dirfd, n;
    char buf[4096], cwd[PATH_MAX], here[PATH_MAX];
    struct stat st;

    CHECK("mkdir", mkdir("d", 0777) == 0 && stat("d", &st) == 0 && (st.st_mode & 0777) == 0755);
    CHECK_ERR("mkdir existing", mkdir("d", 0755), EEXIST);
    CHECK_ERR("mkdir in missing", mkdir("nodir/d", 0755), ENOENT);
    CHECK_ERR("raw mkdir under file", syscall(SYS_mkdir, "a.txt/d", 0755), ENOTDIR);
    CHECK_OK("open directory", dirfd, open("d", O_RDONLY | O_DIRECTORY));
    CHECK("mkdirat", mkdirat(dirfd, "sub", 0700) == 0 && fstatat(dirfd, "sub", &st, 0) == 0 &&
                         S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    CHECK_OK("openat relative to dirfd", fd, openat(dirfd, "f1", O_CREAT | O_WRONLY, 0644));
    close(fd);
    write_file("d/f2", "two");
    CHECK("symlinkat", symlinkat("f1", dirfd, "l1") == 0);
    CHECK_ERR("openat bad dirfd", openat(999, "f1", O_RDONLY), EBADF);
    CHECK_OK("openat absolute ignores dirfd", fd, openat(999, "/dev/null", O_RDONLY));
    close(fd);
    fd = open("a.txt", O_RDONLY);
    CHECK_ERR("openat relative to file", openat(fd, "x", O_RDONLY), ENOTDIR);

    /* getdents64 */
    n = syscall(SYS_getdents64, dirfd, buf, sizeof buf);
    CHECK("getdents64", n > 0);
    char *names[16];
    int count = 0;
    int64_t first_off = 0;
    for (int pos = 0; pos < n && count < 16;) {
        struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + pos);
        if (pos == 0)
            first_off = d->d_off;
        names[count] = malloc(300);
        snprintf(names[count], 300, "%s %c", d->d_name, type_letter(d->d_type));
        count++;
        pos += d->d_reclen;
    }
    qsort(names, count, sizeof names[0], compare_strings);
    for (int i = 0; i < count; i++) {
        printf("entry %s\n", names[i]);
        free(names[i]);
    }
    CHECK("getdents64 count", count == 6);
    CHECK("getdents64 at end", syscall(SYS_getdents64, dirfd, buf, sizeof buf) == 0);
    CHECK("getdents64 seek to cookie", lseek(dirfd, first_off, SEEK_SET) == first_off);
    n = syscall(SYS_getdents64, dirfd, buf, sizeof buf);
    int rest = 0;
    for (int pos = 0; pos < n; pos += ((struct linux_dirent64 *)(buf + pos))->d_reclen)
        rest++;
    CHECK("getdents64 after seek", rest == 5);
    CHECK("getdents64 rewind", lseek(dirfd, 0, SEEK_SET) == 0 && syscall(SYS_getdents64, dirfd, buf, sizeof buf) == n + ((struct linux_dirent64 *)buf)->d_reclen);
    lseek(dirfd, 0, SEEK_SET);
    CHECK_ERR("getdents64 tiny buffer", syscall(SYS_getdents64, dirfd, buf, 8), EINVAL);
    CHECK_ERR("getdents64 on file", syscall(SYS_getdents64, fd, buf, sizeof buf), ENOTDIR);
    CHECK_ERR("getdents64 bad fd", syscall(SYS_getdents64, 999, buf, sizeof buf), EBADF);
    CHECK_ERR("getdents64 bad buffer", syscall(SYS_getdents64, dirfd, NULL, sizeof buf), EFAULT);
    close(fd);

    /* many entries: readdir needs several getdents64 calls */
    mkdir("many", 0755);
    for (int i = 0; i < 300; i++) {
        char name[64];
        snprintf(name, sizeof name, "many/file-with-a-long-name-%03d", i);
        write_file(name, "");
    }
    DIR *dir = opendir("many");
    int seen = 0, dots = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        seen++;
        if (entry->d_name[0] == '.')
            dots++;
    }
    closedir(dir);
    CHECK("readdir many", seen == 302 && dots == 2);

    /* getcwd, chdir, fchdir */
    CHECK("getcwd", getcwd(cwd, sizeof cwd) != NULL && strcmp(cwd, topdir) == 0);
    CHECK("raw getcwd length", syscall(SYS_getcwd, here, sizeof here) == (long)strlen(topdir) + 1);
    CHECK_ERR("getcwd too small", syscall(SYS_getcwd, here, 3), ERANGE);
    CHECK_ERR("getcwd bad buffer", syscall(SYS_getcwd, NULL, sizeof here), EFAULT);
    CHECK("chdir", chdir("d") == 0 && getcwd(here, sizeof here) && strlen(here) == strlen(topdir) + 2 &&
                       strcmp(here + strlen(topdir), "/d") == 0);
    CHECK("relative open after chdir", access("f2", R_OK) == 0);
    CHECK("chdir ..", chdir("..") == 0 && getcwd(here, sizeof here) && strcmp(here, topdir) == 0);
    CHECK("symlink to directory", symlink("d", "dlink") == 0);
    CHECK("chdir through symlink", chdir("dlink/sub") == 0 && getcwd(here, sizeof here) &&
                                       strcmp(here + strlen(topdir), "/d/sub") == 0);
    CHECK("fchdir", fchdir(dirfd) == 0 && getcwd(here, sizeof here) && strcmp(here + strlen(topdir), "/d") == 0);
    fd = open("f2", O_RDONLY);
    CHECK_ERR("fchdir on file", fchdir(fd), ENOTDIR);
    CHECK_ERR("fchdir bad fd", fchdir(999), EBADF);
    close(fd);
    CHECK("chdir back", chdir(topdir) == 0);
    CHECK_ERR("chdir to file", chdir("a.txt"), ENOTDIR);
    CHECK_ERR("chdir missing", chdir("missing"), ENOENT);
    CHECK_ERR("chdir empty", chdir(""), ENOENT);

    /* rmdir, unlink */
    CHECK_ERR("rmdir non-empty", rmdir("d"), ENOTEMPTY);
    CHECK_ERR("rmdir file", rmdir("a.txt"), ENOTDIR);
    CHECK_ERR("rmdir missing", rmdir("missing"), ENOENT);
    CHECK_ERR("unlink directory", unlink("d"), EISDIR);
    CHECK_ERR("unlink missing", syscall(SYS_unlink, "missing"), ENOENT);
    CHECK("unlinkat file", unlinkat(dirfd, "f2", 0) == 0 && access("d/f2", F_OK) == -1 && errno == ENOENT);
    CHECK_ERR("unlinkat dir without AT_REMOVEDIR", unlinkat(dirfd, "sub", 0), EISDIR);
    CHECK("unlinkat AT_REMOVEDIR", unlinkat(dirfd, "sub", AT_REMOVEDIR) == 0);
    CHECK_ERR("unlinkat AT_REMOVEDIR on file", unlinkat(dirfd, "f1", AT_REMOVEDIR), ENOTDIR);
    CHECK_ERR("unlinkat bad flags", unlinkat(dirfd, "f1", 0x1), EINVAL);
    CHECK("raw rmdir", mkdir("empty", 0755) == 0 && syscall(SYS_rmdir, "empty") == 0);
    close(dirfd);
}

static void test_names(void)
{
    struct stat st, st2;
    char buf[256];
    int fd;

    /* rename */
    write_file("r1", "one");
    write_file("r2", "two");
    CHECK("rename", syscall(SYS_rename, "r1", "r3") == 0 && access("r1", F_OK) == -1 && access("r3", F_OK) == 0);
    CHECK_ERR("rename missing", rename("r1", "r4"), ENOENT);
    CHECK("rename over existing", rename("r3", "r2") == 0 && stat("r2", &st) == 0 && st.st_size == 3);
    CHECK_ERR("rename file over directory", rename("r2", "d"), EISDIR);
    CHECK_ERR("rename directory over file", rename("d", "r2"), ENOTDIR);
    mkdir("full", 0755);
    write_file("full/x", "");
    mkdir("emptydir", 0755);
    CHECK_ERR("rename directory over non-empty", rename("emptydir", "full"), ENOTEMPTY);
    CHECK("rename directory over empty", rename("full", "emptydir") == 0);
    int dirfd = open(".", O_RDONLY | O_DIRECTORY);
    CHECK("renameat", syscall(SYS_renameat, dirfd, "r2", AT_FDCWD, "r5") == 0);
    write_file("r6", "six");
    CHECK_ERR("renameat2 RENAME_NOREPLACE existing",
              syscall(SYS_renameat2, AT_FDCWD, "r5", AT_FDCWD, "r6", RENAME_NOREPLACE), EEXIST);
    CHECK("renameat2 RENAME_NOREPLACE",
          syscall(SYS_renameat2, AT_FDCWD, "r5", dirfd, "r7", RENAME_NOREPLACE) == 0);
    CHECK_ERR("renameat2 bad flags",
              syscall(SYS_renameat2, AT_FDCWD, "r7", AT_FDCWD, "r6", RENAME_NOREPLACE | RENAME_EXCHANGE), EINVAL);
    CHECK_ERR("renameat2 unknown flag", syscall(SYS_renameat2, AT_FDCWD, "r7", AT_FDCWD, "r6", 0x100), EINVAL);
    long r = syscall(SYS_renameat2, AT_FDCWD, "r7", AT_FDCWD, "r6", RENAME_EXCHANGE);
    if (r == 0) {
        CHECK("renameat2 RENAME_EXCHANGE", stat("r6", &st) == 0 && st.st_size == 3 && stat("r7", &st) == 0 &&
                                               st.st_size == 3);
        fd = open("r7", O_RDONLY);
        CHECK("exchanged contents", read(fd, buf, 3) == 3 && memcmp(buf, "six", 3) == 0);
        close(fd);
    } else {
        printf("RENAME_EXCHANGE: errno %d\n", errno);
    }

    /* hard links */
    CHECK("link", syscall(SYS_link, "r6", "h1") == 0 && stat("r6", &st) == 0 && st.st_nlink == 2 &&
                      stat("h1", &st2) == 0 && st2.st_ino == st.st_ino);
    CHECK_ERR("link existing", link("r6", "h1"), EEXIST);
    CHECK_ERR("link missing", link("missing", "h2"), ENOENT);
    CHECK_ERR("link directory", link("d", "h2"), EPERM);
    CHECK("symlink for link", symlink("r6", "s1") == 0);
    CHECK("link does not follow", link("s1", "h2") == 0 && lstat("h2", &st2) == 0 && S_ISLNK(st2.st_mode));
    CHECK("linkat AT_SYMLINK_FOLLOW", linkat(AT_FDCWD, "s1", dirfd, "h3", AT_SYMLINK_FOLLOW) == 0 &&
                                          lstat("h3", &st2) == 0 && S_ISREG(st2.st_mode) && st2.st_nlink == 3);
    CHECK_ERR("linkat bad flags", linkat(AT_FDCWD, "r6", AT_FDCWD, "h4", 0x1), EINVAL);

    /* symlinks and readlink */
    CHECK("raw symlink", syscall(SYS_symlink, "no/such/target", "dangling") == 0);
    CHECK_ERR("symlink existing", symlink("x", "dangling"), EEXIST);
    CHECK_ERR("symlink empty target", symlink("", "emptylink"), ENOENT);
    CHECK_ERR("stat dangling", stat("dangling", &st), ENOENT);
    CHECK("lstat dangling", lstat("dangling", &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 14);
    memset(buf, 'X', sizeof buf);
    CHECK("raw readlink", syscall(SYS_readlink, "dangling", buf, sizeof buf) == 14 &&
                              memcmp(buf, "no/such/target", 14) == 0 && buf[14] == 'X');
    CHECK("readlink truncates", readlink("dangling", buf, 5) == 5 && memcmp(buf, "no/su", 5) == 0);
    CHECK_ERR("readlink zero size", readlink("dangling", buf, 0), EINVAL);
    CHECK_ERR("readlink on file", readlink("r6", buf, sizeof buf), EINVAL);
    CHECK_ERR("readlink missing", readlink("missing", buf, sizeof buf), ENOENT);
    CHECK("readlinkat", readlinkat(dirfd, "s1", buf, sizeof buf) == 2 && memcmp(buf, "r6", 2) == 0);

    char exe[PATH_MAX], *real;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK("readlink /proc/self/exe", n > 0);
    exe[n > 0 ? n : 0] = 0;
    real = realpath("/proc/self/exe", NULL);
    CHECK("/proc/self/exe is this program", real != NULL && strcmp(real, exe) == 0 &&
                                                strstr(exe, "/testbins/files") != NULL);
    free(real);
    fd = open("r7", O_RDONLY);
    char link[64], want[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    snprintf(want, sizeof want, "%s/r7", topdir);
    n = readlink(link, buf, sizeof buf - 1);
    CHECK("readlink /proc/self/fd/N", n == (ssize_t)strlen(want) && memcmp(buf, want, n) == 0);
    int fd2 = open(link, O_RDONLY);
    CHECK("open /proc/self/fd/N", fd2 >= 0 && read(fd2, buf, 3) == 3 && memcmp(buf, "six", 3) == 0);
    CHECK("reopen has its own offset", lseek(fd, 0, SEEK_CUR) == 0);
    close(fd2);
    close(fd);
    close(dirfd);
}

static void test_permissions(void)
{
    struct stat st;
    int fd;
    mode_t old;

    old = umask(077);
    CHECK("umask returns old", umask(077) == 077);
    CHECK_OK("create under umask", fd, open("u1", O_CREAT | O_WRONLY, 0666));
    CHECK("umask applied", fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600);
    close(fd);
    CHECK("mkdir under umask", mkdir("u2", 0777) == 0 && stat("u2", &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK("umask masks", umask(01777) == 077 && umask(022) == 0777);
    umask(old);

    CHECK("raw chmod", syscall(SYS_chmod, "u1", 0640) == 0 && stat("u1", &st) == 0 &&
                           (st.st_mode & 07777) == 0640);
    CHECK("chmod setuid bits", chmod("u1", 04755) == 0 && stat("u1", &st) == 0 && (st.st_mode & 07777) == 04755);
    fd = open("u1", O_RDONLY);
    CHECK("fchmod", fchmod(fd, 0604) == 0 && fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0604);
    CHECK_ERR("fchmod bad fd", fchmod(999, 0600), EBADF);
    int dirfd = open(".", O_RDONLY | O_DIRECTORY);
    CHECK("fchmodat", syscall(SYS_fchmodat, dirfd, "u1", 0644) == 0 && stat("u1", &st) == 0 &&
                          (st.st_mode & 07777) == 0644);
    CHECK_ERR("chmod missing", chmod("missing", 0644), ENOENT);

    CHECK("access F_OK", syscall(SYS_access, "u1", F_OK) == 0);
    CHECK("access R_OK|W_OK", access("u1", R_OK | W_OK) == 0);
    CHECK_ERR("access X_OK without x bits", access("u1", X_OK), EACCES);
    CHECK_ERR("access missing", access("missing", F_OK), ENOENT);
    CHECK_ERR("access under file", access("u1/x", F_OK), ENOTDIR);
    CHECK_ERR("access bad mode", syscall(SYS_access, "u1", 8), EINVAL);
    CHECK("access directory X_OK", access("d", X_OK) == 0);
    CHECK("faccessat", syscall(SYS_faccessat, dirfd, "u1", R_OK) == 0);
    CHECK("faccessat2 AT_EACCESS", syscall(SYS_faccessat2, dirfd, "u1", R_OK, AT_EACCESS) == 0);
    CHECK("faccessat2 AT_SYMLINK_NOFOLLOW dangling",
          syscall(SYS_faccessat2, AT_FDCWD, "dangling", F_OK, AT_SYMLINK_NOFOLLOW) == 0);
    CHECK_ERR("faccessat2 follows dangling", syscall(SYS_faccessat2, AT_FDCWD, "dangling", F_OK, 0), ENOENT);
    CHECK_ERR("faccessat2 bad flags", syscall(SYS_faccessat2, AT_FDCWD, "u1", F_OK, 0x1), EINVAL);
    CHECK("faccessat2 AT_EMPTY_PATH", syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH) == 0);
    chmod("u1", 0444);
    /* root may write anyway: the answer must only agree with the kernel's */
    int w = access("u1", W_OK);
    CHECK("access W_OK on read-only file", geteuid() == 0 ? w == 0 : (w == -1 && errno == EACCES));
    close(fd);

    /* truncate */
    write_file("t1", "0123456789");
    CHECK("raw truncate", syscall(SYS_truncate, "t1", 4) == 0 && stat("t1", &st) == 0 && st.st_size == 4);
    CHECK_ERR("truncate negative", truncate("t1", -1), EINVAL);
    CHECK_ERR("truncate directory", truncate("d", 0), EISDIR);
    CHECK_ERR("truncate missing", truncate("missing", 0), ENOENT);
    fd = open("t1", O_RDWR);
    char buf[16];
    CHECK("ftruncate grows", ftruncate(fd, 8) == 0 && fstat(fd, &st) == 0 && st.st_size == 8);
    CHECK("ftruncate zero fill", pread(fd, buf, 8, 0) == 8 && memcmp(buf, "0123\0\0\0\0", 8) == 0);
    CHECK_ERR("ftruncate negative", ftruncate(fd, -1), EINVAL);
    CHECK("fsync", fsync(fd) == 0);
    CHECK("fdatasync", fdatasync(fd) == 0);
    close(fd);
    fd = open("t1", O_RDONLY);
    CHECK_ERR("ftruncate on O_RDONLY", ftruncate(fd, 0), EINVAL);
    close(fd);
    CHECK_ERR("ftruncate bad fd", ftruncate(999, 0), EBADF);
    CHECK_ERR("fsync bad fd", fsync(999), EBADF);
    int fds[2];
    CHECK("pipe for fsync", pipe(fds) == 0);
    CHECK_ERR("fsync pipe", fsync(fds[0]), EINVAL);
    close(fds[0]);
    close(fds[1]);

    /* utimensat */
    struct timespec times[2] = {{1000000000, 123456789}, {1500000000, 0}};
    CHECK("utimensat", utimensat(AT_FDCWD, "t1", times, 0) == 0 && stat("t1", &st) == 0 &&
                           st.st_atim.tv_sec == 1000000000 && st.st_atim.tv_nsec == 123456789 &&
                           st.st_mtim.tv_sec == 1500000000 && st.st_mtim.tv_nsec == 0);
    struct timespec omit_now[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    time_t before = time(NULL);
    CHECK("utimensat UTIME_OMIT/UTIME_NOW", utimensat(dirfd, "t1", omit_now, 0) == 0 && stat("t1", &st) == 0 &&
                                                 st.st_atim.tv_sec == 1000000000 &&
                                                 st.st_mtim.tv_sec >= before - 1 && st.st_mtim.tv_sec <= time(NULL) + 1);
    CHECK("utimensat NULL times", utimensat(AT_FDCWD, "t1", NULL, 0) == 0 && stat("t1", &st) == 0 &&
                                      st.st_atim.tv_sec >= before - 1);
    fd = open("t1", O_RDONLY);
    CHECK("futimens", futimens(fd, times) == 0 && fstat(fd, &st) == 0 && st.st_mtim.tv_sec == 1500000000);
    CHECK_ERR("futimens flags", syscall(SYS_utimensat, fd, NULL, times, AT_SYMLINK_NOFOLLOW), EINVAL);
    CHECK("utimensat AT_EMPTY_PATH", utimensat(fd, "", omit_now, AT_EMPTY_PATH) == 0 && fstat(fd, &st) == 0 &&
                                         st.st_mtim.tv_sec >= before - 1);
    close(fd);
    CHECK("utimensat AT_SYMLINK_NOFOLLOW", utimensat(AT_FDCWD, "dangling", times, AT_SYMLINK_NOFOLLOW) == 0 &&
                                               lstat("dangling", &st) == 0 && st.st_mtim.tv_sec == 1500000000);
    CHECK_ERR("utimensat follows dangling", utimensat(AT_FDCWD, "dangling", times, 0), ENOENT);
    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    CHECK_ERR("utimensat bad nsec", utimensat(AT_FDCWD, "t1", bad, 0), EINVAL);
    CHECK_ERR("utimensat bad nsec missing file", utimensat(AT_FDCWD, "missing", bad, 0), ENOENT);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    CHECK("utimensat both omit", utimensat(AT_FDCWD, "missing", omit, 0) == 0);
    CHECK_ERR("utimensat bad flags", utimensat(AT_FDCWD, "t1", times, 0x1), EINVAL);
    CHECK_ERR("utimensat NULL path AT_FDCWD", syscall(SYS_utimensat, AT_FDCWD, NULL, times, 0), EFAULT);
    close(dirfd);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    strcpy(topdir, FILES_BASE "/pykern-files-XXXXXX");
    if (!mkdtemp(topdir)) {
        perror("mkdtemp");
        return 1;
    }
    atexit(cleanup);
    char *real = realpath(topdir, NULL);  /* /tmp may itself be a symlink */
    if (!real || strlen(real) >= sizeof topdir)
        return 1;
    strcpy(topdir, real);
    free(real);
    if (chdir(topdir) != 0) {
        perror("chdir");
        return 1;
    }
    umask(022);

    test_open_read_write();
    test_vectors();
    test_descriptors();
    test_stat();
    test_directories();
    test_names();
    test_permissions();
    test_close_range();

    printf("files: %d checks passed\n", checks);
    return 0;
}

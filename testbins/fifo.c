/* fifo: named pipes (fifo(7)) and the open rules of fs/fifo.c, between processes.
 *
 * mkfifo and mknod(S_IFIFO); O_RDONLY|O_NONBLOCK opens with no writer, O_WRONLY|O_NONBLOCK
 * is ENXIO with no reader; a blocking open waits for the other side (shown by a marker
 * the other process writes before its open); O_RDWR never waits; data, EOF, unlink while
 * open, fstat of an end, two readers, EPIPE and SIGPIPE, a signal ending a waiting open
 * (EINTR, or a restart with SA_RESTART), poll's answers on FIFO ends, and reopening an
 * anonymous pipe through /proc/self/fd/N and /dev/fd/N (never waits, never ENXIO).
 * Deterministic: whenever order matters a process waits for a byte on a pipe. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errcheck.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int wait_status(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* Bytes waiting in a pipe (the marker a process leaves before its FIFO open). */
static int pending(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0);
}

static short revents(int fd, short events)
{
    struct pollfd p = {fd, events, 0};
    if (poll(&p, 1, 0) < 0)
        return -1;
    return p.revents;
}

static void test_make(void)
{
    int r;
    struct stat st;
    OK("mkfifo", r, mkfifo("f", 0600));
    TRUE("stat: S_ISFIFO, mode, size 0", stat("f", &st) == 0 && S_ISFIFO(st.st_mode) &&
                                             (st.st_mode & 0777) == 0600 && st.st_size == 0);
    ERR("mkfifo existing", mkfifo("f", 0600), EEXIST);
    OK("mknod S_IFIFO", r, mknod("g", S_IFIFO | 0640, 0));
    TRUE("mknod made a FIFO", lstat("g", &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0640);
    OK("mknodat S_IFIFO", r, mknodat(AT_FDCWD, "h", S_IFIFO | 0600, makedev(1, 2)));
    TRUE("a FIFO has no rdev", stat("h", &st) == 0 && S_ISFIFO(st.st_mode) && st.st_rdev == 0);
    OK("unlink a FIFO", r, unlink("h"));
    ERR("mkfifo in a missing directory", mkfifo("nodir/f", 0600), ENOENT);
    ERR("mkfifo under a FIFO", mkfifo("f/x", 0600), ENOTDIR);
}

static void test_nonblocking_opens(void)
{
    int r, w, r2;
    ERR("O_WRONLY|O_NONBLOCK, no reader: ENXIO", open("f", O_WRONLY | O_NONBLOCK), ENXIO);
    OK("O_RDONLY|O_NONBLOCK, no writer", r, open("f", O_RDONLY | O_NONBLOCK));
    char buf[8];
    TRUE("read with no writer ever: 0", read(r, buf, sizeof buf) == 0);
    TRUE("poll of a reader that never had a writer: nothing", revents(r, POLLIN) == 0);
    OK("O_WRONLY|O_NONBLOCK with a reader", w, open("f", O_WRONLY | O_NONBLOCK));
    TRUE("poll of the writer: POLLOUT", revents(w, POLLIN | POLLOUT) == POLLOUT);
    TRUE("write 3", write(w, "abc", 3) == 3);
    TRUE("poll of the reader: POLLIN", revents(r, POLLIN) == POLLIN);
    OK("a second reader", r2, open("f", O_RDONLY | O_NONBLOCK));
    TRUE("first reader reads 1", read(r, buf, 1) == 1 && buf[0] == 'a');
    TRUE("second reader reads the rest", read(r2, buf, sizeof buf) == 2 && !memcmp(buf, "bc", 2));
    TRUE("empty, writer open: EAGAIN", read(r, buf, 1) == -1 && errno == EAGAIN);
    TRUE("F_GETFL of the reader", (fcntl(r, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDONLY | O_NONBLOCK));
    struct stat st, fst;
    TRUE("fstat of an end: the FIFO's inode", stat("f", &st) == 0 && fstat(w, &fst) == 0 &&
                                                 S_ISFIFO(fst.st_mode) && fst.st_ino == st.st_ino &&
                                                 fst.st_dev == st.st_dev);
    TRUE("lseek on a FIFO: ESPIPE", lseek(r, 0, SEEK_SET) == -1 && errno == ESPIPE);
    close(w);
    TRUE("after the writer left: POLLHUP", revents(r, POLLIN) == POLLHUP);
    TRUE("EOF", read(r, buf, 1) == 0);
    close(r2);
    close(r);
    ERR("ENXIO again once the readers closed", open("f", O_WRONLY | O_NONBLOCK), ENXIO);

    OK("reader again", r, open("f", O_RDONLY | O_NONBLOCK));
    OK("writer again", w, open("f", O_WRONLY | O_NONBLOCK));
    TRUE("write", write(w, "zz", 2) == 2);
    close(w);
    close(r);
    OK("reader after all closed", r, open("f", O_RDONLY | O_NONBLOCK));
    TRUE("the data went with the last close", read(r, buf, sizeof buf) == 0);
    close(r);
}

static void test_rdwr(void)
{
    int fd, r;
    char buf[8];
    OK("O_RDWR never waits", fd, open("f", O_RDWR));
    TRUE("write and read through one O_RDWR end", write(fd, "xy", 2) == 2 && read(fd, buf, 8) == 2 &&
                                                     !memcmp(buf, "xy", 2));
    TRUE("poll of an O_RDWR end: POLLOUT", revents(fd, POLLIN | POLLOUT) == POLLOUT);
    OK("O_WRONLY|O_NONBLOCK with an O_RDWR reader", r, open("f", O_WRONLY | O_NONBLOCK));
    close(r);
    OK("unlink while open", r, unlink("f"));
    TRUE("still works after unlink", write(fd, "q", 1) == 1 && read(fd, buf, 8) == 1 && buf[0] == 'q');
    struct stat st;
    TRUE("fstat after unlink: S_ISFIFO, nlink 0", fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_nlink == 0);
    close(fd);
    OK("mkfifo again", r, mkfifo("f", 0600));
}

/* A blocking open waits: the child sleeps, then writes a marker to `sync` (and closes
 * it) just before its own open, so the parent finds the marker once its open returns. */
static void test_blocking_open(void)
{
    int sync[2], fd, r;
    char buf[16];
    OK("pipe", r, pipe(sync));
    pid_t pid = fork();
    if (pid == 0) {
        close(sync[0]);
        sleep_ms(50);
        (void)!write(sync[1], "m", 1);
        close(sync[1]);
        int w = open("f", O_WRONLY);
        (void)!write(w, "hello", 5);
        _exit(w < 0);
    }
    close(sync[1]);
    OK("blocking O_RDONLY waits for the writer", fd, open("f", O_RDONLY));
    TRUE("the writer opened first", pending(sync[0]) == 1);
    int n = 0, got;
    while ((got = read(fd, buf + n, sizeof buf - n)) > 0)
        n += got;
    TRUE("data flowed, then EOF after the writer closed", got == 0 && n == 5 && !memcmp(buf, "hello", 5));
    int status = wait_status(pid);
    TRUE("the writer exited 0", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd);
    close(sync[0]);

    OK("pipe", r, pipe(sync));
    pid = fork();
    if (pid == 0) {
        close(sync[0]);
        sleep_ms(50);
        (void)!write(sync[1], "m", 1);
        close(sync[1]);
        int rd = open("f", O_RDONLY);
        int k = read(rd, buf, sizeof buf);
        _exit(k == 3 && !memcmp(buf, "abc", 3) ? 0 : 1);
    }
    close(sync[1]);
    OK("blocking O_WRONLY waits for the reader", fd, open("f", O_WRONLY));
    TRUE("the reader opened first", pending(sync[0]) == 1);
    TRUE("write to the reader", write(fd, "abc", 3) == 3);
    close(fd);
    status = wait_status(pid);
    TRUE("the reader got the data", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(sync[0]);
}

static void test_epipe(void)
{
    int r, w;
    OK("reader", r, open("f", O_RDONLY | O_NONBLOCK));
    OK("writer", w, open("f", O_WRONLY | O_NONBLOCK));
    close(r);
    TRUE("poll of a writer without reader: POLLOUT|POLLERR", revents(w, POLLOUT) == (POLLOUT | POLLERR));
    signal(SIGPIPE, SIG_IGN);
    ERR("write without reader: EPIPE", write(w, "x", 1), EPIPE);
    signal(SIGPIPE, SIG_DFL);
    pid_t pid = fork();
    if (pid == 0) {
        (void)!write(w, "x", 1);
        _exit(0);
    }
    int status = wait_status(pid);
    TRUE("write without reader: SIGPIPE kills", WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE);
    close(w);
}

static int alarm_pipe = -1;
static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
    if (alarm_pipe >= 0)
        (void)!write(alarm_pipe, "a", 1);
}

static void arm_timer(int ms)
{
    struct itimerval it = {{0, 0}, {0, ms * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void test_interrupted_open(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART */
    arm_timer(50);
    ERR("a signal ends a waiting O_RDONLY open: EINTR", open("f", O_RDONLY), EINTR);
    TRUE("the handler ran", alarms == 1);
    ERR("the interrupted reader is gone: ENXIO", open("f", O_WRONLY | O_NONBLOCK), ENXIO);
    int r;
    OK("reader", r, open("f", O_RDONLY | O_NONBLOCK));
    arm_timer(50);
    int w;
    OK("O_WRONLY with a reader does not wait", w, open("f", O_WRONLY));
    close(w);
    close(r);
    arm_timer(0);
    alarms = 0;
    /* with a reader that went away, a blocking writer waits again: EINTR */
    arm_timer(50);
    ERR("a signal ends a waiting O_WRONLY open: EINTR", open("f", O_WRONLY), EINTR);

    /* SA_RESTART: the open goes on waiting after the handler; the handler's byte lets
     * the child open the writer only after the signal came. */
    int sync[2];
    OK("pipe", r, pipe(sync));
    alarm_pipe = sync[1];
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    alarms = 0;
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        alarm_pipe = -1;
        (void)!read(sync[0], &c, 1);
        int w2 = open("f", O_WRONLY);
        _exit(w2 < 0);
    }
    arm_timer(50);
    int fd;
    OK("with SA_RESTART the open is restarted and completes", fd, open("f", O_RDONLY));
    TRUE("after the handler ran once", alarms == 1);
    int status = wait_status(pid);
    TRUE("the writer exited 0", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd);
    close(sync[0]);
    close(sync[1]);
    alarm_pipe = -1;
    signal(SIGALRM, SIG_DFL);
}

/* /proc/self/fd/N and /dev/fd/N of an anonymous pipe: fifo_open's is_pipe, so never a
 * wait and never ENXIO (bash's process substitution opens /dev/fd/63 this way). */
static void test_reopen_pipe(void)
{
    int p[2], fd, r;
    char path[64], buf[8];
    OK("pipe", r, pipe(p));
    TRUE("write into the pipe", write(p[1], "hi", 2) == 2);
    close(p[1]);
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
    OK("open /proc/self/fd/N of a pipe for reading, no writer: no wait", fd, open(path, O_RDONLY));
    TRUE("reads the pipe's data", read(fd, buf, sizeof buf) == 2 && !memcmp(buf, "hi", 2));
    TRUE("then EOF", read(fd, buf, sizeof buf) == 0);
    struct stat a, b;
    TRUE("the same pipe inode", fstat(fd, &a) == 0 && fstat(p[0], &b) == 0 && a.st_ino == b.st_ino &&
                                    S_ISFIFO(a.st_mode));
    close(fd);
    snprintf(path, sizeof path, "/dev/fd/%d", p[0]);
    OK("open /dev/fd/N of a pipe for reading", fd, open(path, O_RDONLY));
    close(fd);
    OK("open /dev/fd/N of a pipe for writing: no ENXIO, no wait", fd, open(path, O_WRONLY | O_NONBLOCK));
    TRUE("and the read end sees its data", write(fd, "k", 1) == 1 && read(p[0], buf, 1) == 1 && buf[0] == 'k');
    close(fd);
    close(p[0]);

    OK("pipe", r, pipe(p));
    close(p[0]);
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
    OK("open the write end again, no reader: no wait", fd, open(path, O_WRONLY));
    signal(SIGPIPE, SIG_IGN);
    ERR("writing it: EPIPE", write(fd, "x", 1), EPIPE);
    signal(SIGPIPE, SIG_DFL);
    close(fd);
    close(p[1]);
}

int main(void)
{
    enter_tmpdir("fifo");
    test_make();
    test_nonblocking_opens();
    test_rdwr();
    test_blocking_open();
    test_epipe();
    test_interrupted_open();
    test_reopen_pipe();
    printf("fifo: all checks passed\n");
    return 0;
}

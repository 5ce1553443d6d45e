/* inotify: watches on a directory and on files in it, and the events that the changes
 * made by this process (and a child) produce, compared with Linux.
 *
 * After each step the queued events are read and printed: the watch (by name), the
 * event bits, the entry name, and for a move whether IN_MOVED_FROM and IN_MOVED_TO share
 * one non-zero cookie. Steps: create/write/close, open O_RDONLY, O_TRUNC, chmod, utimes,
 * truncate, mkdir/rmdir, symlink, link, unlink (IN_ATTRIB, IN_DELETE_SELF, IN_IGNORED),
 * rename within and across directories, a rename that replaces a file, equal events
 * merged, IN_MASK_ADD and IN_MASK_CREATE, IN_ONLYDIR, IN_ONESHOT, inotify_rm_watch,
 * IN_NONBLOCK (EAGAIN), IN_CLOEXEC, a read buffer too small (EINVAL), FIONREAD, poll and
 * epoll readiness, a read that blocks until a child writes, and the errors of the calls.
 * Works in a fresh /tmp/pykern-inotify-XXXXXX. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "errcheck.h"

static int in_fd;
static const char *wd_names[64];

static void name_wd(int wd, const char *name)
{
    if (wd > 0 && wd < 64)
        wd_names[wd] = name;
}

static const struct {
    uint32_t bit;
    const char *name;
} bits[] = {
    {IN_ACCESS, "ACCESS"},         {IN_MODIFY, "MODIFY"},       {IN_ATTRIB, "ATTRIB"},
    {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
    {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},   {IN_CREATE, "CREATE"},
    {IN_DELETE, "DELETE"},         {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
    {IN_UNMOUNT, "UNMOUNT"},       {IN_Q_OVERFLOW, "Q_OVERFLOW"}, {IN_IGNORED, "IGNORED"},
    {IN_ISDIR, "ISDIR"},
};

/* Read and print every queued event (the fd is non-blocking). */
static void drain(const char *step)
{
    char buf[8192] __attribute__((aligned(8)));
    uint32_t cookie = 0;
    printf("-- %s\n", step);
    for (;;) {
        long n = read(in_fd, buf, sizeof buf);
        if (n < 0) {
            if (errno != EAGAIN)
                printf("read: errno %d\n", errno);
            break;
        }
        for (long pos = 0; pos < n;) {
            struct inotify_event *ev = (struct inotify_event *)(buf + pos);
            const char *who = ev->wd > 0 && ev->wd < 64 && wd_names[ev->wd] ? wd_names[ev->wd] : "?";
            printf("  %s:", ev->wd == -1 ? "-1" : who);
            for (unsigned i = 0; i < sizeof bits / sizeof bits[0]; i++)
                if (ev->mask & bits[i].bit)
                    printf(" %s", bits[i].name);
            if (ev->len)
                printf(" \"%s\" (len %u)", ev->name, ev->len);
            if (ev->mask & IN_MOVED_FROM)
                cookie = ev->cookie, printf(" cookie %s", cookie ? "set" : "0");
            else if (ev->mask & IN_MOVED_TO)
                printf(" cookie %s", ev->cookie == cookie && cookie ? "same" : "different");
            else if (ev->cookie)
                printf(" cookie %u", ev->cookie);
            printf("\n");
            pos += sizeof *ev + ev->len;
        }
    }
    fflush(stdout);
}

static void write_file(const char *path, const char *text, int flags)
{
    int fd = open(path, O_WRONLY | flags, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (long)strlen(text) || close(fd) != 0)
        check_failed("write_file", path, fd, errno, __LINE__);
}

int main(void)
{
    int fd, wd, wd2;
    umask(022);
    enter_tmpdir("inotify");
    mkdir("d", 0755);
    mkdir("other", 0755);
    write_file("d/old", "old\n", O_CREAT);

    ERR("init1 bad flags", inotify_init1(1), EINVAL);
    OK("inotify_init1", in_fd, inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    TRUE("IN_CLOEXEC", fcntl(in_fd, F_GETFD) == FD_CLOEXEC);
    TRUE("IN_NONBLOCK", fcntl(in_fd, F_GETFL) & O_NONBLOCK);
    char buf[256];
    ERR("empty queue: EAGAIN", read(in_fd, buf, sizeof buf), EAGAIN);

    OK("watch d", wd, inotify_add_watch(in_fd, "d", IN_ALL_EVENTS));
    name_wd(wd, "d");
    OK("watch other", wd2, inotify_add_watch(in_fd, "other", IN_CREATE | IN_DELETE | IN_MOVE));
    name_wd(wd2, "other");
    int wd_old;
    OK("watch d/old", wd_old, inotify_add_watch(in_fd, "d/old", IN_ALL_EVENTS));
    name_wd(wd_old, "old");
    TRUE("distinct wds", wd != wd2 && wd2 != wd_old && wd != wd_old);
    int same;
    OK("same inode, same wd", same, inotify_add_watch(in_fd, "d/../d", IN_ALL_EVENTS));
    TRUE("same wd", same == wd);

    write_file("d/new", "hello\n", O_CREAT | O_EXCL);
    drain("create, write, close");

    fd = open("d/new", O_RDONLY);
    TRUE("read", read(fd, buf, sizeof buf) == 6);
    TRUE("read at EOF", read(fd, buf, sizeof buf) == 0);
    close(fd);
    drain("open, read, close");

    fd = open("d/old", O_RDWR);
    TRUE("read old", read(fd, buf, 2) == 2);
    TRUE("write old", write(fd, "x", 1) == 1);
    TRUE("write old again", write(fd, "y", 1) == 1);
    TRUE("pwrite old", pwrite(fd, "z", 1, 0) == 1);
    int fd2 = dup(fd);
    close(fd);
    drain("writes merge; close of a dup'd fd");
    close(fd2);
    drain("last close");

    write_file("d/old", "", O_TRUNC);
    drain("O_TRUNC");

    chmod("d/old", 0600);
    drain("chmod");
    struct timeval tv[2] = {{1, 0}, {2, 0}};
    utimes("d/old", tv);
    drain("utimes");
    truncate("d/old", 1);
    drain("truncate");

    mkdir("d/sub", 0755);
    int wd_sub;
    OK("watch d/sub", wd_sub, inotify_add_watch(in_fd, "d/sub", IN_ALL_EVENTS));
    name_wd(wd_sub, "sub");
    rmdir("d/sub");
    drain("mkdir, rmdir a watched directory");

    symlink("new", "d/link");
    drain("symlink");
    link("d/new", "d/hard");
    drain("link");
    unlink("d/hard");
    drain("unlink of one of two links");
    unlink("d/link");
    drain("unlink a symlink");

    unlink("d/old");
    drain("unlink a watched file");

    rename("d/new", "d/renamed");
    drain("rename in one directory");
    rename("d/renamed", "other/moved");
    drain("rename to another directory");
    rename("other/moved", "d/back");
    drain("rename back");

    write_file("d/victim", "v\n", O_CREAT);
    int wd_victim;
    OK("watch d/victim", wd_victim, inotify_add_watch(in_fd, "d/victim", IN_ATTRIB | IN_DELETE_SELF));
    name_wd(wd_victim, "victim");
    drain("victim made");
    rename("d/back", "d/victim");
    drain("rename over a watched file");

    int wd_back;
    OK("watch d/victim", wd_back, inotify_add_watch(in_fd, "d/victim", IN_MOVE_SELF | IN_ATTRIB));
    name_wd(wd_back, "victim");
    rename("d/victim", "d/back2");
    drain("rename a watched file");
    rename("d/back2", "d/back");
    drain("and back");

    /* an unlinked file still open: IN_DELETE_SELF waits for the last close */
    write_file("d/held", "h\n", O_CREAT);
    int wd_held;
    OK("watch d/held", wd_held, inotify_add_watch(in_fd, "d/held", IN_ALL_EVENTS));
    name_wd(wd_held, "held");
    int held = open("d/held", O_RDONLY);
    int held2 = dup(held);
    drain("held open");
    unlink("d/held");
    drain("unlink of an open watched file");
    close(held);
    drain("one fd of two closed");
    close(held2);
    drain("last close");

    /* copy_file_range and sendfile write too */
    write_file("d/src", "copied\n", O_CREAT);
    drain("source made");
    int src = open("d/src", O_RDONLY), dst = open("d/dst", O_WRONLY | O_CREAT, 0644);
    TRUE("copy_file_range", copy_file_range(src, NULL, dst, NULL, 7, 0) == 7);
    close(src);
    close(dst);
    drain("copy_file_range");

    /* chown and xattrs change attributes; chown(-1, -1) changes none */
    chown("d/src", getuid(), -1);
    chown("d/src", -1, -1);
    fd = open("d/src", O_RDONLY);
    fchown(fd, -1, getgid());
    close(fd);
    drain("chown, chown(-1, -1), fchown");
    if (setxattr("d/src", "user.pykern", "v", 1, 0) == 0)
        removexattr("d/src", "user.pykern");
    drain("setxattr, removexattr");

    /* RENAME_EXCHANGE: two moves */
    write_file("other/swap", "", O_CREAT);
    mkdir("d/swapdir", 0755);
    drain("swap candidates");
    TRUE("RENAME_EXCHANGE", syscall(SYS_renameat2, AT_FDCWD, "other/swap", AT_FDCWD, "d/swapdir", 2) == 0);
    drain("RENAME_EXCHANGE");
    rmdir("other/swap");
    unlink("d/swapdir");
    drain("swap removed");

    /* the watch's mask */
    OK("IN_MASK_ADD", same, inotify_add_watch(in_fd, "other", IN_ATTRIB | IN_MASK_ADD));
    TRUE("IN_MASK_ADD keeps the wd", same == wd2);
    chmod("other", 0700);
    write_file("other/f", "", O_CREAT);
    drain("mask added: ATTRIB and CREATE");
    OK("replace mask", same, inotify_add_watch(in_fd, "other", IN_DELETE));
    write_file("other/g", "", O_CREAT);
    unlink("other/g");
    drain("mask replaced: DELETE only");
    ERR("IN_MASK_CREATE on a watched inode", inotify_add_watch(in_fd, "other", IN_DELETE | IN_MASK_CREATE), EEXIST);
    ERR("IN_MASK_ADD|IN_MASK_CREATE", inotify_add_watch(in_fd, "d", IN_DELETE | IN_MASK_ADD | IN_MASK_CREATE),
        EINVAL);
    ERR("IN_ONLYDIR on a file", inotify_add_watch(in_fd, "other/f", IN_MODIFY | IN_ONLYDIR), ENOTDIR);
    ERR("no event bits", inotify_add_watch(in_fd, "d", 0), EINVAL);
    ERR("missing path", inotify_add_watch(in_fd, "nothing", IN_MODIFY), ENOENT);
    ERR("not an inotify fd", inotify_add_watch(0, "d", IN_MODIFY), EINVAL);
    ERR("bad fd", inotify_add_watch(99, "d", IN_MODIFY), EBADF);
    ERR("rm_watch unknown wd", inotify_rm_watch(in_fd, 1000), EINVAL);
    ERR("rm_watch bad fd", inotify_rm_watch(99, 1), EBADF);

    int wd_one;
    OK("IN_ONESHOT", wd_one, inotify_add_watch(in_fd, "other/f", IN_MODIFY | IN_ONESHOT));
    name_wd(wd_one, "f");
    write_file("other/f", "1", 0);
    write_file("other/f", "2", 0);
    drain("IN_ONESHOT: one event, then IGNORED");

    OK("rm_watch", same, inotify_rm_watch(in_fd, wd2));
    drain("rm_watch");
    ERR("rm_watch twice", inotify_rm_watch(in_fd, wd2), EINVAL);

    /* reading: a buffer too small, FIONREAD, poll, epoll */
    write_file("d/abcdefghijklmnopqrstuvwxyz", "", O_CREAT);
    int avail = -1;
    TRUE("FIONREAD", ioctl(in_fd, FIONREAD, &avail) == 0);
    printf("FIONREAD %d\n", avail);
    ERR("buffer too small", read(in_fd, buf, 16), EINVAL);
    struct pollfd p = {in_fd, POLLIN, 0};
    TRUE("poll: readable", poll(&p, 1, 0) == 1 && p.revents == POLLIN);
    int ep = epoll_create1(0);
    struct epoll_event ee = {.events = EPOLLIN}, got;
    epoll_ctl(ep, EPOLL_CTL_ADD, in_fd, &ee);
    TRUE("epoll: readable", epoll_wait(ep, &got, 1, 0) == 1 && got.events == EPOLLIN);
    drain("events of a long name");
    TRUE("poll: nothing", poll(&p, 1, 0) == 0);
    TRUE("epoll: nothing", epoll_wait(ep, &got, 1, 0) == 0);

    /* the same on tmpfs (/dev/shm) */
    char shm[64] = "/dev/shm/pykern-inotify-XXXXXX";
    TRUE("mkdtemp in /dev/shm", mkdtemp(shm) != NULL);
    int wd_shm;
    OK("watch the tmpfs directory", wd_shm, inotify_add_watch(in_fd, shm, IN_ALL_EVENTS));
    name_wd(wd_shm, "shm");
    char shm_file[96], shm_moved[96];
    snprintf(shm_file, sizeof shm_file, "%s/file", shm);
    snprintf(shm_moved, sizeof shm_moved, "%s/moved", shm);
    write_file(shm_file, "tmpfs\n", O_CREAT);
    int wd_shm_file;
    OK("watch the tmpfs file", wd_shm_file, inotify_add_watch(in_fd, shm_file, IN_ALL_EVENTS));
    name_wd(wd_shm_file, "shmfile");
    write_file(shm_file, "more\n", O_APPEND);
    rename(shm_file, shm_moved);
    unlink(shm_moved);
    rmdir(shm);
    drain("tmpfs: create, write, rename, unlink, rmdir");

    /* a blocking read, woken by a child's change */
    int blocking;
    OK("inotify_init", blocking, inotify_init());
    TRUE("blocking: no flags", fcntl(blocking, F_GETFL) == O_RDONLY && fcntl(blocking, F_GETFD) == 0);
    OK("watch for the child", same, inotify_add_watch(blocking, "d", IN_CREATE));
    pid_t child = fork();
    if (child == 0) {
        usleep(50000);
        write_file("d/from-child", "", O_CREAT);
        _exit(0);
    }
    char evbuf[512] __attribute__((aligned(8)));
    long n = read(blocking, evbuf, sizeof evbuf);
    struct inotify_event *ev = (struct inotify_event *)evbuf;
    TRUE("blocking read: the child's file", n > 0 && ev->mask == IN_CREATE && !strcmp(ev->name, "from-child"));
    waitpid(child, NULL, 0);
    TRUE("poll after the child", poll(&(struct pollfd){blocking, POLLIN, 0}, 1, 0) == 0);
    close(blocking);
    close(ep);
    drain("the end");
    return 0;
}

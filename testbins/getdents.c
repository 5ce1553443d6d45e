/* getdents: the old getdents(2) (syscall 78, struct linux_dirent with d_type in the last
 * byte of each record), as AddressSanitizer's start-up reads /proc/self/task with it.
 *
 * On a host directory made here (a file, a directory, a symlink, a FIFO: names and types
 * printed), on /proc/self/task (one entry: the caller's tid), /proc/self/fd, /dev and
 * /dev/shm (a file made there is listed), every listing must agree record by record with
 * getdents64 (inode, cookie, record length, type, name), read all at once or one record
 * at a time, and seekdir to a cookie must resume there. Then the errors: a buffer too
 * small for one entry (EINVAL), a bad fd, a file, an O_PATH fd, a bad buffer. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errcheck.h"

struct entry {
    uint64_t ino;
    int64_t off;
    unsigned reclen;
    unsigned type;
    char name[256];
};

/* One directory read to the end with getdents (old = 1) or getdents64, `chunk` bytes at
 * a time; returns the number of entries. */
static int list(int fd, int old, size_t chunk, struct entry *out, int max)
{
    char buf[65536];
    int count = 0;
    if (lseek(fd, 0, SEEK_SET) != 0)
        return -1;
    for (;;) {
        long n = syscall(old ? SYS_getdents : SYS_getdents64, fd, buf, chunk);
        if (n < 0)
            return -1;
        if (n == 0)
            return count;
        for (long pos = 0; pos < n && count < max;) {
            struct entry *e = &out[count++];
            if (old) {
                uint64_t ino, off;
                unsigned short reclen;
                memcpy(&ino, buf + pos, 8);
                memcpy(&off, buf + pos + 8, 8);
                memcpy(&reclen, buf + pos + 16, 2);
                e->ino = ino, e->off = (int64_t)off, e->reclen = reclen;
                e->type = (unsigned char)buf[pos + reclen - 1];
                snprintf(e->name, sizeof e->name, "%s", buf + pos + 18);
            } else {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                memcpy(&ino, buf + pos, 8);
                memcpy(&off, buf + pos + 8, 8);
                memcpy(&reclen, buf + pos + 16, 2);
                e->ino = ino, e->off = off, e->reclen = reclen;
                e->type = (unsigned char)buf[pos + 18];
                snprintf(e->name, sizeof e->name, "%s", buf + pos + 19);
            }
            if (e->reclen == 0)
                return -1;
            pos += e->reclen;
        }
    }
}

static struct entry old_all[512], new_all[512], old_one[512];

static int same(const struct entry *a, const struct entry *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i].ino != b[i].ino || a[i].off != b[i].off || a[i].reclen != b[i].reclen ||
            a[i].type != b[i].type || strcmp(a[i].name, b[i].name))
            return 0;
    return 1;
}

static int find(const struct entry *e, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(e[i].name, name))
            return i;
    return -1;
}

/* getdents and getdents64 agree on `path`; returns the number of entries. */
static int agree(const char *what, const char *path)
{
    char name[128];
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    snprintf(name, sizeof name, "%s: open", what);
    TRUE(name, fd >= 0);
    int n_old = list(fd, 1, 65536, old_all, 512);
    int n_new = list(fd, 0, 65536, new_all, 512);
    snprintf(name, sizeof name, "%s: getdents and getdents64 agree", what);
    TRUE(name, n_old > 0 && n_old == n_new && same(old_all, new_all, n_old));
    int n_one = list(fd, 1, 280, old_one, 512); /* 280: the longest record */
    snprintf(name, sizeof name, "%s: small reads agree", what);
    TRUE(name, n_one == n_old && same(old_all, old_one, n_old));
    snprintf(name, sizeof name, "%s: . and ..", what);
    TRUE(name, find(old_all, n_old, ".") >= 0 && find(old_all, n_old, "..") >= 0 &&
                   old_all[find(old_all, n_old, ".")].type == DT_DIR);
    if (n_old > 2) { /* seekdir to the second entry's cookie: the third comes next */
        char buf[4096];
        lseek(fd, old_all[1].off, SEEK_SET);
        long got = syscall(SYS_getdents, fd, buf, sizeof buf);
        snprintf(name, sizeof name, "%s: resume at a cookie", what);
        TRUE(name, got > 0 && !strcmp(buf + 18, old_all[2].name));
    }
    close(fd);
    return n_old;
}

static const char *type_name(unsigned type)
{
    switch (type) {
    case DT_REG: return "reg";
    case DT_DIR: return "dir";
    case DT_LNK: return "lnk";
    case DT_FIFO: return "fifo";
    default: return "other";
    }
}

int main(void)
{
    char buf[4096];
    enter_tmpdir("getdents");
    mkdir("dir", 0755);
    int fd = open("file", O_WRONLY | O_CREAT, 0644);
    close(fd);
    symlink("file", "link");
    mkfifo("fifo", 0644);
    char longname[201];
    memset(longname, 'n', 200);
    longname[200] = 0;
    close(open(longname, O_WRONLY | O_CREAT, 0644));

    int n = agree("host dir", ".");
    TRUE("host dir: 7 entries", n == 7);
    const char *names[] = {"dir", "file", "link", "fifo"};
    for (int i = 0; i < 4; i++) {
        int at = find(old_all, n, names[i]);
        printf("%s: %s\n", names[i], at >= 0 ? type_name(old_all[at].type) : "missing");
    }
    int at = find(old_all, n, longname);
    TRUE("long name listed", at >= 0 && old_all[at].type == DT_REG && old_all[at].reclen == 224);

    n = agree("/proc/self/task", "/proc/self/task");
    char tid[32];
    snprintf(tid, sizeof tid, "%ld", (long)syscall(SYS_gettid));
    TRUE("/proc/self/task: the own tid only", n == 3 && find(old_all, n, tid) >= 0 &&
                                                   old_all[find(old_all, n, tid)].type == DT_DIR);
    n = agree("/proc/self/fd", "/proc/self/fd");
    TRUE("/proc/self/fd: its own fd", n >= 5);
    n = agree("/dev", "/dev");
    TRUE("/dev: null", find(old_all, n, "null") >= 0);

    char shm[64] = "/dev/shm/pykern-getdents-XXXXXX";
    fd = mkstemp(shm);
    TRUE("create in /dev/shm", fd >= 0);
    close(fd);
    n = agree("/dev/shm", "/dev/shm");
    at = find(old_all, n, shm + 9);
    TRUE("/dev/shm: the new file", at >= 0 && old_all[at].type == DT_REG);
    unlink(shm);

    /* errors */
    fd = open(".", O_RDONLY | O_DIRECTORY);
    ERR("buffer too small", syscall(SYS_getdents, fd, buf, 10), EINVAL);
    ERR("bad fd", syscall(SYS_getdents, 99, buf, sizeof buf), EBADF);
    ERR("bad buffer", syscall(SYS_getdents, fd, (void *)8, sizeof buf), EFAULT);
    close(fd);
    fd = open("file", O_RDONLY);
    ERR("a file", syscall(SYS_getdents, fd, buf, sizeof buf), ENOTDIR);
    close(fd);
    fd = open(".", O_PATH);
    ERR("O_PATH", syscall(SYS_getdents, fd, buf, sizeof buf), EBADF);
    close(fd);
    fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
    ERR("procfs: buffer too small", syscall(SYS_getdents, fd, buf, 10), EINVAL);
    close(fd);
    return 0;
}

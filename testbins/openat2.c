/* openat2: struct open_how and the RESOLVE_* rules of the path walk, compared with Linux.
 *
 * The size checks (EINVAL below OPEN_HOW_SIZE_VER0, E2BIG above a page or for non-zero
 * bytes past the struct), the argument checks (unknown flags and resolve bits, a mode
 * without O_CREAT, O_PATH with other flags, BENEATH with IN_ROOT, CACHED with O_CREAT),
 * then RESOLVE_BENEATH (absolute paths, ".." at the dirfd and absolute symlinks are EXDEV),
 * RESOLVE_IN_ROOT (the dirfd is "/" for the walk), RESOLVE_NO_SYMLINKS,
 * RESOLVE_NO_MAGICLINKS, RESOLVE_NO_XDEV (crossing into /proc, out of it by "..", and by
 * a magic link) and RESOLVE_CACHED (success or EAGAIN). Works in a fresh
 * /tmp/pykern-openat2-XXXXXX; no mount is crossed except /proc's, so the result does not
 * depend on whether /tmp is a mount of its own. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errcheck.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

struct how {
    uint64_t flags, mode, resolve;
};

#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#define RESOLVE_IN_ROOT 0x10
#define RESOLVE_CACHED 0x20
#define LARGEFILE 0100000 /* the kernel's O_LARGEFILE (glibc's is 0 on x86-64) */

static long openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
    struct how how = {flags, mode, resolve};
    return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* openat2 with dirfd `dir` and `resolve`, the result compared by inode with `expect`
 * (opened without rules); closes what it opened. */
static int same_file(int dir, const char *path, uint64_t resolve, const char *expect)
{
    long fd = openat2(dir, path, O_RDONLY, 0, resolve);
    if (fd < 0)
        return 0;
    struct stat got, want;
    int same = fstat(fd, &got) == 0 && stat(expect, &want) == 0 && got.st_ino == want.st_ino &&
               got.st_dev == want.st_dev;
    close(fd);
    return same;
}

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "data\n", 5) != 5 || close(fd) != 0)
        check_failed("touch", path, fd, errno, __LINE__);
}

int main(void)
{
    long fd;
    umask(022);
    enter_tmpdir("openat2");
    char top[PATH_MAX];
    if (!getcwd(top, sizeof top))
        return 1;
    mkdir("d", 0755);
    mkdir("d/sub", 0755);
    touch("d/file");
    touch("d/sub/f2");
    touch("outside");
    symlink("sub/f2", "d/rel");          /* relative, stays inside */
    symlink("/sub/f2", "d/abs");         /* absolute: inside only under IN_ROOT */
    symlink("../outside", "d/up");       /* leaves d */
    symlink("../d/file", "d/roundtrip"); /* leaves d and comes back: still EXDEV */
    symlink("sub", "d/linkdir");
    symlink("/proc/self/status", "d/procabs");
    char full[PATH_MAX + 16];
    snprintf(full, sizeof full, "%s/d/file", top);
    symlink(full, "d/fullabs");
    int d = open("d", O_RDONLY | O_DIRECTORY);
    TRUE("open d", d >= 0);

    /* --- struct open_how's size and arguments ------------------------------------------- */
    struct {
        struct how how;
        uint64_t extra;
    } big = {{O_RDONLY, 0, 0}, 0};
    ERR("size 0", syscall(SYS_openat2, d, "file", &big, 0), EINVAL);
    ERR("size 23", syscall(SYS_openat2, d, "file", &big, 23), EINVAL);
    static char page[8192]; /* zero: what strace shows of the bytes past the struct */
    ERR("size above a page", syscall(SYS_openat2, d, "file", page, 4097), E2BIG);
    OK("size 32, zero tail", fd, syscall(SYS_openat2, d, "file", &big, sizeof big));
    close(fd);
    big.extra = 1;
    ERR("size 32, non-zero tail", syscall(SYS_openat2, d, "file", &big, sizeof big), E2BIG);
    ERR("bad how pointer", syscall(SYS_openat2, d, "file", (void *)8, 24), EFAULT);
    ERR("unknown flag bit 31", openat2(d, "file", 0x80000000u, 0, 0), EINVAL);
    ERR("unknown flag bit 40", openat2(d, "file", 1ull << 40, 0, 0), EINVAL);
    ERR("unknown resolve bit", openat2(d, "file", O_RDONLY, 0, 0x40), EINVAL);
    ERR("BENEATH|IN_ROOT", openat2(d, "file", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT), EINVAL);
    ERR("mode without O_CREAT", openat2(d, "file", O_RDONLY, 0644, 0), EINVAL);
    ERR("mode beyond 07777", openat2(d, "new", O_WRONLY | O_CREAT, 010644, 0), EINVAL);
    ERR("O_PATH|O_RDWR", openat2(d, "file", O_PATH | O_RDWR, 0, 0), EINVAL);
    ERR("O_PATH|O_LARGEFILE", openat2(d, "file", O_PATH | LARGEFILE, 0, 0), EINVAL);
    ERR("O_DIRECTORY|O_CREAT", openat2(d, "new", O_DIRECTORY | O_CREAT, 0644, 0), EINVAL);
    ERR("CACHED|O_CREAT", openat2(d, "new", O_WRONLY | O_CREAT, 0644, RESOLVE_CACHED), EAGAIN);
    ERR("CACHED|O_TRUNC", openat2(d, "file", O_WRONLY | O_TRUNC, 0, RESOLVE_CACHED), EAGAIN);
    ERR("empty path", openat2(d, "", O_RDONLY, 0, 0), ENOENT);
    ERR("bad dirfd", openat2(99, "file", O_RDONLY, 0, 0), EBADF);
    ERR("BENEATH absolute, bad dirfd", openat2(99, "/file", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
    ERR("IN_ROOT absolute, bad dirfd", openat2(99, "/file", O_RDONLY, 0, RESOLVE_IN_ROOT), EBADF);
    ERR("file as dirfd", openat2(open("d/file", O_RDONLY), "x", O_RDONLY, 0, RESOLVE_BENEATH), ENOTDIR);

    OK("O_CLOEXEC", fd, openat2(d, "file", O_RDONLY | O_CLOEXEC, 0, 0));
    TRUE("FD_CLOEXEC set", fcntl(fd, F_GETFD) == FD_CLOEXEC);
    printf("F_GETFL %#o\n", fcntl(fd, F_GETFL));
    close(fd);
    OK("O_PATH", fd, openat2(d, "file", O_PATH | O_CLOEXEC, 0, 0));
    printf("F_GETFL of O_PATH %#o\n", fcntl(fd, F_GETFL));
    close(fd);
    OK("O_CREAT with mode", fd, openat2(d, "new", O_WRONLY | O_CREAT | O_EXCL, 0666, RESOLVE_BENEATH));
    struct stat st;
    TRUE("created mode", fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0644);
    close(fd);

    OK("O_TMPFILE", fd, openat2(d, "sub", O_TMPFILE | O_RDWR, 0600, RESOLVE_BENEATH));
    TRUE("O_TMPFILE mode", fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_nlink == 0);
    close(fd);
    ERR("O_TMPFILE above", openat2(d, "..", O_TMPFILE | O_RDWR, 0600, RESOLVE_BENEATH), EXDEV);
    ERR("O_TMPFILE read-only", openat2(d, "sub", O_TMPFILE | O_RDONLY, 0600, 0), EINVAL);
    ERR("__O_TMPFILE without O_DIRECTORY", openat2(d, "sub", 020000000 | O_RDWR, 0600, 0), EINVAL);
    ERR("CACHED|O_TMPFILE", openat2(d, "sub", O_TMPFILE | O_RDWR, 0600, RESOLVE_CACHED), EAGAIN);
    OK("O_DIRECTORY", fd, openat2(d, "sub", O_DIRECTORY | O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS));
    close(fd);
    ERR("O_DIRECTORY on a file", openat2(d, "file", O_DIRECTORY, 0, RESOLVE_BENEATH), ENOTDIR);
    ERR("O_CREAT|O_EXCL existing", openat2(d, "file", O_CREAT | O_EXCL | O_WRONLY, 0600, RESOLVE_BENEATH), EEXIST);
    ERR("NO_SYMLINKS O_CREAT through a symlink",
        openat2(d, "up", O_CREAT | O_WRONLY, 0600, RESOLVE_NO_SYMLINKS), ELOOP);

    /* --- RESOLVE_BENEATH ---------------------------------------------------------------- */
    TRUE("BENEATH file", same_file(d, "file", RESOLVE_BENEATH, "d/file"));
    TRUE("BENEATH sub/f2", same_file(d, "sub/f2", RESOLVE_BENEATH, "d/sub/f2"));
    TRUE("BENEATH sub/../file", same_file(d, "sub/../file", RESOLVE_BENEATH, "d/file"));
    TRUE("BENEATH ./sub/./f2", same_file(d, "./sub/./f2", RESOLVE_BENEATH, "d/sub/f2"));
    TRUE("BENEATH relative symlink", same_file(d, "rel", RESOLVE_BENEATH, "d/sub/f2"));
    TRUE("BENEATH symlinked dir", same_file(d, "linkdir/f2", RESOLVE_BENEATH, "d/sub/f2"));
    TRUE("BENEATH .", same_file(d, ".", RESOLVE_BENEATH, "d"));
    ERR("BENEATH ..", openat2(d, "..", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
    ERR("BENEATH ../d/file", openat2(d, "../d/file", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
    ERR("BENEATH sub/../../outside", openat2(d, "sub/../../outside", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
    ERR("BENEATH absolute path", openat2(d, "/etc/passwd", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
    ERR("BENEATH absolute symlink", openat2(d, "abs", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
    ERR("BENEATH absolute symlink inside", openat2(d, "fullabs", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
    ERR("BENEATH symlink up", openat2(d, "up", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
    ERR("BENEATH symlink out and back", openat2(d, "roundtrip", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
    OK("BENEATH O_NOFOLLOW|O_PATH on abs", fd, openat2(d, "abs", O_PATH | O_NOFOLLOW, 0, RESOLVE_BENEATH));
    close(fd);
    ERR("BENEATH missing", openat2(d, "nothing", O_RDONLY, 0, RESOLVE_BENEATH), ENOENT);
    ERR("BENEATH O_CREAT above", openat2(d, "../new2", O_WRONLY | O_CREAT, 0644, RESOLVE_BENEATH), EXDEV);
    TRUE("BENEATH from cwd", same_file(AT_FDCWD, "d/sub/../file", RESOLVE_BENEATH, "d/file"));
    ERR("BENEATH from cwd, ..", openat2(AT_FDCWD, "../x", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
    int proc = open("/proc", O_RDONLY | O_DIRECTORY);
    TRUE("open /proc", proc >= 0);
    OK("BENEATH /proc self/status", fd, openat2(proc, "self/status", O_RDONLY, 0, RESOLVE_BENEATH));
    close(fd);
    ERR("BENEATH magic link", openat2(proc, "self/fd/0", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV);
    OK("BENEATH magic link not followed", fd,
       openat2(proc, "self/fd/0", O_PATH | O_NOFOLLOW, 0, RESOLVE_BENEATH));
    close(fd);

    /* --- RESOLVE_IN_ROOT ---------------------------------------------------------------- */
    TRUE("IN_ROOT /file", same_file(d, "/file", RESOLVE_IN_ROOT, "d/file"));
    TRUE("IN_ROOT ../../file", same_file(d, "../../file", RESOLVE_IN_ROOT, "d/file"));
    TRUE("IN_ROOT /../sub/f2", same_file(d, "/../sub/f2", RESOLVE_IN_ROOT, "d/sub/f2"));
    TRUE("IN_ROOT absolute symlink", same_file(d, "abs", RESOLVE_IN_ROOT, "d/sub/f2"));
    ERR("IN_ROOT symlink up: d/d/file", openat2(d, "roundtrip", O_RDONLY, 0, RESOLVE_IN_ROOT), ENOENT);
    ERR("IN_ROOT symlink up, missing", openat2(d, "up", O_RDONLY, 0, RESOLVE_IN_ROOT), ENOENT);
    ERR("IN_ROOT /etc/passwd", openat2(d, "/etc/passwd", O_RDONLY, 0, RESOLVE_IN_ROOT), ENOENT);
    TRUE("IN_ROOT /", same_file(d, "/", RESOLVE_IN_ROOT, "d"));
    ERR("IN_ROOT magic link", openat2(proc, "self/exe", O_RDONLY, 0, RESOLVE_IN_ROOT), EXDEV);
    OK("IN_ROOT O_CREAT", fd, openat2(d, "/sub/../../made", O_WRONLY | O_CREAT, 0600, RESOLVE_IN_ROOT));
    close(fd);
    TRUE("IN_ROOT made inside", access("d/made", F_OK) == 0 && access("made", F_OK) != 0);

    /* --- RESOLVE_NO_SYMLINKS and RESOLVE_NO_MAGICLINKS ---------------------------------- */
    ERR("NO_SYMLINKS last", openat2(d, "rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS), ELOOP);
    ERR("NO_SYMLINKS middle", openat2(d, "linkdir/f2", O_RDONLY, 0, RESOLVE_NO_SYMLINKS), ELOOP);
    TRUE("NO_SYMLINKS plain", same_file(d, "sub/f2", RESOLVE_NO_SYMLINKS, "d/sub/f2"));
    OK("NO_SYMLINKS O_PATH|O_NOFOLLOW", fd, openat2(d, "rel", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS));
    close(fd);
    ERR("NO_SYMLINKS O_NOFOLLOW", openat2(d, "rel", O_RDONLY | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS), ELOOP);
    ERR("NO_SYMLINKS /proc/self", openat2(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_SYMLINKS),
        ELOOP);
    ERR("NO_SYMLINKS magic", openat2(AT_FDCWD, "/proc/thread-self/fd/0", O_RDONLY, 0, RESOLVE_NO_SYMLINKS),
        ELOOP);
    char magic[64];
    snprintf(magic, sizeof magic, "/proc/self/fd/%d", d);
    ERR("NO_MAGICLINKS fd", openat2(AT_FDCWD, magic, O_RDONLY, 0, RESOLVE_NO_MAGICLINKS), ELOOP);
    ERR("NO_MAGICLINKS exe", openat2(AT_FDCWD, "/proc/self/exe", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS), ELOOP);
    char magic_file[80];
    snprintf(magic_file, sizeof magic_file, "/proc/self/fd/%d/file", d);
    ERR("NO_MAGICLINKS middle", openat2(AT_FDCWD, magic_file, O_RDONLY, 0, RESOLVE_NO_MAGICLINKS), ELOOP);
    TRUE("magic link without rules", same_file(AT_FDCWD, magic_file, 0, "d/file"));
    OK("NO_MAGICLINKS not followed", fd, openat2(AT_FDCWD, magic, O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_MAGICLINKS));
    close(fd);
    OK("NO_MAGICLINKS /proc/self", fd, openat2(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));
    close(fd);
    TRUE("NO_MAGICLINKS plain symlink", same_file(d, "rel", RESOLVE_NO_MAGICLINKS, "d/sub/f2"));

    /* --- RESOLVE_NO_XDEV ---------------------------------------------------------------- */
    TRUE("NO_XDEV inside", same_file(d, "sub/../rel", RESOLVE_NO_XDEV, "d/sub/f2"));
    ERR("NO_XDEV into /proc", openat2(d, "../../../../../../../proc/self/status", O_RDONLY, 0, RESOLVE_NO_XDEV),
        EXDEV);
    ERR("NO_XDEV absolute symlink to /proc", openat2(d, "procabs", O_RDONLY, 0, RESOLVE_NO_XDEV), EXDEV);
    OK("NO_XDEV inside /proc", fd, openat2(proc, "self/status", O_RDONLY, 0, RESOLVE_NO_XDEV));
    close(fd);
    ERR("NO_XDEV out of /proc", openat2(proc, "..", O_RDONLY, 0, RESOLVE_NO_XDEV), EXDEV);
    char proc_fd[64];
    snprintf(proc_fd, sizeof proc_fd, "self/fd/%d", d);
    ERR("NO_XDEV magic link", openat2(proc, proc_fd, O_RDONLY, 0, RESOLVE_NO_XDEV), EXDEV);
    ERR("NO_XDEV absolute /proc", openat2(AT_FDCWD, "/proc", O_RDONLY, 0, RESOLVE_NO_XDEV), EXDEV);
    OK("NO_XDEV absolute /", fd, openat2(d, "/", O_RDONLY, 0, RESOLVE_NO_XDEV));
    close(fd);
    ERR("NO_XDEV absolute /proc/self", openat2(AT_FDCWD, "/proc/self", O_RDONLY, 0, RESOLVE_NO_XDEV), EXDEV);

    /* --- RESOLVE_CACHED: the walk may succeed or ask for a retry without it -------------- */
    fd = openat2(d, "file", O_RDONLY, 0, RESOLVE_CACHED);
    TRUE("CACHED", fd >= 0 || errno == EAGAIN);
    if (fd >= 0)
        close(fd);
    return 0;
}

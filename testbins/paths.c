/* paths: the edge cases of the path walk (Linux's fs/namei.c) and the errnos of the
 * calls that take a path, compared with Linux.
 *
 * "" and over-long paths and names; symlink loops and the MAXSYMLINKS limit; trailing
 * slashes on files, directories, symlinks and missing names for each call; "." and ".."
 * as last components; dirfds (a file's fd, a bad fd, absolute paths that ignore it);
 * AT_EMPTY_PATH; O_NOFOLLOW, O_PATH, O_CREAT through a dangling symlink, O_DIRECTORY,
 * O_TMPFILE + linkat; getcwd of a removed directory; rename's and link's rules; mknod of
 * a regular file and a socket; chroot (as root: a child chroots into the temporary
 * directory, where ".." at / stays at / and absolute symlinks resolve inside).
 * Works in a fresh /tmp/pykern-paths-XXXXXX; prints no inode numbers or times. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "errcheck.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2
#endif

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "data\n", 5) != 5 || close(fd) != 0)
        check_failed("touch", path, fd, errno, __LINE__);
}

static int is_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static long raw_getcwd(char *buf, size_t size)
{
    return syscall(SYS_getcwd, buf, size);
}

static void test_empty_and_long(void)
{
    struct stat st;
    char buf[64];
    ERR("open \"\"", open("", O_RDONLY), ENOENT);
    ERR("stat \"\"", stat("", &st), ENOENT);
    ERR("lstat \"\"", lstat("", &st), ENOENT);
    ERR("mkdir \"\"", mkdir("", 0755), ENOENT);
    ERR("rmdir \"\"", rmdir(""), ENOENT);
    ERR("unlink \"\"", unlink(""), ENOENT);
    ERR("rename \"\" to x", rename("", "x"), ENOENT);
    ERR("rename f to \"\"", rename("f", ""), ENOENT);
    ERR("link \"\"", link("", "x"), ENOENT);
    ERR("symlink to \"\"", symlink("", "x"), ENOENT);
    ERR("chdir \"\"", chdir(""), ENOENT);
    ERR("readlink \"\"", readlink("", buf, sizeof buf), ENOENT);
    ERR("access \"\"", access("", F_OK), ENOENT);
    ERR("fstatat(fd, \"\", 0)", fstatat(AT_FDCWD, "", &st, 0), ENOENT);

    static char path[PATH_MAX + 2];
    /* "././..././." of 4095 bytes names "." ; one byte more is PATH_MAX with the NUL */
    for (int i = 0; i < PATH_MAX - 1; i++)
        path[i] = i % 2 ? '/' : '.';
    path[PATH_MAX - 1] = '\0';
    TRUE("a path of PATH_MAX-1 bytes", strlen(path) == PATH_MAX - 1 && stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    path[PATH_MAX - 1] = '/';
    path[PATH_MAX] = '\0';
    ERR("a path of PATH_MAX bytes: ENAMETOOLONG", stat(path, &st), ENAMETOOLONG);
    ERR("open of PATH_MAX bytes", open(path, O_RDONLY), ENAMETOOLONG);
    ERR("mkdir of PATH_MAX bytes", mkdir(path, 0755), ENAMETOOLONG);
    path[PATH_MAX] = '.';
    path[PATH_MAX + 1] = '\0';
    ERR("PATH_MAX+1 bytes", stat(path, &st), ENAMETOOLONG);

    char name[NAME_MAX + 2];
    memset(name, 'n', sizeof name);
    name[NAME_MAX] = '\0';
    ERR("a name of NAME_MAX bytes: ENOENT", stat(name, &st), ENOENT);
    int fd;
    OK("create a name of NAME_MAX bytes", fd, open(name, O_CREAT | O_WRONLY, 0644));
    close(fd);
    OK("unlink it", fd, unlink(name));
    name[NAME_MAX] = 'n';
    name[NAME_MAX + 1] = '\0';
    ERR("a name of NAME_MAX+1 bytes: ENAMETOOLONG", stat(name, &st), ENAMETOOLONG);
    ERR("create NAME_MAX+1", open(name, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
    ERR("mkdir NAME_MAX+1", mkdir(name, 0755), ENAMETOOLONG);
    char under[NAME_MAX + 8];
    snprintf(under, sizeof under, "%s/x", name);
    ERR("NAME_MAX+1 in the middle", stat(under, &st), ENAMETOOLONG);

    static char target[PATH_MAX + 1];
    memset(target, 't', PATH_MAX);
    target[PATH_MAX - 1] = '\0';
    OK("symlink with a target of PATH_MAX-1 bytes", fd, symlink(target, "longlink"));
    TRUE("readlink gives it back", readlink("longlink", target, PATH_MAX) == PATH_MAX - 1);
    ERR("stat through it: ENAMETOOLONG (a component too long)", stat("longlink", &st), ENAMETOOLONG);
    unlink("longlink");
    memset(target, 't', PATH_MAX);
    target[PATH_MAX] = '\0';
    ERR("symlink with a target of PATH_MAX bytes", symlink(target, "longlink"), ENAMETOOLONG);
}

static void test_symlinks(void)
{
    struct stat st;
    char buf[PATH_MAX];
    int r;
    OK("symlink loop a -> b", r, symlink("loop-b", "loop-a"));
    OK("symlink loop b -> a", r, symlink("loop-a", "loop-b"));
    OK("symlink to itself", r, symlink("self", "self"));
    ERR("stat of a loop: ELOOP", stat("loop-a", &st), ELOOP);
    ERR("stat of a self loop: ELOOP", stat("self", &st), ELOOP);
    TRUE("lstat of a loop", lstat("loop-a", &st) == 0 && S_ISLNK(st.st_mode));
    ERR("open of a loop", open("loop-a", O_RDONLY), ELOOP);
    ERR("open O_CREAT of a loop", open("loop-a", O_CREAT | O_WRONLY, 0644), ELOOP);
    ERR("a loop in the middle", stat("self/x", &st), ELOOP);
    ERR("chdir to a loop", chdir("loop-b"), ELOOP);
    ERR("mkdir under a loop", mkdir("self/x", 0755), ELOOP);
    TRUE("readlink of a loop", readlink("self", buf, sizeof buf) == 4 && !memcmp(buf, "self", 4));
    OK("unlink of a loop removes the link", r, unlink("self"));

    /* chain-0 -> target, chain-N -> chain-(N-1): stat(chain-N) follows N+1 links */
    touch("target");
    OK("chain-0", r, symlink("target", "chain-0"));
    for (int i = 1; i <= 40; i++) {
        char name[16], prev[16];
        snprintf(name, sizeof name, "chain-%d", i);
        snprintf(prev, sizeof prev, "chain-%d", i - 1);
        if (symlink(prev, name) != 0)
            check_failed("chain", name, -1, errno, __LINE__);
    }
    TRUE("40 links in a row: followed", stat("chain-39", &st) == 0 && S_ISREG(st.st_mode));
    ERR("41 links in a row: ELOOP", stat("chain-40", &st), ELOOP);
    TRUE("lstat of the 41st", lstat("chain-40", &st) == 0 && S_ISLNK(st.st_mode));
    int fd;
    OK("open O_PATH|O_NOFOLLOW of the 41st", fd, open("chain-40", O_PATH | O_NOFOLLOW));
    close(fd);

    mkdir("d", 0755);
    touch("d/file");
    OK("symlink to a directory", r, symlink("d", "ld"));
    OK("symlink to a file", r, symlink("d/file", "lf"));
    OK("dangling symlink", r, symlink("nowhere", "dangle"));
    OK("absolute symlink", r, symlink("/proc/self/cwd/d", "labs"));
    TRUE("stat through a relative link", stat("ld/file", &st) == 0 && S_ISREG(st.st_mode));
    TRUE("a link's target relative to its own directory", symlink("file", "d/lrel") == 0 &&
                                                              stat("d/lrel", &st) == 0 && S_ISREG(st.st_mode));
    TRUE("link to .. and back", symlink("..", "d/up") == 0 && stat("d/up/d/file", &st) == 0);
    ERR("stat of a dangling link", stat("dangle", &st), ENOENT);
    ERR("O_NOFOLLOW on a symlink: ELOOP", open("lf", O_RDONLY | O_NOFOLLOW), ELOOP);
    ERR("O_NOFOLLOW on a symlink to a dir", open("ld", O_RDONLY | O_NOFOLLOW | O_DIRECTORY), ENOTDIR);
    OK("O_NOFOLLOW follows links before the last component", fd, open("ld/file", O_RDONLY | O_NOFOLLOW));
    close(fd);
    OK("O_PATH|O_NOFOLLOW on a symlink", fd, open("lf", O_PATH | O_NOFOLLOW));
    TRUE("fstat of it: the link", fstat(fd, &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 6);
    TRUE("readlinkat(fd, \"\")", readlinkat(fd, "", buf, sizeof buf) == 6 && !memcmp(buf, "d/file", 6));
    TRUE("fstatat(fd, \"\", AT_EMPTY_PATH): the link", fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 &&
                                                          S_ISLNK(st.st_mode));
    ERR("read of an O_PATH fd: EBADF", read(fd, buf, 1), EBADF);
    ERR("openat(link fd, \"x\"): ENOTDIR", openat(fd, "x", O_RDONLY), ENOTDIR);
    close(fd);
    OK("O_PATH of a regular file", fd, open("d/file", O_PATH));
    ERR("readlinkat(file fd, \"\"): ENOENT", readlinkat(fd, "", buf, sizeof buf), ENOENT);
    close(fd);
    OK("O_CREAT through a dangling symlink creates its target", fd, open("dangle", O_CREAT | O_WRONLY, 0644));
    close(fd);
    TRUE("the target exists now", exists("nowhere") && stat("dangle", &st) == 0 && S_ISREG(st.st_mode));
    unlink("nowhere");
    ERR("O_CREAT|O_EXCL on a dangling symlink: EEXIST", open("dangle", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
    TRUE("and nothing was created", !exists("nowhere"));
    ERR("O_CREAT|O_EXCL on a symlink to a file: EEXIST", open("lf", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
    OK("O_DIRECTORY through a link to a dir", fd, open("ld", O_RDONLY | O_DIRECTORY));
    close(fd);
    ERR("O_DIRECTORY through a link to a file", open("lf", O_RDONLY | O_DIRECTORY), ENOTDIR);
    ERR("O_DIRECTORY on a file", open("d/file", O_RDONLY | O_DIRECTORY), ENOTDIR);
    ERR("O_DIRECTORY|O_CREAT: EINVAL", open("d/file", O_RDONLY | O_DIRECTORY | O_CREAT, 0644), EINVAL);
    ERR("open a dir O_WRONLY: EISDIR", open("d", O_WRONLY), EISDIR);
    ERR("open a dir O_RDWR: EISDIR", open("d", O_RDWR), EISDIR);
    ERR("open a dir O_CREAT: EISDIR", open("d", O_RDONLY | O_CREAT, 0644), EISDIR);
    ERR("open a dir O_TRUNC|O_RDONLY", open("d", O_RDONLY | O_TRUNC), EISDIR);
    TRUE("readlink of the absolute link", readlink("labs", buf, sizeof buf) == 16);
    TRUE("stat through /proc/self/cwd in a link", stat("labs/file", &st) == 0 && S_ISREG(st.st_mode));
    ERR("readlink of a non-link: EINVAL", readlink("d/file", buf, sizeof buf), EINVAL);
    ERR("readlink of a directory: EINVAL", readlink("d", buf, sizeof buf), EINVAL);
    ERR("readlink bufsiz 0: EINVAL", syscall(SYS_readlink, "lf", buf, 0), EINVAL);
    ERR("readlink bufsiz -1: EINVAL", syscall(SYS_readlink, "lf", buf, -1), EINVAL);
    TRUE("readlink truncates to bufsiz", readlink("lf", buf, 3) == 3 && !memcmp(buf, "d/f", 3));
    ERR("readlink of a missing name", readlink("missing", buf, sizeof buf), ENOENT);
    ERR("readlink of a link through a file", readlink("d/file/x", buf, sizeof buf), ENOTDIR);
    TRUE("readlink with a trailing slash follows the link",
         readlink("ld/", buf, sizeof buf) == -1 && errno == EINVAL);
}

static void test_trailing_slashes(void)
{
    struct stat st;
    int fd, r;
    touch("f");
    mkdir("dir", 0755);
    ERR("stat file/", stat("f/", &st), ENOTDIR);
    ERR("lstat file/", lstat("f/", &st), ENOTDIR);
    ERR("access file/", access("f/", F_OK), ENOTDIR);
    ERR("open file/", open("f/", O_RDONLY), ENOTDIR);
    ERR("open file/ O_CREAT", open("f/", O_WRONLY | O_CREAT, 0644), EISDIR);
    ERR("open missing/ O_CREAT", open("new/", O_WRONLY | O_CREAT, 0644), EISDIR);
    ERR("open missing/ O_CREAT|O_RDONLY", open("new/", O_RDONLY | O_CREAT, 0644), EISDIR);
    TRUE("and nothing was created", !exists("new"));
    ERR("open missing/", open("new/", O_RDONLY), ENOENT);
    TRUE("stat dir/", stat("dir/", &st) == 0 && S_ISDIR(st.st_mode));
    TRUE("stat dir//", stat("dir//", &st) == 0 && S_ISDIR(st.st_mode));
    TRUE("stat dir/.", stat("dir/.", &st) == 0 && S_ISDIR(st.st_mode));
    TRUE("lstat link-to-dir/ follows", lstat("ld/", &st) == 0 && S_ISDIR(st.st_mode));
    ERR("lstat link-to-file/", lstat("lf/", &st), ENOTDIR);
    ERR("stat dangling/", stat("dangle/", &st), ENOENT);
    OK("open dir/", fd, open("dir/", O_RDONLY));
    close(fd);
    OK("mkdir new/", r, mkdir("new/", 0755));
    TRUE("made", is_dir("new"));
    ERR("mkdir existing dir/", mkdir("new/", 0755), EEXIST);
    ERR("mkdir file/", mkdir("f/", 0755), EEXIST);
    ERR("mkdir dangling-link/", mkdir("dangle/", 0755), EEXIST);
    ERR("mkdir dangling-link", mkdir("dangle", 0755), EEXIST);
    OK("rmdir new/", r, rmdir("new/"));
    ERR("rmdir missing/", rmdir("new/"), ENOENT);
    ERR("rmdir file/", rmdir("f/"), ENOTDIR);
    ERR("rmdir file", rmdir("f"), ENOTDIR);
    ERR("rmdir link-to-dir/", rmdir("ld/"), ENOTDIR);
    ERR("rmdir link-to-dir", rmdir("ld"), ENOTDIR);
    ERR("unlink file/", unlink("f/"), ENOTDIR);
    ERR("unlink dir/", unlink("dir/"), EISDIR);
    ERR("unlink dir", unlink("dir"), EISDIR);
    ERR("unlink missing/", unlink("missing/"), ENOENT);
    ERR("unlink link-to-dir/", unlink("ld/"), ENOTDIR);
    ERR("unlink link-to-file/", unlink("lf/"), ENOTDIR);
    ERR("unlink dangling/", unlink("dangle/"), ENOTDIR);
    ERR("rename file/ x", rename("f/", "x"), ENOTDIR);
    ERR("rename file x/", rename("f", "x/"), ENOTDIR);
    ERR("rename missing/ x", rename("missing/", "x"), ENOENT);
    OK("rename dir/ dir2/", r, rename("dir/", "dir2/"));
    OK("rename dir2 dir/", r, rename("dir2", "dir/"));
    TRUE("the dir is back", is_dir("dir"));
    ERR("rename link-to-dir/ x", rename("ld/", "x"), ENOTDIR);
    ERR("link file/ x", link("f/", "x"), ENOTDIR);
    ERR("link file x/", link("f", "x/"), ENOENT);
    ERR("symlink to x/ (a name with a slash)", symlink("f", "x/"), ENOENT);
    OK("symlink whose target ends in /", r, symlink("f/", "lslash"));
    ERR("stat through it: ENOTDIR", stat("lslash", &st), ENOTDIR);
    ERR("O_CREAT through it", open("lslash", O_CREAT | O_WRONLY, 0644), EISDIR);
    unlink("lslash");
    OK("symlink to missing/", r, symlink("made/", "lmade"));
    ERR("O_CREAT through a link to missing/", open("lmade", O_CREAT | O_WRONLY, 0644), EISDIR);
    unlink("lmade");
    ERR("chdir file/", chdir("f/"), ENOTDIR);
    ERR("truncate file/", truncate("f/", 0), ENOTDIR);
    ERR("chmod file/", chmod("f/", 0644), ENOTDIR);
}

static void test_dots(void)
{
    int fd;
    mkdir("dots", 0755);
    mkdir("dots/sub", 0755);
    ERR("rmdir .", rmdir("."), EINVAL);
    ERR("rmdir dots/.", rmdir("dots/."), EINVAL);
    ERR("rmdir dots/sub/..", rmdir("dots/sub/.."), ENOTEMPTY);
    ERR("rmdir ..", rmdir(".."), ENOTEMPTY);
    ERR("mkdir .", mkdir(".", 0755), EEXIST);
    ERR("mkdir dots/.", mkdir("dots/.", 0755), EEXIST);
    ERR("mkdir dots/..", mkdir("dots/..", 0755), EEXIST);
    ERR("mkdir missing/.", mkdir("missing/.", 0755), ENOENT);
    ERR("unlink .", unlink("."), EISDIR);
    ERR("unlink dots/..", unlink("dots/.."), EISDIR);
    ERR("rename dots/. x", rename("dots/.", "x"), EBUSY);
    ERR("rename dots/.. x", rename("dots/..", "x"), EBUSY);
    ERR("rename f dots/.", rename("f", "dots/."), EBUSY);
    ERR("rename dots/sub .", rename("dots/sub", "."), EBUSY);
    ERR("link f dots/.", link("f", "dots/."), EEXIST);
    ERR("link f ..", link("f", ".."), EEXIST);
    ERR("symlink x dots/..", symlink("x", "dots/.."), EEXIST);
    ERR("mknod dots/.", mknod("dots/.", S_IFIFO | 0600, 0), EEXIST);
    ERR("open dots/. O_CREAT", open("dots/.", O_CREAT | O_WRONLY, 0644), EISDIR);
    ERR("open . O_CREAT|O_EXCL", open(".", O_CREAT | O_EXCL | O_RDONLY, 0644), EEXIST);
    ERR("open .. O_WRONLY", open("..", O_WRONLY), EISDIR);
    OK("open dots/sub/../sub/./..", fd, open("dots/sub/../sub/./..", O_RDONLY | O_DIRECTORY));
    close(fd);
    ERR("f/. : ENOTDIR", open("f/.", O_RDONLY), ENOTDIR);
    ERR("f/.. : ENOTDIR", open("f/..", O_RDONLY), ENOTDIR);
    ERR("missing/.. : ENOENT", open("missing/..", O_RDONLY), ENOENT);
    struct stat a, b;
    TRUE("/.. is /", stat("/..", &a) == 0 && stat("/", &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    TRUE("/../../.. is /", stat("/../../..", &a) == 0 && a.st_ino == b.st_ino);
    ERR("rmdir /", rmdir("/"), EBUSY);
    ERR("mkdir /", mkdir("/", 0755), EEXIST);
    ERR("unlink /", unlink("/"), EISDIR);
    ERR("rename / /..", rename("/", "/.."), EBUSY);
}

static void test_dirfds(void)
{
    int dfd, ffd, fd, r;
    struct stat st;
    char buf[64];
    OK("open a dirfd", dfd, open("d", O_RDONLY | O_DIRECTORY));
    OK("open a file fd", ffd, open("f", O_RDONLY));
    OK("openat(dirfd, name)", fd, openat(dfd, "file", O_RDONLY));
    close(fd);
    ERR("openat(file fd, name): ENOTDIR", openat(ffd, "x", O_RDONLY), ENOTDIR);
    ERR("fstatat(file fd, name)", fstatat(ffd, "x", &st, 0), ENOTDIR);
    ERR("mkdirat(file fd, name)", mkdirat(ffd, "x", 0755), ENOTDIR);
    ERR("unlinkat(file fd, name)", unlinkat(ffd, "x", 0), ENOTDIR);
    ERR("renameat(file fd, ...)", renameat(ffd, "x", AT_FDCWD, "y"), ENOTDIR);
    ERR("openat(file fd, \"\")", openat(ffd, "", O_RDONLY), ENOENT);
    OK("openat(file fd, absolute path) ignores the fd", fd, openat(ffd, "/", O_RDONLY));
    close(fd);
    ERR("openat(bad fd, name): EBADF", openat(999, "x", O_RDONLY), EBADF);
    ERR("openat(-5, name): EBADF", openat(-5, "x", O_RDONLY), EBADF);
    OK("openat(bad fd, absolute path)", fd, openat(999, "/", O_RDONLY));
    close(fd);
    TRUE("fstatat(file fd, \"\", AT_EMPTY_PATH)", fstatat(ffd, "", &st, AT_EMPTY_PATH) == 0 && S_ISREG(st.st_mode));
    TRUE("fstatat(dirfd, \"\", AT_EMPTY_PATH)", fstatat(dfd, "", &st, AT_EMPTY_PATH) == 0 && S_ISDIR(st.st_mode));
    TRUE("fstatat(AT_FDCWD, \"\", AT_EMPTY_PATH)", fstatat(AT_FDCWD, "", &st, AT_EMPTY_PATH) == 0 &&
                                                     S_ISDIR(st.st_mode));
    ERR("fstatat(bad fd, \"\", AT_EMPTY_PATH)", fstatat(999, "", &st, AT_EMPTY_PATH), EBADF);
    ERR("fstatat bad flags", fstatat(dfd, "file", &st, 0x40000), EINVAL);
    OK("mkdirat(dirfd, name)", r, mkdirat(dfd, "made", 0755));
    OK("renameat(dirfd, name, AT_FDCWD, name)", r, renameat(dfd, "made", AT_FDCWD, "moved"));
    OK("unlinkat(AT_REMOVEDIR)", r, unlinkat(AT_FDCWD, "moved", AT_REMOVEDIR));
    ERR("unlinkat(AT_REMOVEDIR) of a file", unlinkat(dfd, "file", AT_REMOVEDIR), ENOTDIR);
    ERR("unlinkat bad flags", unlinkat(dfd, "file", 0x1), EINVAL);
    OK("linkat(fd, \"\", AT_EMPTY_PATH)", r, linkat(ffd, "", dfd, "hardlink", AT_EMPTY_PATH));
    TRUE("the new link is the file", stat("d/hardlink", &st) == 0 && st.st_nlink == 2);
    unlink("d/hardlink");
    ERR("linkat(dirfd, \"\", AT_EMPTY_PATH): a directory", linkat(dfd, "", AT_FDCWD, "dlink", AT_EMPTY_PATH),
        EPERM);
    ERR("linkat(fd, \"\") without AT_EMPTY_PATH", linkat(ffd, "", AT_FDCWD, "x", 0), ENOENT);
    ERR("linkat bad flags", linkat(AT_FDCWD, "f", AT_FDCWD, "x", 0x2), EINVAL);
    OK("linkat without AT_SYMLINK_FOLLOW links the symlink", r, linkat(AT_FDCWD, "lf", AT_FDCWD, "lf2", 0));
    TRUE("a second name of the link", lstat("lf2", &st) == 0 && S_ISLNK(st.st_mode));
    unlink("lf2");
    OK("linkat AT_SYMLINK_FOLLOW links the target", r, linkat(AT_FDCWD, "lf", AT_FDCWD, "lf2", AT_SYMLINK_FOLLOW));
    TRUE("a second name of the file", lstat("lf2", &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 2);
    unlink("lf2");
    ERR("readlinkat(dirfd, \"\")", readlinkat(dfd, "", buf, sizeof buf), ENOENT);
    TRUE("readlinkat(dirfd, name)", readlinkat(dfd, "lrel", buf, sizeof buf) == 4);
    ERR("fchdir to a file fd", fchdir(ffd), ENOTDIR);
    close(ffd);
    close(dfd);
}

static void test_cwd(void)
{
    char buf[PATH_MAX], top[PATH_MAX];
    int r, fd;
    TRUE("getcwd", getcwd(top, sizeof top) != NULL && !strcmp(top, tmpdir_path));
    ERR("getcwd too small: ERANGE", raw_getcwd(buf, 3), ERANGE);
    ERR("chdir to a file: ENOTDIR", chdir("f"), ENOTDIR);
    ERR("chdir to a missing dir", chdir("missing"), ENOENT);
    mkdir("gone", 0755);
    OK("chdir gone", r, chdir("gone"));
    OK("keep a fd on it", fd, open(".", O_RDONLY | O_DIRECTORY));
    OK("rmdir the cwd by its absolute name", r, rmdir(strcat(strcpy(buf, top), "/gone")));
    ERR("getcwd of a removed directory: ENOENT", raw_getcwd(buf, sizeof buf), ENOENT);
    ERR("create in a removed directory: ENOENT", open("x", O_CREAT | O_WRONLY, 0644), ENOENT);
    ERR("mkdir in a removed directory: ENOENT", mkdir("x", 0755), ENOENT);
    struct stat st;
    TRUE("stat . of a removed directory", stat(".", &st) == 0 && st.st_nlink == 0);
    OK("chdir .. from a removed directory", r, chdir(".."));
    TRUE("back at the top", getcwd(buf, sizeof buf) != NULL && !strcmp(buf, top));
    ERR("fchdir to the removed directory works, getcwd ENOENT",
        (fchdir(fd), raw_getcwd(buf, sizeof buf)), ENOENT);
    close(fd);
    OK("chdir back", r, chdir(top));
}

static void test_rename_link(void)
{
    int r;
    mkdir("rd", 0755);
    mkdir("rd/sub", 0755);
    mkdir("full", 0755);
    touch("full/x");
    mkdir("empty", 0755);
    ERR("rename a dir into itself: EINVAL", rename("rd", "rd/sub/rd"), EINVAL);
    ERR("rename a dir onto its own child", rename("rd", "rd/sub"), EINVAL);
    ERR("rename a dir to its parent", rename("rd/sub", "rd"), ENOTEMPTY);
    ERR("rename over a non-empty dir: ENOTEMPTY", rename("rd", "full"), ENOTEMPTY);
    OK("rename over an empty dir", r, rename("empty", "rd/sub2"));
    ERR("rename a dir over a file: ENOTDIR", rename("rd", "f"), ENOTDIR);
    ERR("rename a file over a dir: EISDIR", rename("f", "full"), EISDIR);
    OK("rename a file to itself", r, rename("f", "f"));
    OK("rename a dir to itself", r, rename("rd", "rd"));
    OK("hard link", r, link("f", "f-link"));
    OK("rename between two links of one file: nothing happens", r, rename("f", "f-link"));
    TRUE("both names remain", exists("f") && exists("f-link"));
    unlink("f-link");
    ERR("rename a missing name", rename("missing", "x"), ENOENT);
    ERR("rename into a missing dir", rename("f", "missing/x"), ENOENT);
    ERR("rename under a file", rename("f", "f/x"), ENOTDIR);
    touch("g");
    ERR("RENAME_NOREPLACE over a file: EEXIST", syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "g", RENAME_NOREPLACE),
        EEXIST);
    OK("RENAME_EXCHANGE", r, syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "rd", RENAME_EXCHANGE));
    TRUE("exchanged", is_dir("f") && !is_dir("rd"));
    OK("RENAME_EXCHANGE back", r, syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "rd", RENAME_EXCHANGE));
    ERR("RENAME_EXCHANGE with a missing name", syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "none",
                                                       RENAME_EXCHANGE), ENOENT);
    ERR("RENAME_NOREPLACE|RENAME_EXCHANGE", syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "g", 3), EINVAL);
    ERR("link to a directory: EPERM", link("rd", "rd-link"), EPERM);
    ERR("link over an existing name: EEXIST", link("f", "g"), EEXIST);
    ERR("link a missing name", link("missing", "x"), ENOENT);
    ERR("link into a missing dir", link("f", "missing/x"), ENOENT);
    ERR("symlink over an existing name", symlink("x", "g"), EEXIST);
    ERR("mkdir over a file", mkdir("g", 0755), EEXIST);
    ERR("mkdir over a symlink", mkdir("lf", 0755), EEXIST);
    ERR("rmdir a non-empty dir", rmdir("full"), ENOTEMPTY);
    ERR("rmdir a missing dir", rmdir("missing"), ENOENT);
}

static void test_tmpfile_mknod(void)
{
    int fd, r;
    struct stat st;
    char path[64];
    OK("O_TMPFILE", fd, open(".", O_TMPFILE | O_RDWR, 0600));
    TRUE("write into it", write(fd, "tmp", 3) == 3);
    TRUE("fstat: regular, no links", fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 0);
    OK("linkat(fd, \"\", AT_EMPTY_PATH) names it", r, linkat(fd, "", AT_FDCWD, "named", AT_EMPTY_PATH));
    TRUE("named, with its data", stat("named", &st) == 0 && st.st_size == 3 && st.st_nlink == 1);
    close(fd);
    OK("O_TMPFILE again", fd, open(".", O_TMPFILE | O_WRONLY, 0600));
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    OK("linkat(/proc/self/fd/N, AT_SYMLINK_FOLLOW)", r, linkat(AT_FDCWD, path, AT_FDCWD, "named2", AT_SYMLINK_FOLLOW));
    TRUE("named2 is a regular file", lstat("named2", &st) == 0 && S_ISREG(st.st_mode));
    close(fd);
    OK("O_TMPFILE|O_EXCL", fd, open(".", O_TMPFILE | O_EXCL | O_RDWR, 0600));
    ERR("cannot be linked: ENOENT", linkat(fd, "", AT_FDCWD, "named3", AT_EMPTY_PATH), ENOENT);
    close(fd);
    ERR("O_TMPFILE read-only: EINVAL", open(".", O_TMPFILE | O_RDONLY, 0600), EINVAL);
    ERR("O_TMPFILE of a file: ENOTDIR", open("g", O_TMPFILE | O_RDWR, 0600), ENOTDIR);
    ERR("O_TMPFILE of a missing dir: ENOENT", open("missing", O_TMPFILE | O_RDWR, 0600), ENOENT);

    OK("mknod a regular file (mode without type)", r, mknod("reg0", 0644, 0));
    TRUE("it is regular", lstat("reg0", &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);
    OK("mknod S_IFREG", r, mknod("reg1", S_IFREG | 0600, 0));
    TRUE("it is regular", lstat("reg1", &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600);
    OK("mknod S_IFSOCK", r, mknod("sock", S_IFSOCK | 0600, 0));
    TRUE("a socket node", lstat("sock", &st) == 0 && S_ISSOCK(st.st_mode));
    ERR("open a socket node: ENXIO", open("sock", O_RDONLY), ENXIO);
    OK("O_PATH of a socket node", fd, open("sock", O_PATH));
    close(fd);
    ERR("mknod S_IFDIR: EPERM", mknod("dirnode", S_IFDIR | 0755, 0), EPERM);
    ERR("mknod a bad type: EINVAL", mknod("bad", 0170000 | 0644, 0), EINVAL);
    ERR("mknod over an existing name", mknod("reg0", S_IFIFO | 0600, 0), EEXIST);
    ERR("mknod in a missing dir", mknod("missing/x", S_IFIFO | 0600, 0), ENOENT);
    ERR("mknodat(file fd, ...)", (fd = open("reg0", O_RDONLY), mknodat(fd, "x", S_IFIFO | 0600, 0)), ENOTDIR);
    close(fd);
}

/* /proc/self/fd/N and /dev/fd/N are magic links: followed to the open file itself. */
static void test_magic_links(void)
{
    char path[64];
    int f, p[2], d, fd, r;
    struct stat st;
    OK("a file", f, open("magic-file", O_RDWR | O_CREAT, 0600));
    TRUE("write", write(f, "0123456789", 10) == 10);
    OK("a pipe", r, pipe(p));
    OK("a dir", d, open("d", O_RDONLY | O_DIRECTORY));
    snprintf(path, sizeof path, "/proc/self/fd/%d/", f);
    ERR("file's link with a trailing slash: ENOTDIR", open(path, O_RDONLY), ENOTDIR);
    snprintf(path, sizeof path, "/proc/self/fd/%d/", p[0]);
    ERR("pipe's link with a trailing slash: ENOTDIR", open(path, O_RDONLY), ENOTDIR);
    snprintf(path, sizeof path, "/dev/fd/%d/", f);
    ERR("/dev/fd/N/ of a file: ENOTDIR", stat(path, &st), ENOTDIR);
    snprintf(path, sizeof path, "/proc/self/fd/%d/", d);
    OK("dir's link with a trailing slash", fd, open(path, O_RDONLY));
    close(fd);
    snprintf(path, sizeof path, "/proc/self/fd/%d/file", d);
    TRUE("a name under a dir's link", stat(path, &st) == 0 && S_ISREG(st.st_mode));
    snprintf(path, sizeof path, "/proc/self/fd/%d/x", p[0]);
    ERR("a name under a pipe's link: ENOTDIR", stat(path, &st), ENOTDIR);
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
    TRUE("lstat of the link: a symlink", lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
    TRUE("stat through it: the pipe", stat(path, &st) == 0 && S_ISFIFO(st.st_mode));
    ERR("O_DIRECTORY of a pipe's link: ENOTDIR", open(path, O_RDONLY | O_DIRECTORY), ENOTDIR);
    ERR("truncate of a pipe's link: EINVAL", truncate(path, 0), EINVAL);
    OK("chmod of a pipe's link", r, chmod(path, 0600));
    ERR("unlink of a fd link: EPERM", unlink(path), EPERM);
    ERR("mkdir over a fd link: EEXIST", mkdir(path, 0700), EEXIST);
    ERR("O_CREAT|O_EXCL of a fd link: EEXIST", open(path, O_RDONLY | O_CREAT | O_EXCL, 0600), EEXIST);
    snprintf(path, sizeof path, "/proc/self/fd/%d", f);
    ERR("O_NOFOLLOW of a fd link: ELOOP", open(path, O_RDONLY | O_NOFOLLOW), ELOOP);
    ERR("O_DIRECTORY of a file's link: ENOTDIR", open(path, O_RDONLY | O_DIRECTORY), ENOTDIR);
    OK("truncate through a fd link", r, truncate(path, 4));
    TRUE("truncated", fstat(f, &st) == 0 && st.st_size == 4);
    OK("chmod through a fd link", r, chmod(path, 0640));
    TRUE("chmodded", fstat(f, &st) == 0 && (st.st_mode & 0777) == 0640);
    OK("O_PATH|O_NOFOLLOW of a fd link", fd, open(path, O_PATH | O_NOFOLLOW));
    TRUE("fstat of it: the link", fstat(fd, &st) == 0 && S_ISLNK(st.st_mode));
    close(fd);
    close(f);
    close(d);
    close(p[0]);
    close(p[1]);
    /* procfs: an unknown name is ENOENT for every call, even the ones that create it */
    ERR("O_CREAT in /proc: ENOENT", open("/proc/pykern-new", O_CREAT | O_WRONLY, 0644), ENOENT);
    ERR("mkdir in /proc: ENOENT", mkdir("/proc/pykern-new", 0755), ENOENT);
    ERR("symlink in /proc/self/fd: ENOENT", symlink("x", "/proc/self/fd/pykern-new"), ENOENT);
    ERR("rename onto a new name in /proc: ENOENT", rename("/proc/self", "/proc/pykern-new"), ENOENT);
    ERR("unlink /proc/self: EPERM", unlink("/proc/self"), EPERM);
    ERR("rmdir /proc/self/fd: EPERM", rmdir("/proc/self/fd"), EPERM);
}

/* A process that is not root (a child that setuid to nobody): the mode bits, the owner
 * and the sticky bit decide, on every file system (pykern may run as root). */
static void test_permissions(void)
{
    mkdir("perm", 0755);
    mkdir("perm/priv", 0700);
    touch("perm/priv/f");
    touch("perm/pub");
    chmod("perm/pub", 0644);
    touch("perm/secret");
    chmod("perm/secret", 0600);
    mkdir("perm/open", 0777);
    chmod("perm/open", 0777);
    mkdir("perm/sticky", 0777);
    chmod("perm/sticky", 01777);
    touch("perm/sticky/roots");
    chmod("perm/sticky/roots", 0666);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct stat st;
        int fd, r;
        if (chmod(".", 0711) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
            printf("not root: permission checks skipped\n");
            _exit(0);
        }
        ERR("stat under a 0700 dir: EACCES", stat("perm/priv/f", &st), EACCES);
        TRUE("stat of the 0700 dir itself", stat("perm/priv", &st) == 0);
        ERR("0700 dir/.. : EACCES", stat("perm/priv/..", &st), EACCES);
        ERR("0700 dir/. : EACCES", stat("perm/priv/.", &st), EACCES);
        TRUE("0700 dir/ : the dir itself, searched in its parent", stat("perm/priv/", &st) == 0);
        ERR("chdir into it: EACCES", chdir("perm/priv"), EACCES);
        ERR("open it O_DIRECTORY: EACCES", open("perm/priv", O_RDONLY | O_DIRECTORY), EACCES);
        ERR("open a 0600 file: EACCES", open("perm/secret", O_RDONLY), EACCES);
        OK("open a 0644 file for reading", fd, open("perm/pub", O_RDONLY));
        close(fd);
        ERR("open it for writing: EACCES", open("perm/pub", O_WRONLY), EACCES);
        ERR("open it O_RDONLY|O_TRUNC: EACCES", open("perm/pub", O_RDONLY | O_TRUNC), EACCES);
        ERR("create in root's 0755 dir: EACCES", open("perm/new", O_CREAT | O_WRONLY, 0644), EACCES);
        ERR("mkdir there: EACCES", mkdir("perm/d", 0755), EACCES);
        ERR("mkfifo there: EACCES", mkfifo("perm/p", 0600), EACCES);
        ERR("symlink there: EACCES", symlink("x", "perm/l"), EACCES);
        ERR("unlink there: EACCES", unlink("perm/pub"), EACCES);
        ERR("rename there: EACCES", rename("perm/pub", "perm/x"), EACCES);
        ERR("rename into a 0777 dir from a 0755 one: EACCES", rename("perm/pub", "perm/open/x"), EACCES);
        ERR("chmod of root's file: EPERM", chmod("perm/pub", 0600), EPERM);
        ERR("utimensat now, no write access: EACCES", utimensat(AT_FDCWD, "perm/pub", NULL, 0), EACCES);
        struct timespec times[2] = {{1, 0}, {1, 0}};
        ERR("utimensat explicit times: EPERM", utimensat(AT_FDCWD, "perm/pub", times, 0), EPERM);
        ERR("truncate: EACCES", truncate("perm/pub", 0), EACCES);
        ERR("access W_OK: EACCES", access("perm/pub", W_OK), EACCES);
        OK("access R_OK", r, access("perm/pub", R_OK));
        ERR("access R_OK of a 0600 file: EACCES", access("perm/secret", R_OK), EACCES);
        OK("create in a 0777 dir", fd, open("perm/open/mine", O_CREAT | O_WRONLY, 0600));
        close(fd);
        OK("mkdir in it", r, mkdir("perm/open/d", 0700));
        OK("chmod of one's own file", r, chmod("perm/open/mine", 0640));
        OK("rename one's own file", r, rename("perm/open/mine", "perm/open/mine2"));
        OK("unlink it", r, unlink("perm/open/mine2"));
        OK("rmdir one's own dir", r, rmdir("perm/open/d"));
        OK("create in a sticky dir", fd, open("perm/sticky/mine", O_CREAT | O_WRONLY, 0600));
        close(fd);
        ERR("unlink root's file in a sticky dir: EPERM", unlink("perm/sticky/roots"), EPERM);
        ERR("rename root's file in a sticky dir: EPERM", rename("perm/sticky/roots", "perm/sticky/x"), EPERM);
        OK("open root's 0666 file there for writing", fd, open("perm/sticky/roots", O_WRONLY));
        close(fd);
        OK("unlink one's own file there", r, unlink("perm/sticky/mine"));
        if (strcmp(TMPDIR_BASE, "/dev/shm") != 0) { /* (pykern's tmpfs has no chown or xattrs yet) */
            ERR("chown of root's file: EPERM", chown("perm/pub", 65534, 65534), EPERM);
            ERR("lchown to oneself: EPERM", lchown("perm/pub", 65534, -1), EPERM);
            ERR("chgrp of root's file: EPERM", chown("perm/pub", -1, 65534), EPERM);
            OK("create a file of one's own", fd, open("perm/open/own", O_CREAT | O_WRONLY, 0600));
            close(fd);
            TRUE("it belongs to nobody", stat("perm/open/own", &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534);
            OK("chown of one's own file, unchanged", r, chown("perm/open/own", 65534, 65534));
            ERR("give it to root: EPERM", chown("perm/open/own", 0, -1), EPERM);
            ERR("chgrp it to root's group: EPERM", chown("perm/open/own", -1, 0), EPERM);
            ERR("setxattr user.* without write access: EACCES", setxattr("perm/pub", "user.x", "v", 1, 0), EACCES);
            ERR("setxattr trusted.*: EPERM", setxattr("perm/open/own", "trusted.x", "v", 1, 0), EPERM);
            ERR("removexattr user.* without write access: EACCES", removexattr("perm/pub", "user.x"), EACCES);
            unlink("perm/open/own");
        }
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    TRUE("the unprivileged child passed", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    chmod(".", 0700);
}

static void test_chroot(void)
{
    touch("marker");
    symlink("/marker", "abs-marker");
    symlink("/../../../marker", "up-marker");
    mkdir("jail-sub", 0755);
    ERR("chroot to a file: ENOTDIR", chroot("marker"), ENOTDIR);
    ERR("chroot to a missing dir: ENOENT", chroot("missing"), ENOENT);
    ERR("chroot \"\"", chroot(""), ENOENT);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct stat st;
        char buf[PATH_MAX];
        int r;
        OK("chroot into a subdirectory, cwd left outside", r, chroot("jail-sub"));
        char want[PATH_MAX];
        snprintf(want, sizeof want, "(unreachable)%s", tmpdir_path);
        TRUE("raw getcwd: (unreachable)", raw_getcwd(buf, sizeof buf) == (long)strlen(want) + 1 && !strcmp(buf, want));
        OK("chroot .", r, chroot("."));
        TRUE("the cwd stays", getcwd(buf, sizeof buf) != NULL);
        OK("chdir /", r, chdir("/"));
        TRUE("getcwd is /", getcwd(buf, sizeof buf) != NULL && !strcmp(buf, "/"));
        OK("chdir ..", r, chdir(".."));
        TRUE(".. at the new root stays there", getcwd(buf, sizeof buf) != NULL && !strcmp(buf, "/") &&
                                                   stat("/marker", &st) == 0);
        TRUE("/../../marker", stat("/../../marker", &st) == 0 && S_ISREG(st.st_mode));
        TRUE("an absolute symlink resolves inside", stat("abs-marker", &st) == 0 && S_ISREG(st.st_mode));
        TRUE("a symlink full of .. too", stat("up-marker", &st) == 0 && S_ISREG(st.st_mode));
        ERR("/tmp is not there", stat("/tmp", &st), ENOENT);
        OK("chdir jail-sub", r, chdir("jail-sub"));
        TRUE("getcwd inside", getcwd(buf, sizeof buf) != NULL && !strcmp(buf, "/jail-sub"));
        OK("chroot again, into jail-sub", r, chroot("."));
        TRUE("the cwd is its root", getcwd(buf, sizeof buf) != NULL && !strcmp(buf, "/"));
        ERR("the marker is above: ENOENT", stat("/marker", &st), ENOENT);
        ERR("and .. cannot reach it", stat("../marker", &st), ENOENT);
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    TRUE("the chrooted child passed", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char buf[PATH_MAX];
    TRUE("the parent's root is unchanged", getcwd(buf, sizeof buf) != NULL && !strcmp(buf, tmpdir_path));
}

int main(void)
{
    enter_tmpdir("paths");
    touch("f");
    test_empty_and_long();
    test_symlinks();
    test_trailing_slashes();
    test_dots();
    test_dirfds();
    test_cwd();
    test_rename_link();
    test_tmpfile_mknod();
    test_magic_links();
    test_permissions();
    test_chroot();
    printf("paths: all checks passed\n");
    return 0;
}

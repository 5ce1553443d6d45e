/* rocheck DIR: every way to change a file of DIR, a read-only mount (pykern run --mount
 * HOST:DIR:ro), must fail with EROFS, by path and by descriptor; reading must work, and
 * a FIFO there opens for writing (Linux's may_open skips EROFS for special files).
 * DIR must hold a regular file "file" (0644), a directory "dir" and a FIFO "fifo".
 * Not compared with Linux: making a read-only bind mount natively needs mount(2). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../errcheck.h"

int main(int argc, char **argv)
{
    if (argc != 2 || chdir(argv[1]) != 0) {
        fprintf(stderr, "usage: rocheck DIR (a read-only mount)\n");
        return 2;
    }
    int fd, r;
    struct stat st;
    char buf[16];
    OK("open for reading", fd, open("file", O_RDONLY));
    TRUE("read", read(fd, buf, sizeof buf) > 0);
    TRUE("stat", stat("file", &st) == 0 && (st.st_mode & 0777) == 0644);
    OK("access R_OK", r, access("file", R_OK));
    ERR("access W_OK", access("file", W_OK), EROFS);
    ERR("open O_WRONLY", open("file", O_WRONLY), EROFS);
    ERR("open O_RDWR", open("file", O_RDWR), EROFS);
    ERR("open O_RDONLY|O_TRUNC", open("file", O_RDONLY | O_TRUNC), EROFS);
    ERR("open O_CREAT of a new name", open("new", O_CREAT | O_WRONLY, 0644), EROFS);
    ERR("creat", creat("new", 0644), EROFS);
    ERR("O_TMPFILE", open(".", O_TMPFILE | O_RDWR, 0600), EROFS);
    ERR("mkdir", mkdir("newdir", 0755), EROFS);
    ERR("mknod FIFO", mknod("newfifo", S_IFIFO | 0600, 0), EROFS);
    ERR("symlink", symlink("file", "newlink"), EROFS);
    ERR("link", link("file", "newlink"), EROFS);
    ERR("rename", rename("file", "renamed"), EROFS);
    ERR("unlink", unlink("file"), EROFS);
    ERR("rmdir", rmdir("dir"), EROFS);
    ERR("chmod", chmod("file", 0600), EROFS);
    ERR("fchmod", fchmod(fd, 0600), EROFS);
    ERR("fchmodat", fchmodat(AT_FDCWD, "file", 0600, 0), EROFS);
    ERR("chown", chown("file", 1, 1), EROFS);
    ERR("lchown", lchown("file", 1, 1), EROFS);
    ERR("fchown", fchown(fd, 1, 1), EROFS);
    ERR("utimensat", utimensat(AT_FDCWD, "file", NULL, 0), EROFS);
    ERR("futimens", futimens(fd, NULL), EROFS);
    ERR("truncate", truncate("file", 0), EROFS);
    ERR("setxattr", setxattr("file", "user.x", "v", 1, 0), EROFS);
    ERR("lsetxattr", lsetxattr("file", "user.x", "v", 1, 0), EROFS);
    ERR("fsetxattr", fsetxattr(fd, "user.x", "v", 1, 0), EROFS);
    ERR("removexattr", removexattr("file", "user.x"), EROFS);
    ERR("fremovexattr", fremovexattr(fd, "user.x"), EROFS);
    close(fd);
    TRUE("unchanged", stat("file", &st) == 0 && (st.st_mode & 0777) == 0644 && st.st_size > 0);
    OK("a FIFO opens O_RDWR", fd, open("fifo", O_RDWR));
    TRUE("and passes data", write(fd, "x", 1) == 1 && read(fd, buf, 1) == 1);
    close(fd);
    OK("access W_OK of a FIFO", r, access("fifo", W_OK));
    printf("rocheck: all checks passed\n");
    return 0;
}

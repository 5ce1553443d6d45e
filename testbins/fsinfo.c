/* fsinfo: statfs/fstatfs (the host's file system: same numbers as natively), the xattr
 * calls' size protocol and errors, setting and removing an attribute of a temporary file
 * (or the same errno as natively where the file system has none), fadvise64's checks, mincore on touched and untouched
 * pages, and getsockname/getpeername on files that are not sockets. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "check.h"

int main(void)
{
    struct statfs a, b;
    int fd = open("testbins/fsinfo.c", O_RDONLY);
    CHECK(statfs("testbins/fsinfo.c", &a) == 0 && fstatfs(fd, &b) == 0, "statfs and fstatfs");
    CHECK(a.f_type == b.f_type && a.f_bsize == b.f_bsize && a.f_namelen == b.f_namelen, "the same file system");
    printf("f_type %#lx f_bsize %ld f_namelen %ld\n", (long)a.f_type, (long)a.f_bsize, (long)a.f_namelen);
    CHECK(statfs("no/such/file", &a) == -1 && errno == ENOENT, "statfs missing: ENOENT");
    int p[2];
    CHECK(pipe(p) == 0 && fstatfs(p[0], &b) == 0 && b.f_type == 0x50495045, "fstatfs of a pipe: PIPEFS_MAGIC");

    char value[64];
    errno = 0;
    ssize_t got = getxattr("testbins/fsinfo.c", "user.pykern-none", value, sizeof value);
    CHECK(got == -1 && (errno == ENODATA || errno == ENOTSUP), "getxattr of a missing attribute");
    int same_errno = errno;
    CHECK(fgetxattr(fd, "user.pykern-none", value, sizeof value) == -1 && errno == same_errno, "fgetxattr too");
    CHECK(fgetxattr(p[0], "user.x", value, sizeof value) == -1 && errno == ENODATA, "a pipe has none: ENODATA");
    CHECK(flistxattr(p[0], value, sizeof value) == 0, "a pipe lists none");
    ssize_t names = listxattr("testbins/fsinfo.c", NULL, 0);
    CHECK(names >= 0 || errno == ENOTSUP, "listxattr size query");
    CHECK(getxattr("testbins/fsinfo.c", "", value, sizeof value) == -1 && errno == ERANGE, "empty name: ERANGE");

    char tmp[] = "/tmp/pykern-fsinfo-XXXXXX";
    int t = mkstemp(tmp);
    CHECK(t >= 0, "mkstemp");
    if (setxattr(tmp, "user.pykern", "hello", 5, 0) == 0) {
        CHECK(getxattr(tmp, "user.pykern", value, sizeof value) == 5 && memcmp(value, "hello", 5) == 0,
              "setxattr then getxattr");
        CHECK(getxattr(tmp, "user.pykern", value, 2) == -1 && errno == ERANGE, "value too small: ERANGE");
        CHECK(getxattr(tmp, "user.pykern", NULL, 0) == 5, "size query");
        CHECK(flistxattr(t, value, sizeof value) == 12 && strcmp(value, "user.pykern") == 0, "flistxattr lists it");
        CHECK(setxattr(tmp, "user.pykern", "x", 1, XATTR_CREATE) == -1 && errno == EEXIST, "XATTR_CREATE: EEXIST");
        CHECK(fsetxattr(t, "user.pykern", "bye", 3, XATTR_REPLACE) == 0, "fsetxattr XATTR_REPLACE");
        CHECK(fgetxattr(t, "user.pykern", value, sizeof value) == 3 && memcmp(value, "bye", 3) == 0, "replaced");
        CHECK(removexattr(tmp, "user.pykern") == 0, "removexattr");
        CHECK(fremovexattr(t, "user.pykern") == -1 && errno == ENODATA, "removed twice: ENODATA");
        CHECK(lsetxattr(tmp, "user.other", "", 0, XATTR_REPLACE) == -1 && errno == ENODATA,
              "XATTR_REPLACE of a missing one: ENODATA");
    } else {
        printf("setxattr: errno %d (no user attributes here)\n", errno);
    }
    CHECK(setxattr(tmp, "user.pykern", "x", 1, 4) == -1 && errno == EINVAL, "bad flags: EINVAL");
    CHECK(setxattr(tmp, "", "x", 1, 0) == -1 && errno == ERANGE, "setxattr empty name: ERANGE");
    static char big[65537];
    CHECK(setxattr(tmp, "user.big", big, sizeof big, 0) == -1 && errno == E2BIG, "value over 64 KiB: E2BIG");
    errno = 0;
    int r = fsetxattr(p[0], "user.x", "v", 1, 0);
    printf("fsetxattr on a pipe: %d, errno %d\n", r, errno);
    errno = 0;
    r = fremovexattr(p[0], "user.x");
    printf("fremovexattr on a pipe: %d, errno %d\n", r, errno);
    close(t);
    unlink(tmp);

    CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) == 0, "fadvise on a file");
    CHECK(posix_fadvise(fd, 0, 0, 99) == EINVAL, "fadvise bad advice: EINVAL");
    CHECK(posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL) == ESPIPE, "fadvise on a pipe: ESPIPE");

    unsigned char vec[4];
    char *m = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m[0] = 1;
    m[2 * 4096] = 1;
    CHECK(mincore(m, 4 * 4096, vec) == 0 && (vec[0] & 1) && !(vec[1] & 1) && (vec[2] & 1) && !(vec[3] & 1),
          "mincore: touched pages resident, untouched not");
    CHECK(mincore(m + 1, 4096, vec) == -1 && errno == EINVAL, "mincore unaligned: EINVAL");
    munmap(m + 4096, 4096);
    CHECK(mincore(m, 4 * 4096, vec) == -1 && errno == ENOMEM, "mincore over a hole: ENOMEM");

    struct sockaddr sa;
    socklen_t len = sizeof sa;
    CHECK(getpeername(fd, &sa, &len) == -1 && errno == ENOTSOCK, "getpeername on a file: ENOTSOCK");
    CHECK(getsockname(p[0], &sa, &len) == -1 && errno == ENOTSOCK, "getsockname on a pipe: ENOTSOCK");
    CHECK(getpeername(999, &sa, &len) == -1 && errno == EBADF, "getpeername on a closed fd: EBADF");

    printf("fsinfo: ok\n");
    return 0;
}

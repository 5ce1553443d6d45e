/* io_uring: a call Linux has and pykern does not: ENOSYS, with one warning. */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    for (int i = 0; i < 3; i++) {
        errno = 0;
        long r = syscall(SYS_io_uring_setup, 1, NULL);
        printf("io_uring_setup = %ld %s\n", r, errno == ENOSYS ? "ENOSYS" : "other");
    }
    return 0;
}

/* nosys: a syscall number Linux does not have returns ENOSYS; the program goes on. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(void)
{
    errno = 0;
    long r = syscall(499);
    printf("syscall(499) = %ld, errno %s\n", r, errno == ENOSYS ? "ENOSYS" : "other");
    errno = 0;
    r = syscall(100000);
    printf("syscall(100000) = %ld, errno %s\n", r, errno == ENOSYS ? "ENOSYS" : "other");
    printf("still running\n");
    return 0;
}

/* bench write_null: N one-byte write(2) calls to /dev/null. argv[1]: calls (default 1,000,000). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000, ok = 0;
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0) {
        perror("open /dev/null");
        return 1;
    }
    for (long i = 0; i < n; i++)
        ok += write(fd, "x", 1) == 1;
    printf("write_null calls=%ld ok=%ld\n", n, ok);
    return ok != n;
}

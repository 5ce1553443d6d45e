/* bench fork_bigmap: a process maps 1 GiB of anonymous memory, touches 1 MiB of it, then
 * forks N times (the child checks a byte and exits, the parent waits). What a fork costs
 * when the address space is large but mostly untouched. argv[1]: forks (default 20). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAP_SIZE (1ul << 30)
#define TOUCHED (1ul << 20)

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20, ok = 0;
    unsigned char *p = mmap(NULL, MAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    memset(p, 0x5a, TOUCHED);
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0)
            _exit(p[TOUCHED - 1] == 0x5a && p[MAP_SIZE - 1] == 0 ? 0 : 1);
        int status;
        if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
    }
    printf("fork_bigmap forks=%ld ok=%ld\n", n, ok);
    return ok != n;
}

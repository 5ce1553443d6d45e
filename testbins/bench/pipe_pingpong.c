/* bench pipe_pingpong: N round trips of one byte between two processes over two pipes.
 * argv[1]: round trips (default 10,000). Prints a checksum of the bytes echoed back. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000, sum = 0;
    int ping[2], pong[2];
    if (pipe(ping) || pipe(pong)) {
        perror("pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        unsigned char c;
        close(ping[1]);
        close(pong[0]);
        while (read(ping[0], &c, 1) == 1) {
            c = (unsigned char)(c * 7 + 1);
            if (write(pong[1], &c, 1) != 1)
                _exit(2);
        }
        _exit(0);
    }
    close(ping[0]);
    close(pong[1]);
    for (long i = 0; i < n; i++) {
        unsigned char c = (unsigned char)i;
        if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1) {
            fprintf(stderr, "pipe_pingpong: short transfer at %ld\n", i);
            return 1;
        }
        sum += c;
    }
    close(ping[1]);
    int status;
    waitpid(pid, &status, 0);
    printf("pipe_pingpong trips=%ld sum=%ld child=%d\n", n, sum, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

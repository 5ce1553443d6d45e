/* bench pipeline_cpu: a CPU-bound producer piped into a consumer, the shape of
 * `gzip | cat`. The parent computes a multiply/xor series and writes a line per
 * thousand steps into a pipe; a forked child reads the pipe to its end, as cat does,
 * and counts bytes and lines. With two tasks pykern preempts, so this measures a
 * process that is not alone. argv[1]: millions of steps. Prints what the child read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void consume(int fd)
{
    char buf[65536];
    unsigned long long bytes = 0, lines = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        bytes += (unsigned long long)n;
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    }
    printf("pipeline_cpu: consumer read %llu bytes, %llu lines\n", bytes, lines);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    uint64_t steps = (uint64_t)(argc > 1 ? atol(argv[1]) : 200) * 1000000;
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(fds[1]);
        consume(fds[0]);
        _exit(0);
    }
    close(fds[0]);
    FILE *out = fdopen(fds[1], "w");
    uint64_t sum = 0;
    for (uint64_t i = 0; i < steps; i++) {
        uint64_t x = i * 0x9E3779B97F4A7C15ull;
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ull;
        sum += x ^ (x >> 32);
        if (i % 1000 == 999)
            fprintf(out, "%llu %016llx\n", (unsigned long long)i, (unsigned long long)sum);
    }
    fclose(out);
    int status;
    if (waitpid(pid, &status, 0) != pid || status != 0) {
        fprintf(stderr, "pipeline_cpu: consumer failed\n");
        return 1;
    }
    printf("pipeline_cpu: producer checksum %016llx\n", (unsigned long long)sum);
    return 0;
}

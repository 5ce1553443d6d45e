/* stdin_echo: copies standard input to standard output with read/write, then reports
 * the byte and line counts on stderr. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    char buf[4096];
    long bytes = 0, lines = 0;
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
        bytes += n;
        if (write(1, buf, n) != n)
            return 2;
    }
    fprintf(stderr, "%ld bytes, %ld lines\n", bytes, lines);
    return n < 0 ? 1 : 0;
}

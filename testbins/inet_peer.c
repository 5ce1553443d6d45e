/* inet_peer: one side of a TCP conversation with a program outside (tests/test_inet.py
 * runs it against a host server in Python, and as a server for a host client).
 *   inet_peer connect HOST PORT: send "hello from the guest\n", shut down writing, print
 *                                what comes back until EOF.
 *   inet_peer serve ADDR:        listen on ADDR port 0, print "port N", accept one client,
 *                                answer each line it sends upper-cased, until EOF.
 * Without arguments it does both with itself (a forked server), as the testbins do. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static socklen_t parse(const char *host, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        return sizeof *in;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        return sizeof *in6;
    }
    fprintf(stderr, "bad address %s\n", host);
    exit(2);
}

static int do_connect(const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t len = parse(host, port, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len)) {
        perror("connect");
        return 1;
    }
    const char *msg = "hello from the guest\n";
    if (write(fd, msg, strlen(msg)) != (ssize_t)strlen(msg) || shutdown(fd, SHUT_WR)) {
        perror("write");
        return 1;
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        fwrite(buf, 1, n, stdout);
    if (n < 0) {
        perror("read");
        return 1;
    }
    close(fd);
    return 0;
}

static int listen_on(const char *host, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = parse(host, 0, &ss);
    int ls = socket(ss.ss_family, SOCK_STREAM, 0);
    if (ls < 0 || bind(ls, (struct sockaddr *)&ss, len) || listen(ls, 1)) {
        perror("listen");
        exit(1);
    }
    len = sizeof ss;
    getsockname(ls, (struct sockaddr *)&ss, &len);
    *port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                          : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return ls;
}

static int do_serve(int ls)
{
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) {
        perror("accept");
        return 1;
    }
    FILE *in = fdopen(fd, "r");
    char line[4096];
    while (fgets(line, sizeof line, in)) {
        for (char *p = line; *p; p++)
            *p = toupper((unsigned char)*p);
        write(fd, line, strlen(line));
    }
    fclose(in);
    close(ls);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "connect"))
        return do_connect(argv[2], atoi(argv[3]));
    if (argc == 3 && !strcmp(argv[1], "serve")) {
        int port;
        int ls = listen_on(argv[2], &port);
        printf("port %d\n", port);
        fflush(stdout);
        return do_serve(ls);
    }
    const char *hosts[] = {"127.0.0.1", "::1"};
    for (int i = 0; i < 2; i++) {
        int port;
        int ls = listen_on(hosts[i], &port);
        pid_t server = fork();
        if (server == 0)
            _exit(do_serve(ls));
        close(ls);
        CHECK(do_connect(hosts[i], port) == 0, "talked to the server");
        int status;
        waitpid(server, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the server is done");
    }
    return 0;
}

/* inet_threads: a blocked socket call sleeps in the scheduler. One thread blocks in
 * accept on a dual-stack listener ([::], IPV6_V6ONLY off) while the main thread computes,
 * then connects over IPv4: the acceptor sees ::ffff:127.0.0.1 and reads what was sent.
 * A second thread blocks in recv while the main thread computes and then sends. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

static int ls, pair_a, pair_b;
static volatile int computing;
/* what the threads saw, printed by the main thread after the join (output order stays fixed) */
static int accepted_late, read_ok, recv_late;
static char peer_text[64];

static void *acceptor(void *arg)
{
    (void)arg;
    struct sockaddr_in6 peer;
    socklen_t len = sizeof peer;
    int c = accept(ls, (struct sockaddr *)&peer, &len);
    accepted_late = c >= 0 && computing == 2;
    inet_ntop(AF_INET6, &peer.sin6_addr, peer_text, sizeof peer_text);
    char buf[8];
    read_ok = recv(c, buf, 3, MSG_WAITALL) == 3 && !memcmp(buf, "abc", 3);
    close(c);
    return NULL;
}

static void *receiver(void *arg)
{
    (void)arg;
    char buf[8];
    recv_late = recv(pair_b, buf, sizeof buf, 0) == 4 && computing == 2;
    return NULL;
}

static void compute(void)
{
    computing = 1;
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 20000000; i++)
        x += i;
    computing = 2;
    fputs("computed while the other thread slept\n", stderr);  /* stderr: apart from the other lines */
}

int main(void)
{
    ls = socket(AF_INET6, SOCK_STREAM, 0);
    int off = 0;
    CHECK(setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) == 0, "IPV6_V6ONLY off");
    struct sockaddr_in6 any = {.sin6_family = AF_INET6};
    socklen_t len = sizeof any;
    CHECK(bind(ls, (struct sockaddr *)&any, sizeof any) == 0 && listen(ls, 4) == 0, "listen on [::]");
    getsockname(ls, (struct sockaddr *)&any, &len);
    pthread_t t;
    pthread_create(&t, NULL, acceptor, NULL);
    compute();
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = any.sin6_port,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int connected = connect(c, (struct sockaddr *)&to, sizeof to) == 0;
    int wrote = write(c, "abc", 3) == 3;
    pthread_join(t, NULL);
    CHECK(connected && wrote, "connect over IPv4 and write");
    CHECK(accepted_late, "accept returned after the main thread computed");
    printf("accepted from %s\n", peer_text);
    CHECK(read_ok, "read what the client sent");
    close(c);

    /* a connected pair of TCP sockets; a thread waits in recv */
    int l2 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    len = sizeof lo;
    bind(l2, (struct sockaddr *)&lo, sizeof lo);
    listen(l2, 1);
    getsockname(l2, (struct sockaddr *)&lo, &len);
    pair_a = socket(AF_INET, SOCK_STREAM, 0);
    connect(pair_a, (struct sockaddr *)&lo, sizeof lo);
    pair_b = accept(l2, NULL, NULL);
    computing = 0;
    pthread_create(&t, NULL, receiver, NULL);
    compute();
    int sent = send(pair_a, "ping", 4, 0) == 4;
    pthread_join(t, NULL);
    CHECK(sent, "send");
    CHECK(recv_late, "recv woke after the send");
    puts("done");
    return 0;
}

/* netlink_route: AF_NETLINK NETLINK_ROUTE as getifaddrs() and `ip` use it, printing only
 * what is stable across machines. getifaddrs() has "lo" with 127.0.0.1 and IFF_UP|
 * IFF_LOOPBACK; a raw RTM_GETLINK dump has lo (index 1, IFLA_IFNAME, ARPHRD_LOOPBACK) and
 * ends with NLMSG_DONE, every message carrying our nl_pid and seq; an RTM_GETADDR dump has
 * 127.0.0.1/8 on lo; bind's autobind (nl_pid is the pid; a second socket gets another one),
 * getsockname before and after, MSG_PEEK|MSG_TRUNC for a datagram's size; the errnos of
 * bad input (type, protocol, address length and family, socketpair, listen). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

#define SHOW(call)                                                                        \
    do {                                                                                  \
        errno = 0;                                                                        \
        long r_ = (long)(call);                                                           \
        printf("%s = %ld %s\n", #call, r_ < 0 ? -1L : r_, r_ < 0 ? strerrorname_np(errno) : ""); \
        fflush(stdout);                                                                   \
    } while (0)

static char buf[65536];

static void request(int fd, int type, int seq, int family)
{
    struct {
        struct nlmsghdr h;
        struct rtgenmsg g;
    } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = type;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = seq;
    req.g.rtgen_family = family;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) != sizeof req) {
        perror("sendto");
        exit(1);
    }
}

int main(void)
{
    struct ifaddrs *list;
    CHECK(getifaddrs(&list) == 0, "getifaddrs");
    int lo_inet = 0;
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (strcmp(i->ifa_name, "lo") || !i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        char text[32];
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, text, sizeof text);
        printf("lo %s up %d loopback %d\n", text, !!(i->ifa_flags & IFF_UP), !!(i->ifa_flags & IFF_LOOPBACK));
        lo_inet = 1;
    }
    freeifaddrs(list);
    CHECK(lo_inet, "lo has an IPv4 address");
    CHECK(if_nametoindex("lo") == 1, "if_nametoindex(lo) is 1");

    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    CHECK(fd >= 0, "socket");
    struct sockaddr_nl me;
    socklen_t len = sizeof me;
    CHECK(getsockname(fd, (struct sockaddr *)&me, &len) == 0 && len == sizeof me && me.nl_pid == 0,
          "getsockname before bind: nl_pid 0");
    struct sockaddr_nl any = {.nl_family = AF_NETLINK};
    CHECK(bind(fd, (struct sockaddr *)&any, sizeof any) == 0, "bind nl_pid 0");
    len = sizeof me;
    getsockname(fd, (struct sockaddr *)&me, &len);
    CHECK(me.nl_family == AF_NETLINK && me.nl_pid == (unsigned)getpid(), "autobind: nl_pid is the pid");
    int other = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE);
    struct sockaddr_nl second;
    len = sizeof second;
    CHECK(connect(other, (struct sockaddr *)&any, sizeof any) == 0, "connect to the kernel");
    getsockname(other, (struct sockaddr *)&second, &len);
    CHECK(second.nl_pid != 0 && second.nl_pid != me.nl_pid, "a second socket gets another nl_pid");
    struct sockaddr_nl taken = {.nl_family = AF_NETLINK, .nl_pid = me.nl_pid};
    int third = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    SHOW(bind(third, (struct sockaddr *)&taken, sizeof taken));
    close(third);
    close(other);

    request(fd, RTM_GETLINK, 77, AF_UNSPEC);
    ssize_t n = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_TRUNC);
    CHECK(n > 0, "MSG_PEEK|MSG_TRUNC gives the datagram's size");
    int links = 0, lo = 0, done = 0, pids_ok = 1, seqs_ok = 1;
    while (!done) {
        n = recv(fd, buf, sizeof buf, 0);
        CHECK(n > 0, "recv a dump datagram");
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            pids_ok &= h->nlmsg_pid == me.nl_pid;
            seqs_ok &= h->nlmsg_seq == 77;
            if (h->nlmsg_type == NLMSG_DONE) {
                done = 1;
                break;
            }
            if (h->nlmsg_type != RTM_NEWLINK)
                continue;
            links++;
            struct ifinfomsg *ifi = NLMSG_DATA(h);
            int alen = IFLA_PAYLOAD(h);
            for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
                if (a->rta_type == IFLA_IFNAME && !strcmp(RTA_DATA(a), "lo")) {
                    lo = 1;
                    printf("link lo index %d type %s up %d\n", ifi->ifi_index,
                           ifi->ifi_type == ARPHRD_LOOPBACK ? "ARPHRD_LOOPBACK" : "other",
                           !!(ifi->ifi_flags & IFF_UP));
                }
        }
    }
    CHECK(links >= 1 && lo, "the dump has lo");
    CHECK(pids_ok, "every message carries our nl_pid");
    CHECK(seqs_ok, "and our seq");

    request(fd, RTM_GETADDR, 78, AF_INET);
    int lo_addr = 0;
    done = 0;
    while (!done) {
        n = recv(fd, buf, sizeof buf, 0);
        CHECK(n > 0, "recv an address datagram");
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE) {
                done = 1;
                break;
            }
            if (h->nlmsg_type != RTM_NEWADDR)
                continue;
            struct ifaddrmsg *ifa = NLMSG_DATA(h);
            int alen = IFA_PAYLOAD(h);
            for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
                if (a->rta_type == IFA_LOCAL && ifa->ifa_index == 1) {
                    char text[32];
                    inet_ntop(AF_INET, RTA_DATA(a), text, sizeof text);
                    printf("address %s/%d on index 1\n", text, ifa->ifa_prefixlen);
                    lo_addr = 1;
                }
        }
    }
    CHECK(lo_addr, "the address dump has lo's");
    SHOW(recv(fd, buf, sizeof buf, MSG_DONTWAIT));

    puts("-- bad input");
    SHOW(socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE));
    SHOW(socket(AF_NETLINK, SOCK_RAW, 40));
    SHOW(socket(AF_NETLINK, SOCK_RAW, -1));
    int sv[2];
    SHOW(socketpair(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, sv));
    int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    SHOW(bind(s, (struct sockaddr *)&any, sizeof any - 1));
    struct sockaddr_nl wrong = {.nl_family = AF_INET};
    SHOW(bind(s, (struct sockaddr *)&wrong, sizeof wrong));
    SHOW(listen(s, 1));
    SHOW(accept(s, NULL, NULL));
    SHOW(recv(s, buf, sizeof buf, MSG_DONTWAIT));
    close(s);
    close(fd);
    puts("done");
    return 0;
}

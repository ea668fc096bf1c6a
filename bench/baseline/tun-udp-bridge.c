/*
 * Baseline (a) of bench/stack-throughput.ts: the simplest possible user-space tunnel.
 *
 *   tun-udp-bridge NETNS IFNAME LOCAL_PORT PEER_PORT
 *
 * Binds a UDP socket to 127.0.0.1:LOCAL_PORT in the namespace it starts in, then enters the
 * network namespace NETNS (/var/run/netns/NETNS) and creates the TUN device IFNAME there
 * (IFF_TUN | IFF_NO_PI). The socket stays in the first namespace, so two bridges in two
 * namespaces reach each other over the host's loopback. Each IP packet read from the TUN device
 * goes to 127.0.0.1:PEER_PORT behind a 4-octet header (EtherType, 2 reserved octets: the IPoIB
 * encapsulation header); each datagram received has its header checked and stripped and is
 * written to the TUN device. Deliberately naive: blocking I/O, one packet per system call, no
 * batching, no offloads; one thread per direction. Prints "ready" once the device exists; the
 * caller configures it (MTU, address, up). Runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum { HDR_LEN = 4, BUF_LEN = 65536 + HDR_LEN };

/* Socket buffer size asked for (the kernel caps it at net.core.{r,w}mem_max); 0 keeps the
 * system default. The bench builds with -DBRIDGE_SOCKBUF=N to compare. */
#ifndef BRIDGE_SOCKBUF
#define BRIDGE_SOCKBUF (4 << 20)
#endif

static int tun_fd = -1;
static int udp_fd = -1;
static struct sockaddr_in peer;

static void die(const char *what) {
  fprintf(stderr, "tun-udp-bridge: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int parse_port(const char *s) {
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < 1 || v > 65535) {
    fprintf(stderr, "tun-udp-bridge: bad port '%s'\n", s);
    exit(2);
  }
  return (int)v;
}

/* TUN -> UDP: prefix the EtherType taken from the IP version nibble. */
static void *tun_to_udp(void *arg) {
  (void)arg;
  static uint8_t buf[BUF_LEN];
  for (;;) {
    ssize_t n = read(tun_fd, buf + HDR_LEN, BUF_LEN - HDR_LEN);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("read tun");
    }
    if (n < 1) continue;
    uint16_t type = (buf[HDR_LEN] >> 4) == 6 ? 0x86dd : 0x0800;
    buf[0] = (uint8_t)(type >> 8);
    buf[1] = (uint8_t)type;
    buf[2] = 0;
    buf[3] = 0;
    /* A full socket buffer drops here like a lossy link would; TCP recovers. */
    if (sendto(udp_fd, buf, (size_t)n + HDR_LEN, 0, (struct sockaddr *)&peer, sizeof peer) < 0 && errno != ENOBUFS && errno != EAGAIN &&
        errno != ECONNREFUSED && errno != EINTR)
      die("sendto");
  }
  return NULL;
}

/* UDP -> TUN: only IPv4/IPv6 payloads behind a 4-octet header are written. */
static void *udp_to_tun(void *arg) {
  (void)arg;
  static uint8_t buf[BUF_LEN];
  for (;;) {
    ssize_t n = recv(udp_fd, buf, BUF_LEN, 0);
    if (n < 0) {
      if (errno == EINTR || errno == ECONNREFUSED) continue;
      die("recv");
    }
    if (n <= HDR_LEN) continue;
    uint16_t type = (uint16_t)(buf[0] << 8 | buf[1]);
    if (type != 0x0800 && type != 0x86dd) continue;
    if (write(tun_fd, buf + HDR_LEN, (size_t)n - HDR_LEN) < 0 && errno != EINVAL && errno != EIO) die("write tun");
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: tun-udp-bridge NETNS IFNAME LOCAL_PORT PEER_PORT\n");
    return 2;
  }
  const char *netns = argv[1];
  const char *ifname = argv[2];
  if (strlen(ifname) >= IFNAMSIZ) {
    fprintf(stderr, "tun-udp-bridge: interface name too long\n");
    return 2;
  }

  udp_fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (udp_fd < 0) die("socket");
  int sz = BRIDGE_SOCKBUF;
  if (sz > 0) {
    setsockopt(udp_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    setsockopt(udp_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  }
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons((uint16_t)parse_port(argv[3]))};
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(udp_fd, (struct sockaddr *)&local, sizeof local) < 0) die("bind");
  peer = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)parse_port(argv[4]))};
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  char path[512];
  snprintf(path, sizeof path, "/var/run/netns/%s", netns);
  int ns_fd = open(path, O_RDONLY | O_CLOEXEC);
  if (ns_fd < 0) die(path);
  if (setns(ns_fd, CLONE_NEWNET) < 0) die("setns");
  close(ns_fd);

  tun_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (tun_fd < 0) die("open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, ifname, strlen(ifname));
  if (ioctl(tun_fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");

  printf("ready\n");
  fflush(stdout);

  pthread_t rx;
  if (pthread_create(&rx, NULL, udp_to_tun, NULL) != 0) die("pthread_create");
  tun_to_udp(NULL);
  return 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Command-line options (after EAL's and "--") and the port profile file.
 *
 * The profile is a small INI file: "[port N]" sections of "key = value" lines, "#" comments.
 * Unknown sections and keys are refused with their line number. See drivers-config/.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp.h"
#include "mf/mf_args.h"

static const struct dp_config defaults = {
	.instance = "mfwd",
	.max_sessions = 65536,
	.nb_mbufs = 16383,
	.idle_sleep_us = 1000,
	.worker_nap_us = 50,
	.punt_pps = 2000,
	.sess_huge_mb = 256,
	.frag_timeout_ms = 1000,
	.frag_max_datagrams = 1024,
	.frag_max_bytes = 9216,
	.capture_dir = "/var/lib/mfwd/capture",
};

static const struct dp_port_conf port_defaults = {
	.present = true,
	.nb_rxq = 1,
	.rx_desc = 1024,
	.tx_desc = 1024,
	.offloads = true,
	.fragment = true,
};

/* The profile and the options want -EINVAL for every bad number. */
static int
parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	return mf_parse_u32(s, min, max, out) == 0 ? 0 : -EINVAL;
}

static void
usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [EAL options] -- --ports FILE [options]\n"
		"  --ports FILE         port profile (see drivers-config/)\n"
		"  --instance NAME      shared-memory instance name (default mfwd)\n"
		"  --sessions FILE      JSON array of session specs installed at start\n"
		"  --max-sessions N     session capacity (default 65536)\n"
		"  --mbufs N            packet mbufs (default 16383)\n"
		"  --idle-sleep-us N    control lcore's longest idle sleep (default 1000)\n"
		"  --worker-nap-us N    a worker idle for 1 ms sleeps N us at a time until\n"
		"                       something arrives (default 50, 10..20000)\n"
		"  --busy-poll          workers never sleep (lowest latency, a core each always)\n"
		"  --punt-pps N         STUN and DTLS datagrams a worker passes to the control\n"
		"                       lcore a second (default 2000, 100..1000000)\n"
		"  --session-hugepages-mb N  hugepage memory session entries and state may take\n"
		"                       (default 256, about 110,000 sessions of one output; the\n"
		"                       rest come from the heap; 0: all from the heap)\n"
		"  --check              read the port profile, print it, exit (no port is probed)\n"
		"  --frag-timeout-ms N  a datagram's fragments wait at most this long (default 1000)\n"
		"  --frag-max-datagrams N  datagrams in reassembly per worker (default 1024)\n"
		"  --frag-max-bytes N   largest datagram reassembled, IP header included (default\n"
		"                       9216; at most 8 fragments in any case)\n"
		"  --dtls-cert FILE     DTLS certificate (PEM), so its fingerprint outlives restarts;\n"
		"  --dtls-key FILE      with its private key (PEM). Default: a P-256 certificate\n"
		"                       made at start\n"
		"  --capture-dir DIR    where session.capture writes its files (default\n"
		"                       /var/lib/mfwd/capture)\n"
		"  --test-clock         session timers run only when a clock.advance command\n"
		"                       moves their clock (tests; never in production)\n",
		prog);
}

static int
copy_path(char *dst, size_t cap, const char *src)
{
	if (src[0] == '\0' || strlen(src) >= cap)
		return -EINVAL;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

int
dp_config_parse_args(struct dp_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ports", required_argument, NULL, 'p' },
		{ "instance", required_argument, NULL, 'i' },
		{ "sessions", required_argument, NULL, 's' },
		{ "max-sessions", required_argument, NULL, 'm' },
		{ "mbufs", required_argument, NULL, 'b' },
		{ "idle-sleep-us", required_argument, NULL, 'u' },
		{ "worker-nap-us", required_argument, NULL, 'N' },
		{ "busy-poll", no_argument, NULL, 'P' },
		{ "punt-pps", required_argument, NULL, 'R' },
		{ "session-hugepages-mb", required_argument, NULL, 'H' },
		{ "check", no_argument, NULL, 'c' },
		{ "test-clock", no_argument, NULL, 't' },
		{ "frag-timeout-ms", required_argument, NULL, 'T' },
		{ "frag-max-datagrams", required_argument, NULL, 'D' },
		{ "frag-max-bytes", required_argument, NULL, 'B' },
		{ "dtls-cert", required_argument, NULL, 'C' },
		{ "dtls-key", required_argument, NULL, 'K' },
		{ "capture-dir", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, li = 0, rc = 0;

	*cfg = defaults;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 'p':
			snprintf(cfg->ports_file, sizeof(cfg->ports_file), "%s", optarg);
			break;
		case 'i':
			snprintf(cfg->instance, sizeof(cfg->instance), "%s", optarg);
			break;
		case 's':
			snprintf(cfg->sessions_file, sizeof(cfg->sessions_file), "%s", optarg);
			break;
		case 'm':
			rc = parse_u32(optarg, 1, 1u << 24, &cfg->max_sessions);
			break;
		case 'b':
			rc = parse_u32(optarg, 1023, 1u << 24, &cfg->nb_mbufs);
			break;
		case 'u':
			rc = parse_u32(optarg, 10, 1000000, &cfg->idle_sleep_us);
			break;
		case 'N':
			rc = parse_u32(optarg, 10, 20000, &cfg->worker_nap_us);
			break;
		case 'R':
			rc = parse_u32(optarg, 100, 1000000, &cfg->punt_pps);
			break;
		case 'P':
			cfg->busy_poll = true;
			break;
		case 'H':
			rc = parse_u32(optarg, 0, 1u << 20, &cfg->sess_huge_mb);
			break;
		case 'c':
			cfg->check_only = true;
			break;
		case 't':
			cfg->test_clock = true;
			break;
		case 'T':
			rc = parse_u32(optarg, 10, 60000, &cfg->frag_timeout_ms);
			break;
		case 'D':
			rc = parse_u32(optarg, 16, 1u << 20, &cfg->frag_max_datagrams);
			break;
		case 'B':
			rc = parse_u32(optarg, 1280, DP_FRAG_MAX_BYTES, &cfg->frag_max_bytes);
			break;
		case 'C':
			rc = copy_path(cfg->dtls_cert, sizeof(cfg->dtls_cert), optarg);
			break;
		case 'W':
			rc = copy_path(cfg->capture_dir, sizeof(cfg->capture_dir), optarg);
			break;
		case 'K':
			rc = copy_path(cfg->dtls_key, sizeof(cfg->dtls_key), optarg);
			break;
		default:
			usage(argv[0]);
			return -EINVAL;
		}
		if (rc != 0) {
			fprintf(stderr, "mfwd: invalid value \"%s\" for --%s\n", optarg,
				opts[li].name);
			return rc;
		}
	}
	if (optind != argc || cfg->ports_file[0] == '\0') {
		usage(argv[0]);
		return -EINVAL;
	}
	if ((cfg->dtls_cert[0] == '\0') != (cfg->dtls_key[0] == '\0')) {
		fprintf(stderr, "mfwd: --dtls-cert and --dtls-key go together\n");
		return -EINVAL;
	}
	return 0;
}

/* ---- the port profile ---- */

struct line_ctx {
	const char *file;
	int line;
};

static int __attribute__((format(printf, 2, 3)))
bad(const struct line_ctx *l, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mfwd: %s:%d: ", l->file, l->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
}

static int
parse_prefixed(const char *v, int family, uint8_t *addr, uint8_t *prefix)
{
	char buf[64], *slash;
	uint32_t pfx;
	int max = family == AF_INET ? 32 : 128;

	snprintf(buf, sizeof(buf), "%s", v);
	slash = strchr(buf, '/');
	if (slash == NULL)
		return -EINVAL;
	*slash = '\0';
	if (inet_pton(family, buf, addr) != 1 || parse_u32(slash + 1, 1, (uint32_t)max, &pfx))
		return -EINVAL;
	*prefix = (uint8_t)pfx;
	return 0;
}

static int
key_addr(struct dp_port_conf *p, const char *v, const struct line_ctx *l, int family)
{
	if (family == AF_INET) {
		if (p->nb_v4 == DP_PORT_MAX_ADDRS)
			return bad(l, "at most %d IPv4 addresses", DP_PORT_MAX_ADDRS);
		if (parse_prefixed(v, AF_INET, p->v4[p->nb_v4].a, &p->v4[p->nb_v4].prefix))
			return bad(l, "expected ADDRESS/PREFIX, got \"%s\"", v);
		p->nb_v4++;
	} else {
		if (p->nb_v6 == DP_PORT_MAX_ADDRS)
			return bad(l, "at most %d IPv6 addresses", DP_PORT_MAX_ADDRS);
		if (parse_prefixed(v, AF_INET6, p->v6[p->nb_v6].a, &p->v6[p->nb_v6].prefix))
			return bad(l, "expected ADDRESS/PREFIX, got \"%s\"", v);
		p->nb_v6++;
	}
	return 0;
}

static int
key_gateway(struct dp_port_conf *p, const char *v, const struct line_ctx *l)
{
	if (inet_pton(AF_INET, v, p->gw4) == 1)
		p->has_gw4 = true;
	else if (inet_pton(AF_INET6, v, p->gw6) == 1)
		p->has_gw6 = true;
	else
		return bad(l, "gateway \"%s\" is not an address", v);
	return 0;
}

static int
key_neighbour(struct dp_port_conf *p, const char *v, const struct line_ctx *l)
{
	char ip[64], mac[32];
	struct dp_static_neigh *n;

	if (p->nb_neigh == DP_MAX_STATIC_NEIGH)
		return bad(l, "at most %d static neighbours", DP_MAX_STATIC_NEIGH);
	n = &p->neigh[p->nb_neigh];
	if (sscanf(v, "%63s %31s", ip, mac) != 2 || mf_addr_parse(ip, &n->ip) != 0 ||
	    rte_ether_unformat_addr(mac, &n->mac) != 0)
		return bad(l, "expected \"ADDRESS MAC\", got \"%s\"", v);
	p->nb_neigh++;
	return 0;
}

static int
key_bool(const char *v, bool *out, const struct line_ctx *l)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "on") == 0 || strcmp(v, "true") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0 || strcmp(v, "off") == 0 || strcmp(v, "false") == 0)
		*out = false;
	else
		return bad(l, "expected yes or no, got \"%s\"", v);
	return 0;
}

static int
key_u16(const char *v, uint32_t min, uint32_t max, uint16_t *out, const struct line_ctx *l)
{
	uint32_t x;

	if (parse_u32(v, min, max, &x) != 0)
		return bad(l, "expected a number %u..%u, got \"%s\"", min, max, v);
	*out = (uint16_t)x;
	return 0;
}

static int
port_key(struct dp_port_conf *p, const char *k, const char *v, const struct line_ctx *l)
{
	if (strcmp(k, "vdev") == 0)
		snprintf(p->vdev, sizeof(p->vdev), "%s", v);
	else if (strcmp(k, "pci") == 0)
		snprintf(p->pci, sizeof(p->pci), "%s", v);
	else if (strcmp(k, "devargs") == 0)
		snprintf(p->devargs, sizeof(p->devargs), "%s", v);
	else if (strcmp(k, "rx_queues") == 0)
		return key_u16(v, 1, DP_MAX_RXQ, &p->nb_rxq, l);
	else if (strcmp(k, "rx_desc") == 0)
		return key_u16(v, 64, 16384, &p->rx_desc, l);
	else if (strcmp(k, "tx_desc") == 0)
		return key_u16(v, 64, 16384, &p->tx_desc, l);
	else if (strcmp(k, "mtu") == 0)
		return key_u16(v, 576, 9600, &p->mtu, l);
	else if (strcmp(k, "rx_buf_size") == 0)
		return key_u16(v, 2048, 60000, &p->rx_buf_size, l);
	else if (strcmp(k, "promiscuous") == 0)
		return key_bool(v, &p->promiscuous, l);
	else if (strcmp(k, "offloads") == 0)
		return key_bool(v, &p->offloads, l);
	else if (strcmp(k, "fragment") == 0)
		return key_bool(v, &p->fragment, l);
	else if (strcmp(k, "ipv4") == 0)
		return key_addr(p, v, l, AF_INET);
	else if (strcmp(k, "ipv6") == 0)
		return key_addr(p, v, l, AF_INET6);
	else if (strcmp(k, "gateway") == 0)
		return key_gateway(p, v, l);
	else if (strcmp(k, "neighbour") == 0)
		return key_neighbour(p, v, l);
	else
		return bad(l, "unknown key \"%s\"", k);
	return 0;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
parse_line(struct dp_config *cfg, char *s, struct dp_port_conf **cur, const struct line_ctx *l)
{
	char *eq;
	uint32_t idx;

	if (*s == '[') {
		char *end = strchr(s, ']');

		if (end == NULL || end[1] != '\0' || strncmp(s, "[port ", 6) != 0)
			return bad(l, "expected a section [port N]");
		*end = '\0';
		if (parse_u32(trim(s + 6), 0, MF_MAX_PORTS - 1, &idx) != 0)
			return bad(l, "port index must be 0..%d", MF_MAX_PORTS - 1);
		if (cfg->ports[idx].present)
			return bad(l, "port %u defined twice", idx);
		cfg->ports[idx] = port_defaults;
		*cur = &cfg->ports[idx];
		return 0;
	}
	eq = strchr(s, '=');
	if (eq == NULL)
		return bad(l, "expected key = value");
	if (*cur == NULL)
		return bad(l, "key outside a [port N] section");
	*eq = '\0';
	return port_key(*cur, trim(s), trim(eq + 1), l);
}

static int
check_ports(struct dp_config *cfg)
{
	uint16_t i, n = 0;

	for (i = 0; i < MF_MAX_PORTS; i++) {
		struct dp_port_conf *p = &cfg->ports[i];

		if (!p->present)
			continue;
		if (i != n) {
			fprintf(stderr, "mfwd: %s: ports must be numbered 0, 1, 2... without gaps\n",
				cfg->ports_file);
			return -EINVAL;
		}
		if ((p->vdev[0] == '\0') == (p->pci[0] == '\0')) {
			fprintf(stderr, "mfwd: %s: port %u needs exactly one of vdev or pci\n",
				cfg->ports_file, i);
			return -EINVAL;
		}
		n++;
	}
	if (n == 0) {
		fprintf(stderr, "mfwd: %s: no [port N] section\n", cfg->ports_file);
		return -EINVAL;
	}
	cfg->nb_ports = n;
	return 0;
}

void
dp_config_print(const struct dp_config *cfg)
{
	char a[64];
	uint16_t i, k;

	for (i = 0; i < cfg->nb_ports; i++) {
		const struct dp_port_conf *p = &cfg->ports[i];

		printf("port %u: %s%s%s%s, %u RX queues, %u/%u descriptors%s\n", i,
		       p->vdev[0] ? p->vdev : p->pci, p->devargs[0] ? " (" : "", p->devargs,
		       p->devargs[0] ? ")" : "", p->nb_rxq, p->rx_desc, p->tx_desc,
		       p->offloads ? ", checksum offloads when available" : "");
		for (k = 0; k < p->nb_v4; k++)
			printf("  ipv4 %s/%u\n", inet_ntop(AF_INET, p->v4[k].a, a, sizeof(a)),
			       p->v4[k].prefix);
		for (k = 0; k < p->nb_v6; k++)
			printf("  ipv6 %s/%u\n", inet_ntop(AF_INET6, p->v6[k].a, a, sizeof(a)),
			       p->v6[k].prefix);
		if (p->has_gw4)
			printf("  gateway %s\n", inet_ntop(AF_INET, p->gw4, a, sizeof(a)));
		if (p->has_gw6)
			printf("  gateway %s\n", inet_ntop(AF_INET6, p->gw6, a, sizeof(a)));
		for (k = 0; k < p->nb_neigh; k++)
			printf("  neighbour %s\n", mf_addr_str(&p->neigh[k].ip, a, sizeof(a)));
	}
}

int
dp_config_load_ports(struct dp_config *cfg)
{
	struct line_ctx l = { .file = cfg->ports_file };
	struct dp_port_conf *cur = NULL;
	char buf[512];
	FILE *f;
	int rc = 0;

	f = fopen(cfg->ports_file, "r");
	if (f == NULL) {
		fprintf(stderr, "mfwd: cannot open %s: %s\n", cfg->ports_file, strerror(errno));
		return -errno;
	}
	while (rc == 0 && fgets(buf, sizeof(buf), f) != NULL) {
		char *s, *hash;

		l.line++;
		hash = strchr(buf, '#');
		if (hash != NULL)
			*hash = '\0';
		s = trim(buf);
		if (*s != '\0')
			rc = parse_line(cfg, s, &cur, &l);
	}
	fclose(f);
	return rc != 0 ? rc : check_ports(cfg);
}

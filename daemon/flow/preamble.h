/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sluice preamble: a small, versioned, length-bounded binary header the
 * client sends as its first application data right after the TLS handshake.
 * It tells the server which port of the dialed workload the flow is for,
 * plus metadata.  The wire format is documented byte by byte in
 * docs/PROTOCOL.md; this parser is strict (anything it does not understand
 * fails the connection) and fuzzed (tests/daemon/fuzz-preamble.c).
 */
#ifndef SL_PREAMBLE_H
#define SL_PREAMBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SL_PREAMBLE_MAGIC0 0x53 /* 'S' */
#define SL_PREAMBLE_MAGIC1 0x4c /* 'L' */
#define SL_PREAMBLE_MAGIC2 0x50 /* 'P' */
#define SL_PREAMBLE_MAGIC3 0x52 /* 'R' */
#define SL_PREAMBLE_VERSION 1
#define SL_PREAMBLE_HDR_LEN 8
#define SL_PREAMBLE_MAX_LEN 512
#define SL_PREAMBLE_NAME_MAX 253 /* Kubernetes object name */
#define SL_PREAMBLE_NS_MAX 63 /* Kubernetes namespace (DNS label) */

/* TLV types; bit 0x80 clear = critical (an unknown one is an error) */
enum sl_preamble_tlv {
	SL_PRE_T_DST_PORT = 0x01,   /* 2 bytes, big endian, != 0; required */
	SL_PRE_T_ORIG_DST = 0x02,   /* 4 (IPv4) or 16 (IPv6) bytes */
	SL_PRE_T_SRC_NAME = 0x81,   /* 1..253 bytes, printable ASCII */
	SL_PRE_T_SRC_NS = 0x82,	    /* 1..63 bytes, printable ASCII */
	SL_PRE_T_FLOW_ID = 0x83,    /* 8 bytes, big endian */
};
#define SL_PRE_T_OPTIONAL 0x80

struct sl_preamble {
	uint16_t dst_port;
	int orig_dst_family; /* 0 when absent, AF_INET or AF_INET6 */
	uint8_t orig_dst[16];
	char src_name[SL_PREAMBLE_NAME_MAX + 1]; /* "" when absent */
	char src_ns[SL_PREAMBLE_NS_MAX + 1];		 /* "" when absent */
	bool has_flow_id;
	uint64_t flow_id;
};

/**
 * sl_preamble_encode - serialize @p
 * @buf, @cap: output buffer (SL_PREAMBLE_MAX_LEN is always enough)
 * @retval bytes written; -EINVAL when @p is invalid (port 0, bad name);
 *         -ENOSPC when @cap is too small
 */
ssize_t sl_preamble_encode(const struct sl_preamble *p, uint8_t *buf,
			   size_t cap);

/**
 * sl_preamble_need - how many bytes the whole preamble has, judging from
 * what was received so far
 * @retval SL_PREAMBLE_HDR_LEN while fewer than that were given; then the
 *         total length from the header (validated: magic, version, flags,
 *         bounds); -EPROTO/-EPROTONOSUPPORT/-EMSGSIZE for a bad header
 */
ssize_t sl_preamble_need(const uint8_t *buf, size_t len);

/**
 * sl_preamble_parse - parse a preamble from the start of @buf
 * @len: bytes available (may extend past the preamble: they are not part
 *       of it and are left alone)
 * @out: filled on success
 * @consumed: set to the preamble's total length on success
 * @retval 0; -EAGAIN when @len is shorter than the preamble;
 *         -EPROTO (bad magic, malformed TLV, trailing bytes, duplicate,
 *         unknown critical TLV, missing port, bad value),
 *         -EPROTONOSUPPORT (unknown version), -EMSGSIZE (length out of bounds)
 */
int sl_preamble_parse(const uint8_t *buf, size_t len, struct sl_preamble *out,
		      size_t *consumed);

#endif /* SL_PREAMBLE_H */

/* SPDX-License-Identifier: Apache-2.0 */
/* Preamble encoding and strict parsing (format: docs/PROTOCOL.md). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "preamble.h"
#include "util.h"

static bool name_ok(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static int put_tlv(uint8_t *buf, size_t cap, size_t *off, uint8_t type,
		   const void *val, size_t len)
{
	if (len > 255)
		return -EINVAL;
	if (*off + 2 + len > cap || *off + 2 + len > SL_PREAMBLE_MAX_LEN)
		return -ENOSPC;
	buf[(*off)++] = type;
	buf[(*off)++] = (uint8_t)len;
	memcpy(buf + *off, val, len);
	*off += len;
	return 0;
}

ssize_t sl_preamble_encode(const struct sl_preamble *p, uint8_t *buf,
			   size_t cap)
{
	size_t off = SL_PREAMBLE_HDR_LEN;
	uint8_t v[8];
	int ret;

	if (!p->dst_port)
		return -EINVAL;
	if (cap < SL_PREAMBLE_HDR_LEN)
		return -ENOSPC;
	v[0] = (uint8_t)(p->dst_port >> 8);
	v[1] = (uint8_t)p->dst_port;
	ret = put_tlv(buf, cap, &off, SL_PRE_T_DST_PORT, v, 2);
	if (ret)
		return ret;
	if (p->orig_dst_family == AF_INET || p->orig_dst_family == AF_INET6) {
		ret = put_tlv(buf, cap, &off, SL_PRE_T_ORIG_DST, p->orig_dst,
			      p->orig_dst_family == AF_INET ? 4 : 16);
		if (ret)
			return ret;
	} else if (p->orig_dst_family) {
		return -EINVAL;
	}
	if (p->src_name[0]) {
		size_t n = strnlen(p->src_name, sizeof(p->src_name));
		if (!name_ok(p->src_name, n, SL_PREAMBLE_NAME_MAX))
			return -EINVAL;
		ret = put_tlv(buf, cap, &off, SL_PRE_T_SRC_NAME, p->src_name, n);
		if (ret)
			return ret;
	}
	if (p->src_ns[0]) {
		size_t n = strnlen(p->src_ns, sizeof(p->src_ns));
		if (!name_ok(p->src_ns, n, SL_PREAMBLE_NS_MAX))
			return -EINVAL;
		ret = put_tlv(buf, cap, &off, SL_PRE_T_SRC_NS, p->src_ns, n);
		if (ret)
			return ret;
	}
	if (p->has_flow_id) {
		for (int i = 0; i < 8; i++)
			v[i] = (uint8_t)(p->flow_id >> (56 - 8 * i));
		ret = put_tlv(buf, cap, &off, SL_PRE_T_FLOW_ID, v, 8);
		if (ret)
			return ret;
	}
	buf[0] = SL_PREAMBLE_MAGIC0;
	buf[1] = SL_PREAMBLE_MAGIC1;
	buf[2] = SL_PREAMBLE_MAGIC2;
	buf[3] = SL_PREAMBLE_MAGIC3;
	buf[4] = SL_PREAMBLE_VERSION;
	buf[5] = 0; /* flags */
	buf[6] = (uint8_t)(off >> 8);
	buf[7] = (uint8_t)off;
	return (ssize_t)off;
}

ssize_t sl_preamble_need(const uint8_t *buf, size_t len)
{
	static const uint8_t magic[4] = { SL_PREAMBLE_MAGIC0, SL_PREAMBLE_MAGIC1,
					  SL_PREAMBLE_MAGIC2, SL_PREAMBLE_MAGIC3 };
	size_t total;

	/* check the magic as early as possible: a plaintext client fails on
	 * its first bytes */
	if (memcmp(buf, magic, SL_MIN(len, (size_t)4)) != 0)
		return -EPROTO;
	if (len < SL_PREAMBLE_HDR_LEN)
		return SL_PREAMBLE_HDR_LEN;
	if (buf[4] != SL_PREAMBLE_VERSION)
		return -EPROTONOSUPPORT;
	if (buf[5] != 0)
		return -EPROTO;
	total = (size_t)buf[6] << 8 | buf[7];
	/* the shortest valid preamble carries the port TLV */
	if (total < SL_PREAMBLE_HDR_LEN + 4 || total > SL_PREAMBLE_MAX_LEN)
		return -EMSGSIZE;
	return (ssize_t)total;
}

static int parse_tlv(struct sl_preamble *out, uint8_t type, const uint8_t *v,
		     size_t n)
{
	switch (type) {
	case SL_PRE_T_DST_PORT:
		if (n != 2)
			return -EPROTO;
		out->dst_port = (uint16_t)(v[0] << 8 | v[1]);
		return out->dst_port ? 0 : -EPROTO;
	case SL_PRE_T_ORIG_DST:
		if (n == 4)
			out->orig_dst_family = AF_INET;
		else if (n == 16)
			out->orig_dst_family = AF_INET6;
		else
			return -EPROTO;
		memcpy(out->orig_dst, v, n);
		return 0;
	case SL_PRE_T_SRC_NAME:
	case SL_PRE_T_SRC_NS: {
		bool is_name = type == SL_PRE_T_SRC_NAME;
		char *dst = is_name ? out->src_name : out->src_ns;

		if (!name_ok((const char *)v, n,
			     is_name ? SL_PREAMBLE_NAME_MAX : SL_PREAMBLE_NS_MAX))
			return -EPROTO;
		memcpy(dst, v, n);
		dst[n] = '\0';
		return 0;
	}
	case SL_PRE_T_FLOW_ID:
		if (n != 8)
			return -EPROTO;
		out->flow_id = 0;
		for (size_t i = 0; i < 8; i++)
			out->flow_id = out->flow_id << 8 | v[i];
		out->has_flow_id = true;
		return 0;
	default:
		/* unknown: critical ones fail, optional ones are skipped */
		return (type & SL_PRE_T_OPTIONAL) ? 0 : -EPROTO;
	}
}

int sl_preamble_parse(const uint8_t *buf, size_t len, struct sl_preamble *out,
		      size_t *consumed)
{
	uint8_t seen[32] = { 0 };
	ssize_t need;
	size_t total, off;
	int ret;

	need = sl_preamble_need(buf, len);
	if (need < 0)
		return (int)need;
	if ((size_t)need > len)
		return -EAGAIN;
	total = (size_t)need;
	memset(out, 0, sizeof(*out));
	off = SL_PREAMBLE_HDR_LEN;
	while (off < total) {
		uint8_t type, n;

		if (total - off < 2)
			return -EPROTO; /* trailing byte */
		type = buf[off];
		n = buf[off + 1];
		off += 2;
		if (n > total - off)
			return -EPROTO; /* value runs past the end */
		if (seen[type / 8] & (1u << (type % 8)))
			return -EPROTO; /* duplicate */
		seen[type / 8] |= (uint8_t)(1u << (type % 8));
		ret = parse_tlv(out, type, buf + off, n);
		if (ret)
			return ret;
		off += n;
	}
	if (!out->dst_port)
		return -EPROTO;
	*consumed = total;
	return 0;
}

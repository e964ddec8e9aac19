/* SPDX-License-Identifier: Apache-2.0 */
/* Strict HTTP/1.1 message-head parser and body framing (RFC 9110/9112).
 *
 * No allocation, no I/O: a struct sl_h1_msg records offsets and lengths
 * into a buffer the caller owns and keeps.  Every refusal names a reason
 * (sl_h1_reason_str()), the HTTP status to answer, and where (err_pos) and
 * in which state (err_state) the message was rejected.  See docs/HTTP.md for
 * the table of refused inputs.  The daemon does not use this yet (issue 26).
 */
#ifndef SL_H1_H
#define SL_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* capacity of the header array in struct sl_h1_msg; limits.max_headers is
 * clamped to it */
#define SL_H1_HEADERS_CAP 100

/**
 * struct sl_h1_limits - what a head may cost.  sl_h1_limits_default() fills
 * the defaults given per field.
 * @max_head: whole head (start line, fields, final CRLF) in bytes; 60 KiB.
 *            Over it: 431 (request), 502 (response)
 * @max_line: start line (request line, status line) in bytes with its
 *            CRLF; 8 KiB.  Over it: 414 (request), 502 (response)
 * @max_headers: header fields; 100 (at most SL_H1_HEADERS_CAP).  Over: 431
 * @max_body: largest accepted Content-Length and largest chunked body in
 *            bytes, 0 for no limit; 0.  Over it: 413
 */
struct sl_h1_limits {
	size_t max_head;
	size_t max_line;
	size_t max_headers;
	uint64_t max_body;
};

/* a run of bytes inside the caller's buffer */
struct sl_h1_span {
	uint32_t off;
	uint32_t len;
};

/* one header field: name as sent (case kept), value without the leading
 * and trailing whitespace (RFC 9110 5.5) */
struct sl_h1_hdr {
	struct sl_h1_span name;
	struct sl_h1_span value;
};

/* why a message was refused; sl_h1_reason_str() names it */
enum sl_h1_reason {
	SL_H1_OK = 0,
	SL_H1_E_BARE_LF,            /* LF without CR (strict CRLF) */
	SL_H1_E_BARE_CR,            /* CR not followed by LF */
	SL_H1_E_LINE_TOO_LONG,      /* start line over max_line */
	SL_H1_E_HEAD_TOO_LARGE,     /* head over max_head */
	SL_H1_E_TOO_MANY_HEADERS,   /* more than max_headers fields */
	SL_H1_E_METHOD,             /* empty method or a non-token char */
	SL_H1_E_START_LINE,         /* not exactly "a SP b SP c" */
	SL_H1_E_TARGET,             /* empty target, CTL/SP/non-ASCII */
	SL_H1_E_TARGET_FORM,        /* form not allowed for the method */
	SL_H1_E_VERSION,            /* not "HTTP/" DIGIT "." DIGIT */
	SL_H1_E_VERSION_UNSUPPORTED,/* well formed but not 1.0/1.1: 505 */
	SL_H1_E_STATUS,             /* status code not 3 digits 100..599 */
	SL_H1_E_REASON_PHRASE,      /* CTL in the reason phrase */
	SL_H1_E_OBS_FOLD,           /* field line starting with SP/HTAB */
	SL_H1_E_NAME_EMPTY,         /* ":value" */
	SL_H1_E_NAME_WS,            /* whitespace between name and colon */
	SL_H1_E_NAME_CHAR,          /* non-token char in a field name */
	SL_H1_E_NO_COLON,           /* field line without a colon */
	SL_H1_E_VALUE_NUL,          /* NUL in a field value */
	SL_H1_E_VALUE_CR,           /* CR inside a field value */
	SL_H1_E_VALUE_CTL,          /* other control char in a value */
	SL_H1_E_CL_EMPTY,           /* Content-Length: (empty) */
	SL_H1_E_CL_INVALID,         /* sign, non-digit, list */
	SL_H1_E_CL_OVERFLOW,        /* does not fit in 63 bits */
	SL_H1_E_CL_DUPLICATE,       /* two Content-Length fields */
	SL_H1_E_TE_AND_CL,          /* Transfer-Encoding and Content-Length */
	SL_H1_E_TE_NOT_CHUNKED,     /* chunked not the final coding */
	SL_H1_E_TE_CHUNKED_TWICE,   /* chunked applied more than once */
	SL_H1_E_TE_UNSUPPORTED,     /* a coding other than chunked: 501 */
	SL_H1_E_TE_INVALID,         /* empty list element, bad token */
	SL_H1_E_TE_HTTP10,          /* Transfer-Encoding in HTTP/1.0 */
	SL_H1_E_HOST_MISSING,       /* HTTP/1.1 request without Host */
	SL_H1_E_HOST_DUPLICATE,     /* two Host fields */
	SL_H1_E_HOST_INVALID,       /* Host with chars no authority has */
	SL_H1_E_HOST_MISMATCH,      /* absolute-form host != Host */
	SL_H1_E_CONNECTION,         /* Connection: non-token element */
	SL_H1_E_BODY_TOO_LARGE,     /* Content-Length or chunks over max_body */
	SL_H1_E_CHUNK_SIZE_EMPTY,   /* chunk line without hex digits */
	SL_H1_E_CHUNK_SIZE_INVALID, /* sign, 0x, non-hex, space */
	SL_H1_E_CHUNK_SIZE_OVERFLOW,/* does not fit in 63 bits */
	SL_H1_E_CHUNK_EXT,          /* malformed chunk extension */
	SL_H1_E_CHUNK_LINE_TOO_LONG,/* chunk-size line over 4 KiB */
	SL_H1_E_CHUNK_CRLF,         /* chunk data not followed by CRLF */
	SL_H1_E_TRAILER,            /* malformed trailer field */
	SL_H1_E_TRAILER_TOO_LARGE,  /* trailer section over max_head */
	SL_H1_E__COUNT
};

/* where the parser was when it refused (HAProxy's h1m->err_state) */
enum sl_h1_state {
	SL_H1_S_START_LINE = 0,
	SL_H1_S_HEADERS,
	SL_H1_S_SEMANTICS,   /* the whole head was read: cross-field checks */
	SL_H1_S_DONE,
	SL_H1_S_ERROR,
	/* chunked decoder */
	SL_H1_S_CHUNK_SIZE,
	SL_H1_S_CHUNK_EXT,
	SL_H1_S_CHUNK_DATA,
	SL_H1_S_CHUNK_CRLF,
	SL_H1_S_TRAILERS,
};

/* method of a request, as far as framing needs to know */
enum sl_h1_method {
	SL_H1_M_OTHER = 0,
	SL_H1_M_GET,
	SL_H1_M_HEAD,
	SL_H1_M_POST,
	SL_H1_M_PUT,
	SL_H1_M_DELETE,
	SL_H1_M_CONNECT,
	SL_H1_M_OPTIONS,
	SL_H1_M_TRACE,
	SL_H1_M_PATCH,
};

/* how the body that follows the head is delimited (RFC 9112 6.3) */
enum sl_h1_body {
	SL_H1_BODY_NONE = 0,    /* no body: the next message follows */
	SL_H1_BODY_CLEN,        /* exactly content_length bytes */
	SL_H1_BODY_CHUNKED,     /* run sl_h1_chunked() over what follows */
	SL_H1_BODY_UNTIL_CLOSE, /* response: everything until the peer closes */
	SL_H1_BODY_TUNNEL,      /* 101 or 2xx to CONNECT: raw bytes both ways */
};

/* request-target form (RFC 9112 3.2) */
enum sl_h1_target_form {
	SL_H1_T_ORIGIN = 0,    /* /path?query */
	SL_H1_T_ABSOLUTE,      /* scheme://authority/path */
	SL_H1_T_AUTHORITY,     /* host:port, CONNECT only */
	SL_H1_T_ASTERISK,      /* *, OPTIONS only */
};

/* flags of struct sl_h1_msg */
#define SL_H1_F_CLEN          (1u << 0)  /* a Content-Length was seen */
#define SL_H1_F_CHUNKED       (1u << 1)  /* Transfer-Encoding: chunked */
#define SL_H1_F_CONN_CLOSE    (1u << 2)  /* Connection: close */
#define SL_H1_F_CONN_KEEPALIVE (1u << 3) /* Connection: keep-alive */
#define SL_H1_F_CONN_UPGRADE  (1u << 4)  /* Connection: upgrade */
#define SL_H1_F_UPGRADE       (1u << 5)  /* an Upgrade field is present */
#define SL_H1_F_EXPECT_100    (1u << 6)  /* Expect: 100-continue (1.1) */
#define SL_H1_F_KEEPALIVE     (1u << 7)  /* connection persists after it */
#define SL_H1_F_HOST          (1u << 8)  /* a Host field was seen */
#define SL_H1_F_TE            (1u << 9)  /* a Transfer-Encoding was seen */

/**
 * struct sl_h1_msg - one parsed message head.  Spans point into the buffer
 * given to the parse call; they stay valid as long as the caller keeps
 * those bytes where they are.
 * @limits: copied by sl_h1_msg_init()
 * @state: SL_H1_S_START_LINE/HEADERS while incomplete, DONE, or ERROR
 * @head_len: bytes of the head (with the final CRLF) once DONE
 * @version: 10 or 11
 * @method, @target: request line parts (requests)
 * @meth: @method classified
 * @form: form of @target
 * @status: status code (responses)
 * @reason_phrase: reason phrase (responses, may be empty)
 * @hdr, @nhdr: the header fields in order
 * @flags: SL_H1_F_*
 * @body: framing of the body; @content_length with SL_H1_BODY_CLEN
 * @host: index in @hdr of Host, -1 without one
 * @upgrade: index in @hdr of Upgrade, -1 without one
 * @reason: refusal reason (SL_H1_OK if none)
 * @err_status: status to answer a refused request (400, 413, 414, 431,
 *              501, 505), 502 for a refused response
 * @err_pos: offset in the buffer where the fault was found
 * @err_state: state the parser was in at that point
 * The rest is parser progress, private.
 */
struct sl_h1_msg {
	struct sl_h1_limits limits;
	enum sl_h1_state state;
	bool response;
	size_t head_len;
	int version;
	struct sl_h1_span method, target;
	enum sl_h1_method meth;
	enum sl_h1_target_form form;
	int status;
	struct sl_h1_span reason_phrase;
	struct sl_h1_hdr hdr[SL_H1_HEADERS_CAP];
	size_t nhdr;
	unsigned flags;
	enum sl_h1_body body;
	uint64_t content_length;
	int host;
	int upgrade;
	enum sl_h1_reason reason;
	int err_status;
	size_t err_pos;
	enum sl_h1_state err_state;
	/* private */
	size_t line_start;  /* offset of the line being read */
	size_t scan;        /* where the search for its LF resumes */
	enum sl_h1_method req_meth; /* responses: method of the request */
};

/* fills @l with the defaults documented in struct sl_h1_limits */
void sl_h1_limits_default(struct sl_h1_limits *l);

/**
 * sl_h1_msg_init - prepare @m for a new message
 * @m: caller-owned message, fully overwritten
 * @limits: limits to apply, copied; NULL for sl_h1_limits_default()
 */
void sl_h1_msg_init(struct sl_h1_msg *m, const struct sl_h1_limits *limits);

/**
 * sl_h1_parse_request - parse (more of) a request head
 * @m: initialised by sl_h1_msg_init(), then passed unchanged between calls
 * @buf: the bytes received so far, starting at the first byte of the
 *       request; each call must pass the same bytes again, possibly grown
 *       (the head is not copied: spans refer to @buf)
 * @len: bytes in @buf
 *
 * The parser is incremental by line: it keeps the offset of the first
 * unread line and where its search for LF stopped, so no byte is scanned
 * twice for the line end and each complete line is validated once.  Work
 * per call is therefore bounded by the new bytes plus one line (at most
 * limits.max_head).  Decisions depend only on complete lines and on the
 * limits, so feeding a request one byte at a time gives exactly the result
 * of feeding it whole.
 *
 * @retval >0 the head is complete: bytes it takes (m->head_len); the body
 *         (m->body) and the next pipelined request follow it
 * @retval 0 more bytes are needed
 * @retval -EBADMSG refused: m->reason, m->err_status, m->err_pos,
 *         m->err_state say why, with what status, where.  Later calls
 *         return -EBADMSG again.
 * @retval -EINVAL @m or @buf NULL, or @m was used for a response
 */
ssize_t sl_h1_parse_request(struct sl_h1_msg *m, const char *buf, size_t len);

/**
 * sl_h1_header_get - the value of field @name (case-insensitive) of the
 * parsed head @m over @buf, a repeated field's values joined with ","
 * @out, @cap: where joined values go (not NUL-terminated)
 * @val: set to the value: into @buf for a field sent once, into @out for
 *       several joined; NULL when the joined value is longer than @cap
 *       (call again with the length returned)
 * @retval the value's length; -ENOENT when @m has no such field
 */
ssize_t sl_h1_header_get(const struct sl_h1_msg *m, const char *buf,
			 const char *name, char *out, size_t cap,
			 const char **val);

/**
 * sl_h1_parse_response - parse (more of) a response head; as
 * sl_h1_parse_request(), with the status line instead of the request line
 * @req_meth: method of the request this answers (HEAD responses have no
 *            body, a 2xx to CONNECT is a tunnel)
 * A refused response carries err_status 502 (what a proxy answers its
 * client).  Interim 1xx responses other than 101 have no body: the caller
 * parses the final response that follows with a fresh sl_h1_msg.
 */
ssize_t sl_h1_parse_response(struct sl_h1_msg *m, const char *buf, size_t len,
			     enum sl_h1_method req_meth);

/**
 * sl_h1_is_hop_by_hop - whether header @i of @m must not be forwarded by a
 * proxy: Connection, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding,
 * Upgrade (RFC 9110 7.6.1) and every field named by a Connection option.
 * @m: a message in state SL_H1_S_DONE
 * @buf: the buffer it was parsed from
 * @i: index into m->hdr
 * Transfer-Encoding is hop-by-hop: a proxy re-frames the body itself or
 * forwards the chunked framing with its own Transfer-Encoding line.
 */
bool sl_h1_is_hop_by_hop(const struct sl_h1_msg *m, const char *buf, size_t i);

/**
 * sl_h1_request_start_ok - could @buf (@len bytes, the start of a request
 * whose line is not complete yet) begin an HTTP/1.x request: a method
 * token, then SP?  Lets a caller refuse a TLS ClientHello or binary at
 * once instead of waiting for a line end that never comes.
 */
bool sl_h1_request_start_ok(const char *buf, size_t len);

/* finds the first header named @name (case-insensitive); its index or -1 */
int sl_h1_find(const struct sl_h1_msg *m, const char *buf, const char *name);

/* static string naming @r ("te-and-content-length"...), "?" if unknown */
const char *sl_h1_reason_str(enum sl_h1_reason r);

/* a chunk-size line (size, extensions, CRLF) may take this many bytes */
#define SL_H1_CHUNK_LINE_MAX 4096

/**
 * struct sl_h1_chunked - decoder of a chunked body (RFC 9112 7.1); zero it
 * with sl_h1_chunked_init().  Public fields after a call:
 * @done: the last chunk and the trailer section were read
 * @body_len: data bytes seen so far
 * @reason, @err_status (400, 413, 431), @err_pos (offset in the body
 * stream, counted from the first byte after the head), @err_state
 * The rest is decoder state, private.
 */
struct sl_h1_chunked {
	bool done;
	uint64_t body_len;
	enum sl_h1_reason reason;
	int err_status;
	uint64_t err_pos;
	enum sl_h1_state err_state;
	/* private */
	int st;
	uint64_t max_body;
	size_t max_trailers;
	uint64_t pos;        /* stream offset of the next byte */
	uint64_t remaining;  /* data bytes left in this chunk */
	uint64_t size;
	size_t line_len;     /* bytes of the current chunk-size line */
	size_t trailer_len;
};

/**
 * sl_h1_chunked_init - prepare @c for a chunked body
 * @limits: max_body bounds the data, max_head the trailer section;
 *          NULL for the defaults
 */
void sl_h1_chunked_init(struct sl_h1_chunked *c, const struct sl_h1_limits *limits);

/**
 * sl_h1_chunked - decode the next bytes of a chunked body.  Each byte is
 * looked at once; nothing is kept, so @buf holds only the new bytes.
 * @c: decoder
 * @buf, @len: bytes that follow what earlier calls consumed
 * @data_off, @data_len: set to the one run of chunk data inside the
 *          consumed bytes (offset from @buf), {0, 0} if none.  A call
 *          reports at most one run: it stops before a second one starts.
 * All consumed bytes are valid chunked framing and may be forwarded
 * verbatim; or the caller forwards only the data runs and re-frames.
 * @retval >=0 bytes of @buf consumed (less than @len only when a second
 *         data run would start, or the body is done: what follows it is
 *         the next message).  After done, calls consume nothing.
 * @retval -EBADMSG refused: @c's reason, err_status, err_pos say why
 * @retval -EINVAL NULL argument
 */
ssize_t sl_h1_chunked(struct sl_h1_chunked *c, const char *buf, size_t len,
		      size_t *data_off, size_t *data_len);

#endif

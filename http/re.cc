// SPDX-License-Identifier: Apache-2.0
// The C face of RE2 (re.h).  Nothing here throws into C: allocation
// failures inside RE2 become -ENOMEM.
#include <cerrno>
#include <cstdio>
#include <new>

#include <re2/re2.h>

#include "re.h"

struct sl_re {
	RE2 re;
	sl_re(const char *pattern, const RE2::Options &o) : re(pattern, o) {}
};

extern "C" int sl_re_compile(const char *pattern, struct sl_re **out,
			     char *err, size_t errlen)
{
	RE2::Options o;
	struct sl_re *r;

	*out = nullptr;
	if (err && errlen)
		err[0] = '\0';
	if (!pattern)
		return -EINVAL;
	o.set_log_errors(false);
	o.set_max_mem(SL_RE_MAX_MEM);
	try {
		r = new sl_re(pattern, o);
	} catch (...) {
		return -ENOMEM;
	}
	if (!r->re.ok()) {
		if (err && errlen)
			snprintf(err, errlen, "%s", r->re.error().c_str());
		delete r;
		return -EINVAL;
	}
	*out = r;
	return 0;
}

extern "C" bool sl_re_full_match(const struct sl_re *re, const char *s,
				 size_t len)
{
	if (!re)
		return false;
	try {
		return RE2::FullMatch(re2::StringPiece(s ? s : "", s ? len : 0),
				      re->re);
	} catch (...) {
		return false; // out of memory while matching: no match
	}
}

extern "C" void sl_re_free(struct sl_re *re)
{
	delete re;
}

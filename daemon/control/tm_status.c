/* SPDX-License-Identifier: Apache-2.0 */
/* Reload and load-balancer state as JSON members (see tm_status.h). */
#include "tm_status.h"

void sl_tm_status_json(struct sl_json *j, struct sl_reload *r,
		       const struct sl_health *h)
{
	if (r) {
		struct sl_reload_status st;

		sl_reload_status(r, &st);
		sl_json_kv_bool(j, "config_from_last_good", st.from_last_good);
		sl_json_kv_uint(j, "config_reloads", st.reloads);
		sl_json_kv_uint(j, "config_reload_refused", st.refused);
		sl_json_kv_bool(j, "config_watching", st.watching);
		sl_json_kv_uint(j, "config_warnings", st.warnings);
		sl_json_kv_int(j, "config_last_error_time",
			       (int64_t)st.last_error_time);
	}
	if (h) {
		struct sl_health_stats hs;

		sl_health_get_stats(h, &hs);
		sl_json_kv_uint(j, "lb_endpoints", hs.endpoints);
		sl_json_kv_uint(j, "lb_endpoints_collected", hs.collected);
		sl_json_kv_uint(j, "lb_ejections", hs.ejections);
		sl_json_kv_uint(j, "lb_overflows", hs.overflows);
		sl_json_kv_uint(j, "lb_retries", hs.retries);
		sl_json_kv_uint(j, "lb_connect_failures", hs.failures);
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The field ledger: every field sluice decodes, with what sluice does with
 * it.  sl_dec_fields() consults it for every field of every mapping, so a
 * decoded field without a status cannot load, a rejected field is an error
 * and a field without effect is a warning.  Private to config/ and its
 * tests.
 */
#ifndef SL_CONFIG_LEDGER_H
#define SL_CONFIG_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum sl_field_status {
	SL_FIELD_ENFORCED,	/* note: the test that proves it[: how] */
	SL_FIELD_REJECTED,	/* note: the error message */
	SL_FIELD_NO_EFFECT,	/* note: why; accepted with a warning */
	SL_FIELD_INFORMATIONAL, /* note: why; names and bookkeeping */
};

struct sl_field {
	const char *kind; /* "VirtualService", ...; "*": every kind */
	const char *path; /* normalized: "spec.http[].match[].headers.*.exact" */
	enum sl_field_status status;
	const char *note;
};

/**
 * sl_ledger_find - the entry of field @path of @kind, else of kind "*"
 * @kind: the kind being decoded, or NULL (top level: only "*")
 * @path: the normalized path (list indexes "[]", user-chosen keys "*")
 * @retval the entry (static), or NULL when the field has no status
 */
const struct sl_field *sl_ledger_find(const char *kind, const char *path);

/** sl_ledger_entries - the whole ledger, sorted by kind then path */
const struct sl_field *sl_ledger_entries(size_t *n);

/** sl_ledger_status_name - "enforced", "rejected", "no effect", ... */
const char *sl_ledger_status_name(enum sl_field_status s);

/**
 * sl_ledger_note_seen - record that the decoder met entry @f in the input
 * (a counter per entry, read by the tests through sl_ledger_seen)
 */
void sl_ledger_note_seen(const struct sl_field *f);

/** sl_ledger_seen - how often entry @i was met in the input */
unsigned long sl_ledger_seen(size_t i);

/**
 * sl_ledger_markdown - the ledger as the markdown table of sluice-config(5)
 * @out: where to write
 * @retval 0, or -EIO when writing failed
 */
int sl_ledger_markdown(FILE *out);

#endif /* SL_CONFIG_LEDGER_H */

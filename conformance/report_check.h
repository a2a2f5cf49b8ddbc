/* The mock's report: what the fixture expected of the client and what it
 * saw. A case states which parts of it must hold in [expect-report]; with no
 * such section every expectation must be met and no request unmatched. */
#ifndef ETSN_CONF_REPORT_CHECK_H
#define ETSN_CONF_REPORT_CHECK_H

#include <stddef.h>

#include "case_file.h"
#include "json.h"

#define CONF_MAX_REPORT (16u * 1024u * 1024u)

/* Reads and parses the report file and checks its shape: an object with an
 * "expectations" array of {id: string, met: bool}, an "unmatched" array and
 * an "events" array of {kind: string}. Returns NULL with err set. */
conf_json *conf_report_load(const char *path, char *err, size_t errlen);
conf_json *conf_report_parse(const char *text, size_t len, char *err, size_t errlen);

/* Appends one reason per failed check to reasons. Returns the number of
 * failed checks, or -1 when memory runs out. */
int conf_report_evaluate(const conf_json *report, const conf_case *c, conf_strv *reasons);

#endif

/* [expect-wire]: what the client must put on the wire, typed into the case
 * from MS-WSMV / MS-PSRP, checked against the mock's wire log (the report's
 * "wire" array, mockserver/wire_log.h). Format in docs/conformance.md. */
#ifndef ETSN_CONF_WIRE_CHECK_H
#define ETSN_CONF_WIRE_CHECK_H

#include "case_file.h"
#include "json.h"

/* Nested "include" lines go this deep at most. */
#define CONF_WIRE_MAX_DEPTH 4

/* Replaces each "include FILE" line of lines (FILE relative to dir, usually
 * the case file's directory; inside an included file, relative to that
 * file) by that file's lines, trims every line and drops
 * blank lines and # comments. Returns 0, or -1 with err set. */
int conf_wire_expand(conf_strv *lines, const char *dir, char *err, size_t errlen);

/* Checks want (placeholders substituted with vars) against the wire log.
 * want is cut into groups: an "action ..." line and the lines up to the
 * next one. Each group must be found in one request, its lines in this
 * order among the request's, and each group in a request after the one
 * before. A line matches a logged line equal to it; a line ending in "..."
 * matches any logged line that starts with the text before the "..."
 * (blank included). Appends the reasons (the first item not found, the
 * request nearest to holding its group, and the nearest line the client
 * did send) and returns 1 when the check fails, 0 when it holds, -1 when
 * memory runs out. */
int conf_wire_evaluate(const conf_json *report, const conf_strv *want, const conf_vars *vars,
                       conf_strv *reasons);

#endif

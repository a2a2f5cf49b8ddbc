/* JUnit XML in the shape CI systems (Jenkins, GitLab, GitHub reporters)
 * read: one testsuite, a testcase per case, <failure> or <skipped> inside. */
#include <libxml/xmlwriter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"
#include "textdiff.h"

/* Text from the client can hold anything; XML 1.0 cannot. conf_render
 * leaves only tab, newline and valid UTF-8 without other controls. */
static char *clean(const char *s)
{
    etsn_buf b = ETSN_BUF_INIT;
    if (conf_render(&b, s, strlen(s), false) < 0 || etsn_buf_append(&b, "", 0) < 0) {
        etsn_buf_free(&b);
        return NULL;
    }
    return etsn_buf_steal(&b);
}

static int attr(xmlTextWriterPtr w, const char *name, const char *value)
{
    char *v = clean(value);
    if (!v) return -1;
    int rc = xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST v);
    free(v);
    return rc < 0 ? -1 : 0;
}

static int text(xmlTextWriterPtr w, const char *value)
{
    char *v = clean(value);
    if (!v) return -1;
    int rc = xmlTextWriterWriteString(w, BAD_CAST v);
    free(v);
    return rc < 0 ? -1 : 0;
}

static int write_case(xmlTextWriterPtr w, const conf_result *r)
{
    char num[64];
    if (xmlTextWriterStartElement(w, BAD_CAST "testcase") < 0) return -1;
    if (attr(w, "name", r->id ? r->id : "?") < 0 || attr(w, "classname", "conformance") < 0)
        return -1;
    snprintf(num, sizeof num, "%.3f", r->seconds);
    if (attr(w, "time", num) < 0) return -1;
    if (r->verdict != CONF_PASS) {
        etsn_buf all = ETSN_BUF_INIT;
        for (size_t i = 0; i < r->reasons.n; i++)
            if (etsn_buf_printf(&all, "%s%s", i ? "\n" : "", r->reasons.v[i]) < 0) {
                etsn_buf_free(&all);
                return -1;
            }
        /* The message attribute is the first line of the first reason:
         * reporters show it as a one-line summary. */
        char first[512] = "";
        if (r->reasons.n) {
            const char *s = r->reasons.v[0];
            size_t n = strcspn(s, "\n");
            snprintf(first, sizeof first, "%.*s", (int)(n < 500 ? n : 500), s);
        }
        bool fail = r->verdict == CONF_FAIL;
        int rc = xmlTextWriterStartElement(w, BAD_CAST(fail ? "failure" : "skipped"));
        if (rc >= 0) rc = attr(w, "message", first);
        if (rc >= 0 && fail) rc = attr(w, "type", "conformance");
        if (rc >= 0 && fail) rc = text(w, all.data ? (const char *)all.data : "");
        if (rc >= 0) rc = xmlTextWriterEndElement(w);
        etsn_buf_free(&all);
        if (rc < 0) return -1;
    }
    if (r->requirement) {
        etsn_buf out = ETSN_BUF_INIT;
        int rc = etsn_buf_printf(&out, "requirement: %s\n", r->requirement);
        if (rc == 0 && r->source) rc = etsn_buf_printf(&out, "source: %s\n", r->source);
        for (size_t i = 0; rc == 0 && i < r->notes.n; i++)
            rc = etsn_buf_printf(&out, "%s\n", r->notes.v[i]);
        if (rc == 0) rc = xmlTextWriterStartElement(w, BAD_CAST "system-out") < 0 ? -1 : 0;
        if (rc == 0) rc = text(w, (const char *)out.data);
        if (rc == 0) rc = xmlTextWriterEndElement(w) < 0 ? -1 : 0;
        etsn_buf_free(&out);
        if (rc < 0) return -1;
    }
    return xmlTextWriterEndElement(w) < 0 ? -1 : 0;
}

int conf_junit_write(const char *path, const conf_result *results, size_t n, double seconds,
                     char *err, size_t errlen)
{
    size_t failures = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        if (results[i].verdict == CONF_FAIL) failures++;
        if (results[i].verdict == CONF_SKIP) skipped++;
    }
    /* Written beside the target and renamed, so a reader never sees half a
     * file and a failed run leaves no stale one looking complete. */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    xmlTextWriterPtr w = xmlNewTextWriterFilename(tmp, 0);
    if (!w) {
        snprintf(err, errlen, "cannot write %s", tmp);
        return -1;
    }
    char num[64];
    int rc = 0;
    xmlTextWriterSetIndent(w, 1);
    if (xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0) rc = -1;
    if (rc == 0 && xmlTextWriterStartElement(w, BAD_CAST "testsuites") < 0) rc = -1;
    if (rc == 0 && xmlTextWriterStartElement(w, BAD_CAST "testsuite") < 0) rc = -1;
    if (rc == 0) rc = attr(w, "name", "etsn-conformance");
    snprintf(num, sizeof num, "%zu", n);
    if (rc == 0) rc = attr(w, "tests", num);
    snprintf(num, sizeof num, "%zu", failures);
    if (rc == 0) rc = attr(w, "failures", num);
    if (rc == 0) rc = attr(w, "errors", "0");
    snprintf(num, sizeof num, "%zu", skipped);
    if (rc == 0) rc = attr(w, "skipped", num);
    snprintf(num, sizeof num, "%.3f", seconds);
    if (rc == 0) rc = attr(w, "time", num);
    for (size_t i = 0; rc == 0 && i < n; i++) rc = write_case(w, &results[i]);
    if (rc == 0 && xmlTextWriterEndDocument(w) < 0) rc = -1;
    xmlFreeTextWriter(w);
    if (rc == 0 && rename(tmp, path) < 0) rc = -1;
    if (rc < 0) {
        remove(tmp);
        snprintf(err, errlen, "cannot write the JUnit file %s", path);
    }
    return rc;
}

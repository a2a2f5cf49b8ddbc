/* Unit tests for record.c (ETSN_RECORD): the file is created 0600 (also
 * when it existed with a wider mode), a symlink is refused, exchanges from
 * two threads are written whole, the password is scrubbed, and the file is
 * closed with </transcript>. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/buf.h"
#include "record.h"

#define PW "P@ssw0rd-for-tests"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_record.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    etsn_buf b = ETSN_BUF_INIT;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) etsn_buf_append(&b, tmp, n);
    fclose(f);
    etsn_buf_append_byte(&b, 0);
    return etsn_buf_steal(&b);
}

static void *post(void *ctx)
{
    static const char req[] = "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'>"
                              "<s:Body><x>typed " PW "</x></s:Body></s:Envelope>";
    for (int i = 0; i < 50; i++) {
        etsn_http_exchange x = {.conn = 1,
                                .start_ms = 1000.0 + i,
                                .duration_ms = 1,
                                .status = 200,
                                .request = (const uint8_t *)req,
                                .request_len = sizeof req - 1,
                                .reply = NULL,
                                .reply_len = 0};
        etsn_recorder_on_exchange(ctx, &x);
    }
    return NULL;
}

START_TEST(test_record_file)
{
    setup();
    char path[128];
    path_in(path, sizeof path, "session.xml");
    FILE *f = fopen(path, "w"); /* an older file, world-readable */
    fputs("old", f);
    fclose(f);
    chmod(path, 0644);
    etsn_error err;
    etsn_recorder *r =
        etsn_recorder_open(path, "http://h:5985/wsman", "Negotiate", true, true, PW, &err);
    ck_assert_msg(r != NULL, "%s", err.message);
    pthread_t a, b;
    pthread_create(&a, NULL, post, r);
    pthread_create(&b, NULL, post, r);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    ck_assert_int_eq(etsn_recorder_close(r, &err), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    char *t = slurp(path);
    ck_assert_ptr_nonnull(strstr(t, "source=\"etsn --record\""));
    ck_assert_ptr_nonnull(strstr(t, "auth=\"Negotiate\" sealed=\"true\" scrubbed=\"true\""));
    ck_assert_ptr_null(strstr(t, PW));
    ck_assert_ptr_null(strstr(t, "old"));
    size_t n = 0;
    for (const char *p = strstr(t, "<exchange n="); p; p = strstr(p + 1, "<exchange n=")) n++;
    ck_assert_uint_eq(n, 100);
    ck_assert_ptr_nonnull(strstr(t, "<exchange n=\"100\""));
    ck_assert_ptr_nonnull(strstr(t, "start-ms=\"0.000\""));
    ck_assert(strcmp(t + strlen(t) - 14, "</transcript>\n") == 0);
    free(t);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(test_record_refuses_symlink)
{
    setup();
    char target[128], link[128];
    path_in(target, sizeof target, "target");
    path_in(link, sizeof link, "link.xml");
    FILE *f = fopen(target, "w");
    fclose(f);
    ck_assert_int_eq(symlink(target, link), 0);
    etsn_error err;
    ck_assert_ptr_null(etsn_recorder_open(link, NULL, NULL, false, true, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "Could not open the recording file"));
    unlink(link);
    unlink(target);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("record");
    TCase *tc = tcase_create("record");
    tcase_add_test(tc, test_record_file);
    tcase_add_test(tc, test_record_refuses_symlink);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

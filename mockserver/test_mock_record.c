/* Unit tests for etsn-mockd --record (mockserver/record.c): the recorder wraps the
 * HTTP layer's handler, writes each exchange through the transcript writer
 * to a 0600 file (a symlink refused), whole under concurrent connections,
 * with the secret scrubbed and sealed= taken from how the first request
 * came. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ref/core/buf.h"
#include "record.h"

static int handled;
static const char *last_event;

static int fake_handle(void *ctx, uint64_t conn_id, const char *user, const uint8_t *soap,
                       size_t len, etsn_buf *reply)
{
    (void)conn_id, (void)user, (void)soap, (void)len;
    __atomic_add_fetch((int *)ctx, 1, __ATOMIC_SEQ_CST);
    etsn_buf_append_str(reply, "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'>"
                               "<s:Body>ok</s:Body></s:Envelope>");
    return 200;
}

static void fake_event(void *ctx, const char *kind, const char *detail)
{
    (void)ctx, (void)detail;
    last_event = kind;
}

static mock_http_config cfg;

static void *client(void *arg)
{
    (void)arg;
    const char *req = "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body>"
                      "secret-pw</s:Body></s:Envelope>";
    for (int i = 0; i < 50; i++) {
        etsn_buf reply = ETSN_BUF_INIT;
        cfg.on_event(cfg.ctx, "request-sealed", NULL);
        ck_assert_int_eq(cfg.handle(cfg.ctx, 1, "u", (const uint8_t *)req, strlen(req), &reply),
                         200);
        etsn_buf_free(&reply);
    }
    return NULL;
}

START_TEST(test_record_file)
{
    char dir[] = "/tmp/test_record.XXXXXX", path[64], link[64], err[256] = "";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.xml", dir);
    snprintf(link, sizeof link, "%s/link.xml", dir);
    ck_assert_int_eq(symlink(path, link), 0);
    memset(&cfg, 0, sizeof cfg);
    cfg.handle = fake_handle;
    cfg.on_event = fake_event;
    cfg.ctx = &handled;
    ck_assert_ptr_null(mock_recorder_open(link, &cfg, true, NULL, err, sizeof err));
    ck_assert_ptr_eq(cfg.ctx, &handled); /* untouched when refused */
    mock_recorder *r = mock_recorder_open(path, &cfg, true, "secret-pw", err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    mock_recorder_set_endpoint(r, "http://127.0.0.1:1/wsman");
    pthread_t a, b;
    pthread_create(&a, NULL, client, NULL);
    pthread_create(&b, NULL, client, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    ck_assert_int_eq(handled, 100);
    ck_assert_str_eq(last_event, "request-sealed"); /* passed on */
    ck_assert_int_eq(mock_recorder_close(r, err, sizeof err), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *text = calloc(1, (size_t)st.st_size + 1);
    ck_assert_uint_eq(fread(text, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "source=\"etsn-mockd --record\""));
    ck_assert_ptr_nonnull(strstr(text, "endpoint=\"http://127.0.0.1:1/wsman\""));
    ck_assert_ptr_nonnull(strstr(text, "sealed=\"true\""));
    ck_assert_ptr_null(strstr(text, "secret-pw"));
    ck_assert_ptr_nonnull(strstr(text, "</transcript>"));
    int n = 0;
    for (const char *p = text; (p = strstr(p, "<exchange ")); p++) n++;
    ck_assert_int_eq(n, 100);
    free(text);
    unlink(path);
    unlink(link);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("record");
    TCase *tc = tcase_create("record");
    tcase_add_test(tc, test_record_file);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

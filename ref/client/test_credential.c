/* Password sources for -Credential: file, descriptor, terminal (a pty here),
 * and the no-terminal error. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "credential.h"

static char tmpdir[64];

static void setup(void)
{
    strcpy(tmpdir, "/tmp/etsn-cred-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *write_file(const char *name, const char *content, mode_t mode)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

START_TEST(user_forms)
{
    etsn_credential c = {0};
    ck_assert_int_eq(etsn_credential_set_user(&c, "DOMAIN\\user"), 0);
    ck_assert_str_eq(c.domain, "DOMAIN");
    ck_assert_str_eq(c.account, "user");
    ck_assert_int_eq(etsn_credential_set_user(&c, "user@corp.example"), 0);
    ck_assert_str_eq(c.domain, "corp.example");
    ck_assert_str_eq(c.account, "user");
    ck_assert_int_eq(etsn_credential_set_user(&c, "plain"), 0);
    ck_assert_ptr_null(c.domain);
    ck_assert_str_eq(c.account, "plain");
    ck_assert_str_eq(c.user, "plain");
    etsn_credential_free(&c);
}
END_TEST

START_TEST(password_file)
{
    etsn_secret s = {0};
    etsn_error e;
    etsn_error_clear(&e);
    const char *p = write_file("pw", "s3cret\nsecond line\n", 0600);
    ck_assert_int_eq(etsn_credential_read_file(p, &s, &e), 0);
    ck_assert_str_eq(s.data, "s3cret");
    ck_assert_uint_eq(s.len, 6);
    p = write_file("crlf", "abc\r\n", 0400);
    ck_assert_int_eq(etsn_credential_read_file(p, &s, &e), 0);
    ck_assert_str_eq(s.data, "abc");
    p = write_file("nonl", "last", 0600);
    ck_assert_int_eq(etsn_credential_read_file(p, &s, &e), 0);
    ck_assert_str_eq(s.data, "last");
    p = write_file("empty", "", 0600);
    ck_assert_int_eq(etsn_credential_read_file(p, &s, &e), 0);
    ck_assert_str_eq(s.data, "");
    p = write_file("open", "x\n", 0644);
    ck_assert_int_eq(etsn_credential_read_file(p, &s, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.message, "accessible by other users (mode 0644)"));
    ck_assert_int_eq(etsn_credential_read_file("/nonexistent/etsn", &s, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.message, "Cannot open the password file"));
    etsn_secret_free(&s);
    ck_assert_ptr_null(s.data);
}
END_TEST

START_TEST(password_fd_first)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(write(fds[1], "fromfd\nrest", 11), 11);
    close(fds[1]);
    char num[16];
    snprintf(num, sizeof num, "%d", fds[0]);
    const char *p = write_file("pw", "fromfile\n", 0600);
    etsn_credential_sources src = {.password_fd = num, .password_file = p};
    etsn_credential c = {0};
    etsn_error e;
    etsn_error_clear(&e);
    ck_assert_int_eq(etsn_credential_acquire_from("D\\u", &src, &c, &e), 0);
    ck_assert_str_eq(c.password.data, "fromfd");
    ck_assert_str_eq(c.domain, "D");
    /* The descriptor is closed after use. */
    ck_assert_int_eq(fcntl(fds[0], F_GETFD), -1);
    etsn_credential_free(&c);

    src.password_fd = NULL;
    ck_assert_int_eq(etsn_credential_acquire_from("u", &src, &c, &e), 0);
    ck_assert_str_eq(c.password.data, "fromfile");
    etsn_credential_free(&c);

    src.password_fd = "nope";
    ck_assert_int_eq(etsn_credential_acquire_from("u", &src, &c, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.message, "ETSN_PASSWORD_FD"));
    etsn_credential_free(&c);
}
END_TEST

START_TEST(no_terminal)
{
    etsn_credential_sources src = {.tty_path = NULL, .try_stdin_tty = false};
    etsn_credential c = {0};
    etsn_error e;
    etsn_error_clear(&e);
    ck_assert_int_eq(etsn_credential_acquire_from("u", &src, &c, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.message, "there is no terminal"));
    ck_assert_str_eq(e.category, "InvalidArgument");
    src.tty_path = "/dev/null"; /* not a terminal */
    ck_assert_int_eq(etsn_credential_acquire_from("u", &src, &c, &e), -1);
    etsn_credential_free(&c);
}
END_TEST

START_TEST(secret_growth_and_zeroing)
{
    etsn_secret s = {0};
    for (int i = 0; i < 1000; i++) ck_assert_int_eq(etsn_secret_append(&s, 'a' + i % 26), 0);
    ck_assert_uint_eq(s.len, 1000);
    ck_assert_uint_eq(strlen(s.data), 1000);
    /* Too long is refused rather than grown without end. */
    int rc = 0;
    for (int i = 0; i < 5000 && rc == 0; i++) rc = etsn_secret_append(&s, 'x');
    ck_assert_int_eq(rc, -1);
    etsn_secret_free(&s);
    ck_assert_ptr_null(s.data);
    ck_assert_uint_eq(s.len, 0);
    ck_assert_uint_eq(s.cap, 0);
}
END_TEST

/* The other end of the pty: waits for a prompt, then types. */
typedef struct {
    int master;
    char seen[1024];
    size_t seen_len;
    const char *answers[2];
    const char *prompts[2];
} typist;

static void *type_answers(void *arg)
{
    typist *t = arg;
    for (int k = 0; k < 2 && t->prompts[k]; k++) {
        while (!strstr(t->seen, t->prompts[k])) {
            ssize_t n = read(t->master, t->seen + t->seen_len, sizeof t->seen - 1 - t->seen_len);
            if (n <= 0) return NULL;
            t->seen_len += (size_t)n;
            t->seen[t->seen_len] = 0;
        }
        /* Wait until echo is off before typing the password. */
        usleep(100000);
        if (write(t->master, t->answers[k], strlen(t->answers[k])) < 0) return NULL;
    }
    /* Collect what follows (the echo, if any, and the final new line). */
    usleep(200000);
    int fl = fcntl(t->master, F_GETFL);
    fcntl(t->master, F_SETFL, fl | O_NONBLOCK);
    ssize_t n;
    while ((n = read(t->master, t->seen + t->seen_len, sizeof t->seen - 1 - t->seen_len)) > 0)
        t->seen_len += (size_t)n;
    t->seen[t->seen_len] = 0;
    return NULL;
}

static int open_pty(char *slave, size_t len)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) return -1;
    snprintf(slave, len, "%s", ptsname(m));
    return m;
}

START_TEST(terminal_prompt_without_echo)
{
    char slave[64];
    int m = open_pty(slave, sizeof slave);
    if (m < 0) return; /* no ptys in this environment */
    typist t = {.master = m, .prompts = {"Password for user DOM\\u: "}, .answers = {"hunter2\n"}};
    pthread_t th;
    pthread_create(&th, NULL, type_answers, &t);
    etsn_credential_sources src = {.tty_path = slave};
    etsn_credential c = {0};
    etsn_error e;
    etsn_error_clear(&e);
    int rc = etsn_credential_acquire_from("DOM\\u", &src, &c, &e);
    pthread_join(th, NULL);
    ck_assert_msg(rc == 0, "%s", e.message);
    ck_assert_str_eq(c.password.data, "hunter2");
    ck_assert_str_eq(c.account, "u");
    ck_assert_ptr_nonnull(strstr(t.seen, "\r\nPowerShell credential request\r\nEnter your "
                                         "credentials.\r\nPassword for user DOM\\u: "));
    ck_assert_ptr_null(strstr(t.seen, "hunter2")); /* not echoed */
    etsn_credential_free(&c);
    close(m);
}
END_TEST

START_TEST(terminal_asks_user_name)
{
    char slave[64];
    int m = open_pty(slave, sizeof slave);
    if (m < 0) return;
    typist t = {.master = m,
                .prompts = {"User: ", "Password for user bob: "},
                .answers = {"bob\n", "pw\n"}};
    pthread_t th;
    pthread_create(&th, NULL, type_answers, &t);
    etsn_credential_sources src = {.tty_path = slave};
    etsn_credential c = {0};
    etsn_error e;
    etsn_error_clear(&e);
    int rc = etsn_credential_acquire_from("", &src, &c, &e);
    pthread_join(th, NULL);
    ck_assert_msg(rc == 0, "%s", e.message);
    ck_assert_str_eq(c.user, "bob");
    ck_assert_str_eq(c.password.data, "pw");
    etsn_credential_free(&c);
    close(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("credential");
    TCase *tc = tcase_create("sources");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, user_forms);
    tcase_add_test(tc, password_file);
    tcase_add_test(tc, password_fd_first);
    tcase_add_test(tc, no_terminal);
    tcase_add_test(tc, secret_growth_and_zeroing);
    tcase_add_test(tc, terminal_prompt_without_echo);
    tcase_add_test(tc, terminal_asks_user_name);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

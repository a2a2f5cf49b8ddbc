/* The interactive host without a terminal: every host call a PowerShell
 * server sends, answered from a scripted line editor (read_line fake that
 * echoes like line_input.c does off a terminal) and a pipe for no-echo
 * input; output captured exactly. Colour mode and the progress layout are
 * checked on their own; a pty covers the no-echo terminal read. */
#include <check.h>
#include <fcntl.h>
#include <pty.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "../core/message.h"
#include "../core/psrp_msgs.h"
#include "console.h"
#include "host_ui.h"
#include "progress.h"

/* ---- harness ---- */

typedef struct {
    const char *const *lines;
    size_t n, next;
    FILE *out;
} script;

/* As etsn_line_input_read off a terminal: prompt, then the line echoed. */
static char *scripted_read(void *ctx, const char *prompt)
{
    script *s = ctx;
    fputs(prompt, s->out);
    if (s->next >= s->n) {
        fputc('\n', s->out);
        return NULL;
    }
    const char *l = s->lines[s->next++];
    fprintf(s->out, "%s\n", l);
    return strdup(l);
}

typedef struct {
    etsn_host_ui ui;
    char *out_text, *err_text;
    size_t out_len, err_len;
    int in_w;
    script sc;
} harness;

static harness h;

static void start(const char *const *lines, size_t n, const char *secret_input)
{
    memset(&h, 0, sizeof h);
    setenv("COLUMNS", "120", 1);
    unsetenv("NO_COLOR");
    FILE *out = open_memstream(&h.out_text, &h.out_len);
    FILE *err = open_memstream(&h.err_text, &h.err_len);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    if (secret_input)
        ck_assert_int_eq(write(fds[1], secret_input, strlen(secret_input)),
                         (ssize_t)strlen(secret_input));
    close(fds[1]);
    etsn_host_ui_init(&h.ui, out, err, fds[0], "Server01");
    ck_assert(!h.ui.terminal);
    ck_assert(!h.ui.color);
    h.sc = (script){.lines = lines, .n = n, .out = out};
    h.ui.read_line = scripted_read;
    h.ui.read_line_ctx = &h.sc;
}

static void stop(void)
{
    etsn_host_ui_finish(&h.ui);
    ck_assert_ptr_null(h.ui.priv);
    close(h.ui.in_fd);
    fclose(h.ui.out);
    fclose(h.ui.err);
    free(h.out_text);
    free(h.err_text);
}

static const char *out_text(void)
{
    fflush(h.ui.out);
    return h.out_text ? h.out_text : "";
}

static const char *err_text(void)
{
    fflush(h.ui.err);
    return h.err_text ? h.err_text : "";
}

/* The mp ArrayList of a host call; takes the values. */
static etsn_value *args(size_t n, ...)
{
    etsn_value *l = etsn_v_obj();
    etsn_obj_add_type(l, "System.Collections.ArrayList");
    etsn_obj_add_type(l, "System.Object");
    etsn_obj_set_coll(l, ETSN_COLL_LST);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) etsn_obj_push_item(l, va_arg(ap, etsn_value *));
    va_end(ap);
    return l;
}

static etsn_value *list_of(size_t n, ...)
{
    etsn_value *l = etsn_v_obj();
    etsn_obj_add_type(l, "System.Collections.ArrayList");
    etsn_obj_add_type(l, "System.Object");
    etsn_obj_set_coll(l, ETSN_COLL_LST);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) etsn_obj_push_item(l, va_arg(ap, etsn_value *));
    va_end(ap);
    return l;
}

/* FieldDescription as RemoteHostEncoder sends it: the private fields. */
static etsn_value *field_l(const char *name, const char *label, const char *type_name,
                           const char *full_name, const char *help)
{
    etsn_value *f = etsn_v_obj();
    etsn_obj_add_member(f, "name", etsn_v_string(name));
    etsn_obj_add_member(f, "label", etsn_v_string(label));
    etsn_obj_add_member(f, "parameterTypeName", etsn_v_string(type_name));
    etsn_obj_add_member(f, "parameterTypeFullName", etsn_v_string(full_name));
    etsn_obj_add_member(f, "parameterAssemblyFullName",
                        etsn_v_string("System.Private.CoreLib, Version=8.0.0.0"));
    etsn_obj_add_member(f, "helpMessage", etsn_v_string(help));
    etsn_obj_add_member(f, "isMandatory", etsn_v_bool(true));
    etsn_obj_add_member(f, "metadata", list_of(0));
    etsn_obj_add_member(f, "modifiedByRemotingProtocol", etsn_v_bool(false));
    etsn_obj_add_member(f, "isFromRemoteHost", etsn_v_bool(false));
    return f;
}

static etsn_value *field(const char *name, const char *type_name, const char *full_name,
                         const char *help)
{
    return field_l(name, "", type_name, full_name, help);
}

static etsn_value *choice_desc(const char *label, const char *help)
{
    etsn_value *c = etsn_v_obj();
    etsn_obj_add_member(c, "label", etsn_v_string(label));
    etsn_obj_add_member(c, "helpMessage", etsn_v_string(help));
    return c;
}

typedef struct {
    etsn_value *result, *error;
    bool known;
} answer;

static answer call(int method, etsn_value *params)
{
    answer a;
    a.known = etsn_host_ui_call(&h.ui, method, params, &a.result, &a.error);
    etsn_v_free(params);
    return a;
}

static void answer_free(answer *a)
{
    etsn_v_free(a->result);
    etsn_v_free(a->error);
}

static void assert_utf16(const etsn_value *ss, const char *ascii)
{
    ck_assert_ptr_nonnull(ss);
    ck_assert_int_eq(ss->kind, ETSN_V_SECURESTRING);
    size_t n = strlen(ascii);
    ck_assert_uint_eq(ss->str_len, n * 2);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq((unsigned char)ss->str[2 * i], (unsigned char)ascii[i]);
        ck_assert_int_eq(ss->str[2 * i + 1], 0);
    }
}

static char *to_xml(const etsn_value *v)
{
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_clixml_write(v, &b), 0);
    return etsn_buf_steal(&b);
}

/* ---- exit and pop ---- */

START_TEST(should_exit_and_pop)
{
    start(NULL, 0, NULL);
    answer a = call(6, args(1, etsn_v_i32(5)));
    ck_assert(a.known);
    ck_assert_ptr_null(a.result);
    ck_assert_ptr_null(a.error);
    ck_assert(h.ui.exit_requested);
    ck_assert_int_eq(h.ui.exit_code, 5);
    ck_assert(!h.ui.pop_requested);
    a = call(53, args(0));
    ck_assert(a.known);
    ck_assert(h.ui.pop_requested);
    ck_assert_str_eq(out_text(), "");
    stop();
}
END_TEST

/* ---- writes ---- */

START_TEST(writes_plain)
{
    start(NULL, 0, NULL);
    call(13, args(1, etsn_v_string("a")));
    call(14, args(3, etsn_v_i32(14), etsn_v_i32(0), etsn_v_string("b")));
    call(15, args(0));
    call(16, args(1, etsn_v_string("c")));
    call(17, args(3, etsn_v_i32(12), etsn_v_i32(4), etsn_v_string("d")));
    call(19, args(1, etsn_v_string("x")));
    call(21, args(1, etsn_v_string("y")));
    call(22, args(1, etsn_v_string("z")));
    call(18, args(1, etsn_v_string("e")));
    call(16, args(1, etsn_v_string("\x1b[32;1mgreen\x1b[0m \x1b[?25lx")));
    ck_assert_str_eq(out_text(), "ab\nc\nd\nDEBUG: x\nVERBOSE: y\nWARNING: z\ngreen x\n");
    ck_assert_str_eq(err_text(), "e\n");
    stop();
}
END_TEST

START_TEST(writes_colour)
{
    start(NULL, 0, NULL);
    h.ui.color = true;
    call(17, args(3, etsn_v_i32(14), etsn_v_i32(0), etsn_v_string("hi")));
    call(14, args(3, etsn_v_i32(15), etsn_v_i32(4), etsn_v_string("x")));
    call(17, args(3, etsn_v_i32(7), etsn_v_i32(0), etsn_v_string("plain")));
    call(22, args(1, etsn_v_string("w")));
    call(19, args(1, etsn_v_string("d")));
    call(21, args(1, etsn_v_string("v")));
    call(28, args(1, etsn_v_i32(10)));
    call(16, args(1, etsn_v_string("g")));
    call(18, args(1, etsn_v_string("e")));
    ck_assert_str_eq(out_text(), "\x1b[93mhi\x1b[0m\n"
                                 "\x1b[97;41mx\x1b[0m"
                                 "plain\n"
                                 "\x1b[33;1mWARNING: w\x1b[0m\n"
                                 "\x1b[33;1mDEBUG: d\x1b[0m\n"
                                 "\x1b[33;1mVERBOSE: v\x1b[0m\n"
                                 "\x1b[92mg\x1b[0m\n");
    ck_assert_str_eq(err_text(), "\x1b[31;1me\x1b[0m\n");
    stop();
}
END_TEST

START_TEST(no_color_env)
{
    /* NO_COLOR (any value) means no colours even on a terminal. */
    int master, slave;
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    FILE *out = fdopen(dup(slave), "w");
    setenv("TERM", "xterm", 1);
    setenv("NO_COLOR", "", 1);
    etsn_host_ui ui = {0};
    etsn_host_ui_init(&ui, out, stderr, slave, "s");
    ck_assert(ui.terminal);
    ck_assert(!ui.color);
    unsetenv("NO_COLOR");
    etsn_host_ui_init(&ui, out, stderr, slave, "s");
    ck_assert(ui.color);
    setenv("TERM", "dumb", 1);
    etsn_host_ui_init(&ui, out, stderr, slave, "s");
    ck_assert(!ui.terminal);
    ck_assert(!ui.color);
    etsn_host_ui_finish(&ui);
    fclose(out);
    close(slave);
    close(master);
}
END_TEST

/* ---- reading ---- */

START_TEST(read_line)
{
    const char *in[] = {"bob"};
    start(in, 1, NULL);
    answer a = call(11, args(0));
    ck_assert_str_eq(etsn_v_as_str(a.result), "bob");
    answer_free(&a);
    a = call(11, args(0)); /* end of input: null */
    ck_assert_int_eq(a.result->kind, ETSN_V_NIL);
    answer_free(&a);
    ck_assert_str_eq(out_text(), "bob\n\n");
    stop();
}
END_TEST

#define READ_SECURE_WARNING                                                                        \
    "WARNING: A script or application on the remote computer SERVER01 is asking to read a line "   \
    "securely. Enter sensitive information, such as your credentials, only if you trust the "      \
    "remote computer and the application or script that is requesting it.\n"

START_TEST(read_line_secure)
{
    start(NULL, 0, "s3cret\r\nnext\n");
    answer a = call(12, args(0));
    ck_assert_ptr_null(a.error);
    assert_utf16(a.result, "s3cret");
    /* The typed text is never echoed off a terminal. */
    ck_assert_str_eq(out_text(), READ_SECURE_WARNING "\n");
    answer_free(&a);
    a = call(12, args(0));
    assert_utf16(a.result, "next");
    answer_free(&a);
    a = call(12, args(0)); /* end of input */
    ck_assert_ptr_null(a.error);
    ck_assert_int_eq(a.result->kind, ETSN_V_NIL);
    answer_free(&a);
    stop();
}
END_TEST

static size_t hook_calls;
static uint8_t hook_bytes[64];
static size_t hook_len;

static etsn_value *fake_encrypt(void *ctx, const uint8_t *p, size_t len)
{
    ck_assert_ptr_eq(ctx, &hook_calls);
    hook_calls++;
    ck_assert_uint_le(len, sizeof hook_bytes);
    memcpy(hook_bytes, p, len);
    hook_len = len;
    return etsn_v_text(ETSN_V_SECURESTRING, "ENC", 3);
}

START_TEST(read_line_secure_hook)
{
    start(NULL, 0, "p\xc3\xa4\xf0\x9f\x98\x80\n"); /* "pä😀" */
    h.ui.make_secure_string = fake_encrypt;
    h.ui.secure_ctx = &hook_calls;
    hook_calls = 0;
    answer a = call(12, args(0));
    ck_assert_uint_eq(hook_calls, 1);
    const uint8_t want[] = {'p', 0, 0xe4, 0, 0x3d, 0xd8, 0x00, 0xde};
    ck_assert_uint_eq(hook_len, sizeof want);
    ck_assert_mem_eq(hook_bytes, want, sizeof want);
    ck_assert_uint_eq(a.result->str_len, 3);
    ck_assert_mem_eq(a.result->str, "ENC", 3);
    answer_free(&a);
    stop();
}
END_TEST

/* ---- PromptForChoice ---- */

static etsn_value *yes_no(void)
{
    return list_of(2, choice_desc("&Yes", "Do it"), choice_desc("&No", "Skip it"));
}

START_TEST(choice_help_then_no)
{
    const char *in[] = {"?", "n"};
    start(in, 2, NULL);
    answer a = call(26, args(4, etsn_v_string("Confirm"), etsn_v_string("Are you sure?"), yes_no(),
                             etsn_v_i32(0)));
    ck_assert_ptr_null(a.error);
    ck_assert_int_eq(a.result->kind, ETSN_V_I32);
    ck_assert_int_eq(a.result->num.i, 1);
    ck_assert_str_eq(out_text(), "\nConfirm\nAre you sure?\n"
                                 "[Y] Yes  [N] No  [?] Help (default is \"Y\"): ?\n"
                                 "Y - Do it\nN - Skip it\n"
                                 "[Y] Yes  [N] No  [?] Help (default is \"Y\"): n\n");
    answer_free(&a);
    stop();
}
END_TEST

START_TEST(choice_default_label_and_invalid)
{
    const char *in[] = {"", "maybe", "  no ", ""};
    start(in, 4, NULL);
    answer a = call(26, args(4, etsn_v_nil(), etsn_v_nil(), yes_no(), etsn_v_i32(0)));
    ck_assert_int_eq(a.result->num.i, 0); /* empty answer: the default */
    answer_free(&a);
    a = call(26, args(4, etsn_v_nil(), etsn_v_nil(), yes_no(), etsn_v_i32(-1)));
    ck_assert_int_eq(a.result->num.i, 1); /* "maybe" is asked again; "no" is the label */
    answer_free(&a);
    ck_assert_str_eq(out_text(), "[Y] Yes  [N] No  [?] Help (default is \"Y\"): \n"
                                 "[Y] Yes  [N] No  [?] Help maybe\n"
                                 "[Y] Yes  [N] No  [?] Help   no \n");
    /* No default and the input ends: PromptForChoiceCanceled. */
    a = call(26, args(4, etsn_v_nil(), etsn_v_nil(), yes_no(), etsn_v_i32(-1)));
    ck_assert_ptr_null(a.result);
    ck_assert_ptr_nonnull(a.error);
    etsn_error_record rec;
    etsn_error_record_read(a.error, &rec);
    ck_assert_str_eq(rec.message, "The prompt was canceled.");
    ck_assert_str_eq(rec.fqid, "PromptForChoiceCanceled");
    answer_free(&a);
    stop();
}
END_TEST

START_TEST(choice_bad_arguments)
{
    start(NULL, 0, NULL);
    answer a = call(26, args(4, etsn_v_nil(), etsn_v_nil(), yes_no(), etsn_v_i32(2)));
    ck_assert_ptr_nonnull(a.error);
    answer_free(&a);
    a = call(26,
             args(4, etsn_v_nil(), etsn_v_nil(), list_of(1, choice_desc("&?", "")), etsn_v_i32(0)));
    ck_assert_ptr_nonnull(a.error);
    answer_free(&a);
    a = call(26, args(4, etsn_v_nil(), etsn_v_nil(), list_of(0), etsn_v_i32(0)));
    ck_assert_ptr_nonnull(a.error);
    answer_free(&a);
    ck_assert_str_eq(out_text(), "");
    stop();
}
END_TEST

START_TEST(choice_multiple)
{
    const char *in[] = {"n", "x", "?", "m", "", ""};
    start(in, 6, NULL);
    etsn_value *choices =
        list_of(3, choice_desc("&Yes", "y"), choice_desc("&No", "n"), choice_desc("&Maybe", "m"));
    answer a = call(56, args(4, etsn_v_string("Pick"), etsn_v_string("Several"),
                             etsn_v_ref(choices), list_of(1, etsn_v_i32(0))));
    ck_assert_ptr_null(a.error);
    ck_assert(etsn_v_has_type(a.result, "System.Collections.ArrayList"));
    ck_assert_uint_eq(a.result->n_items, 2);
    ck_assert_int_eq(a.result->items[0]->num.i, 1);
    ck_assert_int_eq(a.result->items[1]->num.i, 2);
    answer_free(&a);
    ck_assert_str_eq(out_text(), "\nPick\nSeveral\n"
                                 "[Y] Yes  \n[N] No  \n[M] Maybe  \n[?] Help \n(default is \"Y\")\n"
                                 "Choice[0]: n\nChoice[1]: x\nChoice[1]: ?\n"
                                 "Y - y\nN - n\nM - m\n"
                                 "Choice[1]: m\nChoice[2]: \n");
    /* Nothing picked: the defaults. */
    a = call(56, args(4, etsn_v_nil(), etsn_v_nil(), choices, list_of(1, etsn_v_i32(0))));
    ck_assert_uint_eq(a.result->n_items, 1);
    ck_assert_int_eq(a.result->items[0]->num.i, 0);
    char *xml = to_xml(a.result);
    ck_assert_ptr_nonnull(strstr(xml, "<T>System.Collections.ArrayList</T>"));
    ck_assert_ptr_nonnull(strstr(xml, "<LST><I32>0</I32></LST>"));
    free(xml);
    answer_free(&a);
    stop();
}
END_TEST

/* ---- Prompt ---- */

START_TEST(prompt_string_and_array)
{
    const char *in[] = {"alice", "a", "b", ""};
    start(in, 4, NULL);
    etsn_value *fields = list_of(2, field("Name", "String", "System.String", ""),
                                 field("Tags", "String[]", "System.String[]", ""));
    answer a = call(23, args(3, etsn_v_string("Details"), etsn_v_string("Fill in"), fields));
    ck_assert_ptr_null(a.error);
    ck_assert(etsn_v_has_type(a.result, "System.Collections.Hashtable"));
    ck_assert_str_eq(etsn_v_as_str(etsn_dict_get(a.result, "Name")), "alice");
    const etsn_value *tags = etsn_dict_get(a.result, "Tags");
    ck_assert(etsn_v_has_type(tags, "System.String[]"));
    ck_assert_uint_eq(tags->n_items, 2);
    ck_assert_str_eq(etsn_v_as_str(tags->items[0]), "a");
    ck_assert_str_eq(etsn_v_as_str(tags->items[1]), "b");
    ck_assert_str_eq(out_text(),
                     "\nDetails\nFill in\nName: alice\nTags[0]: a\nTags[1]: b\nTags[2]: \n");
    char *xml = to_xml(a.result);
    ck_assert_ptr_nonnull(strstr(xml, "<T>System.Collections.Hashtable</T>"));
    ck_assert_ptr_nonnull(strstr(xml, "<En><S N=\"Key\">Name</S><S N=\"Value\">alice</S></En>"));
    free(xml);
    answer_free(&a);
    stop();
}
END_TEST

START_TEST(prompt_int_array_help_and_commands)
{
    const char *in[] = {"!?", "!x", "7", "!!bang", ""};
    start(in, 5, NULL);
    /* Prompt commands work for fields with a label (PromptReadInput). */
    etsn_value *f = field_l("Count", "&Count", "Int32[]", "System.Int32[]", "How many");
    answer a = call(23, args(3, etsn_v_nil(), etsn_v_nil(), list_of(1, f)));
    ck_assert_ptr_null(a.error);
    ck_assert_str_eq(out_text(), "(Type !? for Help.)\nCount[0]: !?\nHow many\nCount[0]: !x\n"
                                 "\"!x\" cannot be recognized as a valid Prompt command.\n"
                                 "Count[0]: 7\nCount[1]: !!bang\nCount[2]: \n");
    /* "!!bang" is not a number: the list stays an ArrayList of strings. */
    const etsn_value *v = etsn_dict_get(a.result, "Count");
    ck_assert(etsn_v_has_type(v, "System.Collections.ArrayList"));
    ck_assert_uint_eq(v->n_items, 2);
    ck_assert_str_eq(etsn_v_as_str(v->items[1]), "!bang");
    answer_free(&a);
    stop();
}
END_TEST

START_TEST(prompt_int_array_typed)
{
    const char *in[] = {"1", "2", ""};
    start(in, 3, NULL);
    answer a = call(23, args(3, etsn_v_nil(), etsn_v_nil(),
                             list_of(1, field("N", "Int32[]", "System.Int32[]", "help"))));
    const etsn_value *v = etsn_dict_get(a.result, "N");
    ck_assert(etsn_v_has_type(v, "System.Int32[]"));
    ck_assert_int_eq(v->items[1]->kind, ETSN_V_I32);
    ck_assert_int_eq(v->items[1]->num.i, 2);
    ck_assert_str_eq(out_text(), "(Type !? for Help.)\nN[0]: 1\nN[1]: 2\nN[2]: \n");
    answer_free(&a);
    stop();
}
END_TEST

#define PROMPT_SECURE_WARNING                                                                      \
    "WARNING: A script or application on the remote computer SERVER01 is sending a prompt "        \
    "request. When you are prompted, enter sensitive information, such as credentials or "         \
    "passwords, only if you trust the remote computer and the application or script that is "      \
    "requesting the data.\n"

START_TEST(prompt_secure_field)
{
    start(NULL, 0, "hunter2\n");
    answer a = call(
        23, args(3, etsn_v_string(""), etsn_v_string(""),
                 list_of(1, field("Pwd", "SecureString", "System.Security.SecureString", ""))));
    ck_assert_ptr_null(a.error);
    assert_utf16(etsn_dict_get(a.result, "Pwd"), "hunter2");
    ck_assert_str_eq(out_text(), PROMPT_SECURE_WARNING "Pwd: \n");
    answer_free(&a);
    stop();
}
END_TEST

#define CRED_WARNING                                                                               \
    "Warning: A script or application on the remote computer SERVER01 is requesting your "         \
    "credentials. Enter your credentials only if you trust the remote computer and the "           \
    "application or script that is requesting them.\n\n"

START_TEST(prompt_credential_field)
{
    const char *in[] = {"bob"};
    start(in, 1, "pw\n");
    answer a = call(23, args(3, etsn_v_string("Login"), etsn_v_string("Who?"),
                             list_of(1, field("Cred", "PSCredential",
                                              "System.Management.Automation.PSCredential", ""))));
    ck_assert_ptr_null(a.error);
    const etsn_value *c = etsn_dict_get(a.result, "Cred");
    ck_assert(etsn_v_has_type(c, "System.Management.Automation.PSCredential"));
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(c, "UserName")), "bob");
    assert_utf16(etsn_v_get(c, "Password"), "pw");
    ck_assert_str_eq(out_text(), "\nPowerShell Credential Request: Login\n" CRED_WARNING "Who?\n"
                                 "Cred\nUser: bob\nPassword for user bob: \n\n");
    answer_free(&a);
    stop();
}
END_TEST

START_TEST(prompt_cancel)
{
    const char *in[] = {"x"};
    start(in, 1, NULL);
    answer a = call(23, args(3, etsn_v_nil(), etsn_v_nil(),
                             list_of(2, field("A", "String", "System.String", ""),
                                     field("B", "String", "System.String", ""))));
    ck_assert_ptr_null(a.error);
    ck_assert(etsn_v_has_type(a.result, "System.Collections.Hashtable"));
    ck_assert_uint_eq(a.result->n_items, 0);
    ck_assert_str_eq(out_text(), "A: x\nB: \n\n");
    answer_free(&a);
    a = call(23, args(3, etsn_v_nil(), etsn_v_nil(), list_of(0)));
    ck_assert_ptr_nonnull(a.error);
    answer_free(&a);
    stop();
}
END_TEST

/* ---- PromptForCredential ---- */

START_TEST(credential_asks_user)
{
    const char *in[] = {"", "bob"};
    start(in, 2, "pw\n");
    answer a = call(24, args(4, etsn_v_string("Cred"), etsn_v_string("Enter"), etsn_v_string(""),
                             etsn_v_string("")));
    ck_assert_ptr_null(a.error);
    ck_assert(etsn_v_has_type(a.result, "System.Management.Automation.PSCredential"));
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(a.result, "UserName")), "bob");
    assert_utf16(etsn_v_get(a.result, "Password"), "pw");
    ck_assert_str_eq(out_text(), "\nPowerShell Credential Request: Cred\n" CRED_WARNING "Enter\n"
                                 "User: \nUser: bob\nPassword for user bob: \n\n");
    char *xml = to_xml(a.result);
    ck_assert_ptr_nonnull(strstr(xml, "<T>System.Management.Automation.PSCredential</T>"));
    ck_assert_ptr_nonnull(strstr(xml, "<S N=\"UserName\">bob</S>"));
    ck_assert_ptr_nonnull(strstr(xml, "<SS N=\"Password\">"));
    free(xml);
    answer_free(&a);
    stop();
}
END_TEST

START_TEST(credential_given_user_and_target)
{
    start(NULL, 0, "pw\n");
    answer a =
        call(25, args(6, etsn_v_string("PowerShell credential request "), etsn_v_string(""),
                      etsn_v_string("alice"), etsn_v_string("DOM"), etsn_v_i32(3), etsn_v_i32(1)));
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(a.result, "UserName")), "DOM\\alice");
    /* CredUI's own caption is kept; the warning still prefixes the message. */
    ck_assert_str_eq(out_text(), "\nPowerShell credential request \n" CRED_WARNING "\n"
                                 "Password for user alice: \n\n");
    answer_free(&a);
    /* End of input at the password: null. */
    a = call(24, args(4, etsn_v_nil(), etsn_v_nil(), etsn_v_string("x"), etsn_v_nil()));
    ck_assert_ptr_null(a.error);
    ck_assert_int_eq(a.result->kind, ETSN_V_NIL);
    answer_free(&a);
    stop();
}
END_TEST

/* ---- keys and raw UI ---- */

START_TEST(read_key)
{
    start(NULL, 0, "aZ\n");
    answer a = call(46, args(1, etsn_v_i32(4 | 2)));
    ck_assert_ptr_null(a.error);
    ck_assert_int_eq(etsn_v_get(a.result, "virtualKeyCode")->num.i, 65);
    ck_assert_int_eq(etsn_v_get(a.result, "character")->kind, ETSN_V_CHAR);
    ck_assert_int_eq(etsn_v_get(a.result, "character")->num.i, 'a');
    ck_assert_int_eq(etsn_v_get(a.result, "controlKeyState")->num.i, 0);
    ck_assert(etsn_v_get(a.result, "keyDown")->num.b);
    answer_free(&a);
    a = call(46, args(1, etsn_v_i32(4))); /* echoed */
    ck_assert_int_eq(etsn_v_get(a.result, "virtualKeyCode")->num.i, 'Z');
    ck_assert_int_eq(etsn_v_get(a.result, "controlKeyState")->num.i, 0x10);
    answer_free(&a);
    a = call(46, args(1, etsn_v_i32(4 | 2)));
    ck_assert_int_eq(etsn_v_get(a.result, "virtualKeyCode")->num.i, 13);
    answer_free(&a);
    a = call(46, args(1, etsn_v_i32(4))); /* end of input */
    ck_assert_ptr_nonnull(a.error);
    ck_assert(!h.ui.interrupted);
    answer_free(&a);
    ck_assert_str_eq(out_text(), "Z");
    stop();
}
END_TEST

static etsn_value *rect(int l, int t, int r, int b)
{
    etsn_value *v = etsn_v_obj();
    etsn_obj_add_member(v, "left", etsn_v_i32(l));
    etsn_obj_add_member(v, "top", etsn_v_i32(t));
    etsn_obj_add_member(v, "right", etsn_v_i32(r));
    etsn_obj_add_member(v, "bottom", etsn_v_i32(b));
    return v;
}

static etsn_value *cell(char ch)
{
    etsn_value *v = etsn_v_obj();
    etsn_obj_add_member(v, "character", etsn_v_int(ETSN_V_CHAR, ch));
    etsn_obj_add_member(v, "foregroundColor", etsn_v_i32(7));
    etsn_obj_add_member(v, "backgroundColor", etsn_v_i32(0));
    etsn_obj_add_member(v, "bufferCellType", etsn_v_i32(0));
    return v;
}

static etsn_value *xy(int x, int y)
{
    etsn_value *v = etsn_v_obj();
    etsn_obj_add_member(v, "x", etsn_v_i32(x));
    etsn_obj_add_member(v, "y", etsn_v_i32(y));
    return v;
}

START_TEST(raw_ui_off_terminal)
{
    /* Setters are accepted and draw nothing when out is not a terminal. */
    start(NULL, 0, NULL);
    ck_assert(call(28, args(1, etsn_v_i32(10))).known);
    ck_assert(call(30, args(1, etsn_v_i32(1))).known);
    ck_assert(call(32, args(1, xy(0, 0))).known);
    ck_assert(call(34, args(1, xy(0, 0))).known);
    ck_assert(call(36, args(1, etsn_v_i32(25))).known);
    ck_assert(call(38, args(1, xy(0, 0))).known);
    ck_assert(call(40, args(1, xy(0, 0))).known);
    ck_assert(call(42, args(1, etsn_v_string("title"))).known);
    ck_assert(call(47, args(0)).known);
    ck_assert(call(48, args(2, rect(-1, -1, -1, -1), cell(' '))).known);
    etsn_value *arr = etsn_v_obj();
    etsn_obj_add_member(arr, "mae", list_of(1, cell('x')));
    etsn_obj_add_member(arr, "mal", list_of(2, etsn_v_i32(1), etsn_v_i32(1)));
    ck_assert(call(49, args(2, xy(1, 1), arr)).known);
    ck_assert(call(51, args(4, rect(0, 0, 1, 1), xy(0, 0), rect(0, 0, 1, 1), cell(' '))).known);
    ck_assert(!call(99, args(0)).known);
    ck_assert(!call(1, args(0)).known);
    ck_assert_str_eq(out_text(), "");
    etsn_value *e = etsn_host_ui_not_implemented(50);
    etsn_error_record rec;
    etsn_error_record_read(e, &rec);
    ck_assert_str_eq(rec.fqid, "HostFunctionNotImplemented");
    ck_assert_int_eq(rec.category, 11);
    etsn_v_free(e);
    stop();
}
END_TEST

/* ---- progress ---- */

static etsn_value *progress_record(int id, int parent, const char *activity, const char *status,
                                   int percent, int seconds, bool completed)
{
    etsn_value *v = etsn_v_obj();
    etsn_obj_add_member(v, "Activity", etsn_v_string(activity));
    etsn_obj_add_member(v, "ActivityId", etsn_v_i32(id));
    etsn_obj_add_member(v, "StatusDescription", etsn_v_string(status));
    etsn_obj_add_member(v, "CurrentOperation", etsn_v_nil());
    etsn_obj_add_member(v, "ParentActivityId", etsn_v_i32(parent));
    etsn_obj_add_member(v, "PercentComplete", etsn_v_i32(percent));
    etsn_obj_add_member(v, "Type",
                        etsn_enum_value("System.Management.Automation.ProgressRecordType",
                                        completed ? "Completed" : "Processing", completed));
    etsn_obj_add_member(v, "SecondsRemaining", etsn_v_i32(seconds));
    return v;
}

static void apply(etsn_progress *p, etsn_value *v)
{
    etsn_progress_record r;
    ck_assert(etsn_progress_record_read(v, &r));
    ck_assert_int_eq(etsn_progress_update(p, 1, &r), 0);
    etsn_v_free(v);
}

START_TEST(progress_layout)
{
    etsn_progress *p = etsn_progress_new();
    apply(p, progress_record(1, -1, "Copy", "file.txt", 50, -1, false));
    apply(p, progress_record(2, 1, "Inner", "x", -1, 5, false));
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_uint_eq(etsn_progress_render(p, 40, 10, true, &b), 2);
    /* RenderAnsi at 40 cells: bar width 40-4-4 = 32, half reversed. */
    const char *l1 = (const char *)b.data;
    ck_assert_str_eq(l1, "\x1b[33;1mCopy [\x1b[7mfile.txt        \x1b[27m               ]\x1b[0m");
    const char *l2 = l1 + strlen(l1) + 1;
    ck_assert_str_eq(l2, "  \x1b[33;1mInner [\x1b[7mx                         5s\x1b[27m]\x1b[0m");
    etsn_buf_reset(&b);
    ck_assert_uint_eq(etsn_progress_render(p, 40, 10, false, &b), 2);
    l1 = (const char *)b.data;
    ck_assert_str_eq(l1, " Copy 50% file.txt ");
    l2 = l1 + strlen(l1) + 1;
    ck_assert_str_eq(l2, "   Inner 00:00:05 x ");
    /* Completing the parent promotes the child. */
    apply(p, progress_record(1, -1, "Copy", "", 100, -1, true));
    etsn_buf_reset(&b);
    ck_assert_uint_eq(etsn_progress_render(p, 40, 10, false, &b), 1);
    ck_assert_str_eq((const char *)b.data, " Inner 00:00:05 x ");
    apply(p, progress_record(2, -1, "Inner", "", 0, -1, true));
    ck_assert(etsn_progress_empty(p));
    etsn_buf_free(&b);
    etsn_progress_free(p);
}
END_TEST

START_TEST(progress_off_terminal)
{
    start(NULL, 0, NULL);
    call(20, args(2, etsn_v_i64(7), progress_record(1, -1, "A", "s", 10, -1, false)));
    etsn_value *r = progress_record(1, -1, "A", "s", 10, -1, false);
    etsn_host_ui_record(&h.ui, ETSN_MSG_PROGRESS_RECORD, r);
    etsn_v_free(r);
    etsn_host_ui_end_pipeline(&h.ui);
    ck_assert_str_eq(out_text(), "");
    stop();
}
END_TEST

/* ---- records ---- */

START_TEST(records)
{
    start(NULL, 0, NULL);
    etsn_value *w = etsn_v_obj();
    etsn_obj_add_member(w, "InformationalRecord_Message", etsn_v_string("careful"));
    etsn_host_ui_record(&h.ui, ETSN_MSG_WARNING_RECORD, w);
    etsn_host_ui_record(&h.ui, ETSN_MSG_VERBOSE_RECORD, w);
    etsn_host_ui_record(&h.ui, ETSN_MSG_DEBUG_RECORD, w);
    etsn_v_free(w);
    etsn_value *info = etsn_v_obj();
    etsn_obj_add_member(info, "MessageData", etsn_v_string("note"));
    etsn_obj_add_member(info, "Tags", list_of(0));
    etsn_host_ui_record(&h.ui, ETSN_MSG_INFORMATION_RECORD, info);
    etsn_v_free(info);
    info = etsn_v_obj();
    etsn_obj_add_member(info, "MessageData", etsn_v_string("host text"));
    etsn_obj_add_member(info, "Tags", list_of(1, etsn_v_string("PSHOST")));
    etsn_host_ui_record(&h.ui, ETSN_MSG_INFORMATION_RECORD, info);
    etsn_v_free(info);
    etsn_error_record er = {.message = "Cannot find path 'C:\\nope' because it does not exist.",
                            .exception_type = "System.Management.Automation.ItemNotFoundException",
                            .fqid = "PathNotFound",
                            .category = 13,
                            .category_name = "ObjectNotFound",
                            .activity = "Get-Item"};
    etsn_value *e = etsn_msg_error_record(&er, NULL);
    etsn_host_ui_record(&h.ui, ETSN_MSG_ERROR_RECORD, e);
    etsn_v_free(e);
    ck_assert_str_eq(out_text(), "WARNING: careful\nVERBOSE: careful\nDEBUG: careful\nnote\n");
    ck_assert_str_eq(err_text(),
                     "Get-Item: Cannot find path 'C:\\nope' because it does not exist.\n");
    stop();
}
END_TEST

/* ---- a terminal (pty): '*' echo, backspace, Ctrl+C, mode restored ---- */

START_TEST(terminal_secret)
{
    int master, slave;
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    setenv("TERM", "xterm", 1);
    unsetenv("NO_COLOR");
    FILE *out = fdopen(dup(slave), "w");
    etsn_host_ui ui = {0};
    etsn_host_ui_init(&ui, out, out, slave, "srv");
    ck_assert(ui.terminal);
    /* Non-canonical before typing, so the line discipline does not edit or
     * echo the keys ahead of the host's own raw read. */
    struct termios before;
    tcgetattr(slave, &before);
    before.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG);
    before.c_iflag &= ~(tcflag_t)ICRNL;
    tcsetattr(slave, TCSANOW, &before);
    const char typed[] = "ab\x7f"
                         "c\r";
    ck_assert_int_eq(write(master, typed, sizeof typed - 1), (ssize_t)sizeof typed - 1);
    etsn_value *r = NULL, *e = NULL;
    ck_assert(etsn_host_ui_call(&ui, 12, NULL, &r, &e));
    ck_assert_ptr_null(e);
    assert_utf16(r, "ac");
    etsn_v_free(r);
    struct termios after;
    tcgetattr(slave, &after);
    ck_assert_int_eq(after.c_lflag, before.c_lflag);
    char screen[2048];
    usleep(20000);
    ssize_t n = read(master, screen, sizeof screen - 1);
    ck_assert_int_gt(n, 0);
    screen[n] = 0;
    ck_assert_ptr_nonnull(strstr(screen, "**\b \b*\r\n"));
    ck_assert_ptr_nonnull(strstr(screen, "\x1b[33;1mWARNING: A script"));
    /* Ctrl+C: an error, the flag for the session, the mode back. */
    ck_assert_int_eq(write(master, "x\x03", 2), 2);
    ck_assert(etsn_host_ui_call(&ui, 12, NULL, &r, &e));
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(e);
    ck_assert(ui.interrupted);
    etsn_error_record rec;
    etsn_error_record_read(e, &rec);
    ck_assert_str_eq(rec.fqid, "PipelineStopped");
    etsn_v_free(e);
    tcgetattr(slave, &after);
    ck_assert_int_eq(after.c_lflag, before.c_lflag);
    etsn_host_ui_finish(&ui);
    fclose(out);
    close(slave);
    close(master);
}
END_TEST

START_TEST(terminal_progress)
{
    int master, slave;
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    struct winsize ws = {.ws_row = 24, .ws_col = 40};
    ioctl(slave, TIOCSWINSZ, &ws);
    setenv("TERM", "xterm", 1);
    unsetenv("NO_COLOR");
    FILE *out = fdopen(dup(slave), "w");
    etsn_host_ui ui = {0};
    etsn_host_ui_init(&ui, out, out, slave, "srv");
    etsn_value *r = NULL, *e = NULL;
    etsn_host_ui_call(&ui, 16, NULL, &r, &e); /* an empty line: cursor at column 0 */
    etsn_value *p = args(2, etsn_v_i64(1), progress_record(1, -1, "Copy", "f", 50, -1, false));
    ck_assert(etsn_host_ui_call(&ui, 20, p, &r, &e));
    etsn_v_free(p);
    etsn_host_ui_end_pipeline(&ui);
    char screen[4096];
    usleep(20000);
    ssize_t n = read(master, screen, sizeof screen - 1);
    ck_assert_int_gt(n, 0);
    screen[n] = 0;
    ck_assert_ptr_nonnull(strstr(screen, "\x1b[?25l\r\x1b[33;1mCopy [\x1b[7m"));
    ck_assert_ptr_nonnull(strstr(screen, "\x1b[J")); /* taken down at the end */
    etsn_host_ui_finish(&ui);
    fclose(out);
    close(slave);
    close(master);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("host_ui");
    TCase *t = tcase_create("calls");
    tcase_add_test(t, should_exit_and_pop);
    tcase_add_test(t, writes_plain);
    tcase_add_test(t, writes_colour);
    tcase_add_test(t, no_color_env);
    tcase_add_test(t, read_line);
    tcase_add_test(t, read_line_secure);
    tcase_add_test(t, read_line_secure_hook);
    tcase_add_test(t, choice_help_then_no);
    tcase_add_test(t, choice_default_label_and_invalid);
    tcase_add_test(t, choice_bad_arguments);
    tcase_add_test(t, choice_multiple);
    tcase_add_test(t, prompt_string_and_array);
    tcase_add_test(t, prompt_int_array_help_and_commands);
    tcase_add_test(t, prompt_int_array_typed);
    tcase_add_test(t, prompt_secure_field);
    tcase_add_test(t, prompt_credential_field);
    tcase_add_test(t, prompt_cancel);
    tcase_add_test(t, credential_asks_user);
    tcase_add_test(t, credential_given_user_and_target);
    tcase_add_test(t, read_key);
    tcase_add_test(t, raw_ui_off_terminal);
    tcase_add_test(t, progress_layout);
    tcase_add_test(t, progress_off_terminal);
    tcase_add_test(t, records);
    tcase_add_test(t, terminal_secret);
    tcase_add_test(t, terminal_progress);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

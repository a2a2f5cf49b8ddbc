/* Unit tests for error_view.c: NormalView and ConciseView of serialized
 * ErrorRecords, from the members the record carries and nothing else. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../core/psrp_msgs.h"
#include "error_view.h"

static etsn_value *record(const char *activity, int category, const char *cat_name)
{
    etsn_error_record r = {.message = "boom",
                           .exception_type = "System.Management.Automation.RuntimeException",
                           .fqid = "boom",
                           .category = category,
                           .category_name = cat_name,
                           .activity = activity,
                           .reason = "RuntimeException",
                           .target_name = "boom",
                           .target_type = "String"};
    etsn_value *v = etsn_msg_error_record(&r, NULL);
    ck_assert_ptr_nonnull(v);
    return v;
}

static char *render(const etsn_value *v, bool concise)
{
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_error_view_render(v, concise, &b), 0);
    etsn_buf_append_byte(&b, 0);
    return (char *)b.data;
}

START_TEST(test_normal_view_without_position)
{
    etsn_value *v = record("", 14, "OperationStopped");
    char *s = render(v, false);
    ck_assert_str_eq(s, "boom\n"
                        "    + CategoryInfo          : OperationStopped: (boom:String) [], "
                        "RuntimeException\n"
                        "    + FullyQualifiedErrorId : boom\n ");
    free(s);
    etsn_v_free(v);
}
END_TEST

START_TEST(test_normal_view_extended_position_and_details)
{
    etsn_value *v = record("", 14, "OperationStopped");
    ck_assert_int_eq(etsn_obj_add_member(v, "InvocationInfo_PositionMessage",
                                         etsn_v_string("At line:1 char:1\r\n+ throw 'boom'")),
                     0);
    ck_assert_int_eq(etsn_obj_add_member(v, "ErrorDetails_Message", etsn_v_string("details")), 0);
    char *s = render(v, false);
    /* ErrorDetails.Message replaces the message and drops the last line. */
    ck_assert_str_eq(s, "details\nAt line:1 char:1\n+ throw 'boom'\n"
                        "    + CategoryInfo          : OperationStopped: (boom:String) [], "
                        "RuntimeException\n"
                        "    + FullyQualifiedErrorId : boom");
    free(s);
    etsn_v_free(v);
}
END_TEST

START_TEST(test_concise_view_reason)
{
    etsn_value *v = record("", 14, "OperationStopped");
    char *s = render(v, true);
    ck_assert_str_eq(s, "OperationStopped: boom");
    free(s);
    etsn_v_free(v);
    v = record("Get-Item", 13, "ObjectNotFound");
    s = render(v, true);
    ck_assert_str_eq(s, "Get-Item: boom");
    free(s);
    etsn_v_free(v);
    /* NotSpecified (0) counts as false: the reason falls to Reason. */
    v = record("", 0, "NotSpecified");
    s = render(v, true);
    ck_assert_str_eq(s, "RuntimeException: boom");
    free(s);
    etsn_v_free(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("error_view");
    TCase *tc = tcase_create("error_view");
    tcase_add_test(tc, test_normal_view_without_position);
    tcase_add_test(tc, test_normal_view_extended_position_and_details);
    tcase_add_test(tc, test_concise_view_reason);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

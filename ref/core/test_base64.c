/* Base64: RFC 4648 section 10 vectors, whitespace, and the malformed text
 * OpenSSL's EVP_DecodeBlock would let through. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

static const struct {
    const char *plain, *b64;
} rfc4648[] = {{"", ""},
               {"f", "Zg=="},
               {"fo", "Zm8="},
               {"foo", "Zm9v"},
               {"foob", "Zm9vYg=="},
               {"fooba", "Zm9vYmE="},
               {"foobar", "Zm9vYmFy"}};

START_TEST(rfc4648_vectors_both_ways)
{
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        etsn_buf enc = ETSN_BUF_INIT, dec = ETSN_BUF_INIT;
        ck_assert_int_eq(
            etsn_base64_encode((const uint8_t *)rfc4648[i].plain, strlen(rfc4648[i].plain), &enc),
            0);
        ck_assert_str_eq((const char *)enc.data, rfc4648[i].b64);
        ck_assert_int_eq(etsn_base64_decode(rfc4648[i].b64, strlen(rfc4648[i].b64), &dec), 0);
        ck_assert_uint_eq(dec.len, strlen(rfc4648[i].plain));
        ck_assert_int_eq(memcmp(dec.data, rfc4648[i].plain, dec.len), 0);
        etsn_buf_free(&enc);
        etsn_buf_free(&dec);
    }
}
END_TEST

START_TEST(whitespace_is_skipped_and_output_appends)
{
    etsn_buf out = ETSN_BUF_INIT;
    etsn_buf_append_str(&out, "x");
    const char *wrapped = " Zm9v\r\nYmFy\t";
    ck_assert_int_eq(etsn_base64_decode(wrapped, strlen(wrapped), &out), 0);
    ck_assert_str_eq((const char *)out.data, "xfoobar");
    etsn_buf_free(&out);
}
END_TEST

START_TEST(malformed_text_is_refused_and_leaves_output_alone)
{
    static const char *const bad[] = {"Q===",      "QQ=A", "QQ",    "Zm9v!",
                                      "Zm9v-YmFy", "=Zm9", "Zm9vY", "Zg==Zg=="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        etsn_buf out = ETSN_BUF_INIT;
        etsn_buf_append_str(&out, "keep");
        ck_assert_msg(etsn_base64_decode(bad[i], strlen(bad[i]), &out) == -1, "accepted %s",
                      bad[i]);
        ck_assert_str_eq((const char *)out.data, "keep");
        etsn_buf_free(&out);
    }
}
END_TEST

START_TEST(large_input_round_trips_across_encoder_chunks)
{
    size_t n = 7u * 1024 * 1024 + 1; /* more than two 3 MiB encoder chunks */
    uint8_t *data = malloc(n);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < n; i++) data[i] = (uint8_t)(i * 131 + 7);
    etsn_buf enc = ETSN_BUF_INIT, dec = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_base64_encode(data, n, &enc), 0);
    ck_assert_uint_eq(enc.len, (n + 2) / 3 * 4);
    ck_assert_int_eq(etsn_base64_decode((const char *)enc.data, enc.len, &dec), 0);
    ck_assert_uint_eq(dec.len, n);
    ck_assert_int_eq(memcmp(dec.data, data, n), 0);
    free(data);
    etsn_buf_free(&enc);
    etsn_buf_free(&dec);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("base64");
    TCase *tc = tcase_create("codec");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rfc4648_vectors_both_ways);
    tcase_add_test(tc, whitespace_is_skipped_and_output_appends);
    tcase_add_test(tc, malformed_text_is_refused_and_leaves_output_alone);
    tcase_add_test(tc, large_input_round_trips_across_encoder_chunks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

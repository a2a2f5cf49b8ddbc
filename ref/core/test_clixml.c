/* Unit tests for the CLIXML value model, writer and reader. */
#include "clixml.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

static char err[256];

static etsn_value *parse(const char *xml)
{
    err[0] = 0;
    return etsn_clixml_parse(xml, strlen(xml), NULL, err, sizeof err);
}

static char *write_str(const etsn_value *v)
{
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_clixml_write(v, &b), 0);
    return etsn_buf_steal(&b);
}

/* Writes v, reads it back and checks both equality and a stable second write. */
static void roundtrip(etsn_value *v)
{
    ck_assert_ptr_nonnull(v);
    char *xml = write_str(v);
    etsn_value *back = parse(xml);
    ck_assert_msg(back != NULL, "reparse of %s failed: %s", xml, err);
    ck_assert_msg(etsn_v_equal(v, back), "roundtrip differs: %s", xml);
    char *again = write_str(back);
    ck_assert_str_eq(xml, again);
    free(again);
    free(xml);
    etsn_v_free(back);
    etsn_v_free(v);
}

static void expect_xml(etsn_value *v, const char *want)
{
    ck_assert_ptr_nonnull(v);
    char *xml = write_str(v);
    ck_assert_str_eq(xml, want);
    free(xml);
    etsn_v_free(v);
}

static void expect_fail(const char *xml, const char *why)
{
    etsn_value *v = parse(xml);
    ck_assert_msg(v == NULL, "accepted: %s", xml);
    ck_assert_msg(err[0] != 0, "no reason for %s", xml);
    if (why) ck_assert_msg(strstr(err, why) != NULL, "reason \"%s\" lacks \"%s\"", err, why);
}

static etsn_value *named(const char *name, etsn_value *v)
{
    etsn_value *o = etsn_v_obj();
    ck_assert_int_eq(etsn_obj_add_member(o, name, v), 0);
    etsn_value *m = etsn_v_ref(o->members[0]);
    etsn_v_free(o);
    return m;
}

START_TEST(primitives_written)
{
    expect_xml(etsn_v_nil(), "<Nil />");
    expect_xml(named("x", etsn_v_nil()), "<Nil N=\"x\" />");
    expect_xml(etsn_v_bool(true), "<B>true</B>");
    expect_xml(etsn_v_bool(false), "<B>false</B>");
    expect_xml(etsn_v_int(ETSN_V_I8, -128), "<SB>-128</SB>");
    expect_xml(etsn_v_uint(ETSN_V_U8, 255), "<By>255</By>");
    expect_xml(etsn_v_int(ETSN_V_I16, -32768), "<I16>-32768</I16>");
    expect_xml(etsn_v_uint(ETSN_V_U16, 65535), "<U16>65535</U16>");
    expect_xml(etsn_v_i32(-2147483647 - 1), "<I32>-2147483648</I32>");
    expect_xml(etsn_v_uint(ETSN_V_U32, 4294967295u), "<U32>4294967295</U32>");
    expect_xml(etsn_v_i64(INT64_MIN), "<I64>-9223372036854775808</I64>");
    expect_xml(etsn_v_uint(ETSN_V_U64, UINT64_MAX), "<U64>18446744073709551615</U64>");
    expect_xml(etsn_v_int(ETSN_V_CHAR, 'a'), "<C>97</C>");
    expect_xml(etsn_v_string("hi"), "<S>hi</S>");
    expect_xml(etsn_v_string(""), "<S></S>");
    expect_xml(etsn_v_string(NULL), "<Nil />");
    expect_xml(etsn_v_text(ETSN_V_VERSION, "2.3", 3), "<Version>2.3</Version>");
    expect_xml(etsn_v_text(ETSN_V_BYTES, "\x00\x01\xff", 3), "<BA>AAH/</BA>");
    expect_xml(etsn_v_text(ETSN_V_SECURESTRING, "abcd", 4), "<SS>YWJjZA==</SS>");
    /* Out-of-range construction is refused rather than truncated. */
    ck_assert_ptr_null(etsn_v_int(ETSN_V_I8, 128));
    ck_assert_ptr_null(etsn_v_uint(ETSN_V_U16, 65536));
    ck_assert_ptr_null(etsn_v_int(ETSN_V_U32, 1));
    ck_assert_ptr_null(etsn_v_text(ETSN_V_I32, "1", 1));
}
END_TEST

static const char *db(double d)
{
    static char out[64];
    etsn_value *v = etsn_v_double(d);
    char *xml = write_str(v);
    etsn_v_free(v);
    ck_assert(strncmp(xml, "<Db>", 4) == 0);
    size_t n = strlen(xml) - 9;
    memcpy(out, xml + 4, n);
    out[n] = 0;
    free(xml);
    return out;
}

START_TEST(doubles_like_dotnet_r)
{
    ck_assert_str_eq(db(1.5), "1.5");
    ck_assert_str_eq(db(1e20), "1E+20");
    ck_assert_str_eq(db(1e15), "1E+15");
    ck_assert_str_eq(db(1e14), "100000000000000");
    ck_assert_str_eq(db(0.1), "0.1");
    ck_assert_str_eq(db(0.0001), "0.0001");
    ck_assert_str_eq(db(0.00001), "1E-05");
    ck_assert_str_eq(db(-2.5e-300), "-2.5E-300");
    ck_assert_str_eq(db(1.7976931348623157e308), "1.7976931348623157E+308");
    ck_assert_str_eq(db(5e-324), "5E-324");
    ck_assert_str_eq(db(0.1 + 0.2), "0.30000000000000004");
    ck_assert_str_eq(db(123456789012345.0), "123456789012345");
    ck_assert_str_eq(db(0.0), "0");
    ck_assert_str_eq(db(-0.0), "-0");
    ck_assert_str_eq(db(INFINITY), "Infinity");
    ck_assert_str_eq(db(-INFINITY), "-Infinity");
    ck_assert_str_eq(db(NAN), "NaN");

    etsn_value *f = etsn_v_double(0.1f);
    f->kind = ETSN_V_FLOAT;
    expect_xml(f, "<Sg>0.1</Sg>");
    f = etsn_v_double(1e7f);
    f->kind = ETSN_V_FLOAT;
    expect_xml(f, "<Sg>1E+07</Sg>");

    etsn_value *v = parse("<Db>INF</Db>");
    ck_assert_ptr_nonnull(v);
    ck_assert(isinf(v->num.d) && v->num.d > 0);
    etsn_v_free(v);
    v = parse("<Db> 1E+20 </Db>");
    ck_assert_ptr_nonnull(v);
    ck_assert(v->num.d == 1e20);
    etsn_v_free(v);
}
END_TEST

START_TEST(roundtrip_every_kind)
{
    roundtrip(etsn_v_nil());
    roundtrip(etsn_v_bool(true));
    roundtrip(etsn_v_int(ETSN_V_I8, -5));
    roundtrip(etsn_v_uint(ETSN_V_U8, 200));
    roundtrip(etsn_v_int(ETSN_V_I16, -300));
    roundtrip(etsn_v_uint(ETSN_V_U16, 60000));
    roundtrip(etsn_v_i32(123456));
    roundtrip(etsn_v_uint(ETSN_V_U32, 3000000000u));
    roundtrip(etsn_v_i64(-9000000000000000000));
    roundtrip(etsn_v_uint(ETSN_V_U64, 18000000000000000000u));
    double ds[] = {1.5, 1e20, 0.1, 1.0 / 3, -0.0, 5e-324, 1.7976931348623157e308, NAN, -INFINITY};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) roundtrip(etsn_v_double(ds[i]));
    float fs[] = {0.1f, 3.4028235e38f, 1.0f / 3, 1e-45f};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        etsn_value *f = etsn_v_double(fs[i]);
        f->kind = ETSN_V_FLOAT;
        roundtrip(f);
    }
    roundtrip(etsn_v_int(ETSN_V_CHAR, 0x263A));
    roundtrip(etsn_v_string("plain"));
    roundtrip(etsn_v_string("  "));
    roundtrip(etsn_v_string("\n"));
    roundtrip(etsn_v_string_n("nul\0inside", 10));
    roundtrip(etsn_v_string("tab\tcr\rlf\n <&>\"' _x _X __x0041_ \xF0\x9F\x98\x80 \xC3\xA9"));
    roundtrip(etsn_v_text(ETSN_V_DECIMAL, "79228162514264337593543950335", 29));
    roundtrip(etsn_v_text(ETSN_V_DATETIME, "2018-06-13T23:46:27.9270288+00:00", 33));
    roundtrip(etsn_v_text(ETSN_V_TIMESPAN, "PT9.0269026S", 12));
    roundtrip(etsn_v_text(ETSN_V_GUID, "792e5b37-4505-47ef-b7d2-8711bb7affa8", 36));
    roundtrip(etsn_v_text(ETSN_V_URI, "http://example.com/a?b=c&d", 26));
    roundtrip(etsn_v_text(ETSN_V_VERSION, "1.1.0.1", 7));
    roundtrip(etsn_v_text(ETSN_V_XML, "<a b=\"c\"/>", 10));
    roundtrip(etsn_v_text(ETSN_V_SCRIPTBLOCK, "Get-Item\r\n$x", 12));
    roundtrip(etsn_v_text(ETSN_V_BYTES, "", 0));
    roundtrip(etsn_v_text(ETSN_V_BYTES, "\x00\x01\x02\x03\xff", 5));
    roundtrip(etsn_v_text(ETSN_V_SECURESTRING, "\x10\x20\x30", 3));

    etsn_value *o = etsn_v_obj();
    ck_assert_int_eq(etsn_obj_set_coll(o, ETSN_COLL_STK), 0);
    ck_assert_int_eq(etsn_obj_push_item(o, etsn_v_i32(1)), 0);
    ck_assert_int_eq(etsn_obj_push_item(o, etsn_v_string("two")), 0);
    roundtrip(o);
    o = etsn_v_obj();
    ck_assert_int_eq(etsn_obj_set_coll(o, ETSN_COLL_QUE), 0);
    roundtrip(o);
    o = etsn_v_obj();
    ck_assert_int_eq(etsn_obj_set_coll(o, ETSN_COLL_IE), 0);
    for (int i = 0; i < 100; i++) ck_assert_int_eq(etsn_obj_push_item(o, etsn_v_i32(i)), 0);
    roundtrip(o);
}
END_TEST

START_TEST(complex_object_tnref_and_ref)
{
    etsn_value *shared = etsn_v_obj();
    ck_assert_int_eq(etsn_obj_add_type(shared, "System.Object[]"), 0);
    ck_assert_int_eq(etsn_obj_add_type(shared, "System.Array"), 0);
    ck_assert_int_eq(etsn_obj_add_type(shared, "System.Object"), 0);
    ck_assert_int_eq(etsn_obj_push_item(shared, etsn_v_string("RPCSS")), 0);

    etsn_value *other = etsn_v_obj();
    ck_assert_int_eq(etsn_obj_add_type(other, "System.Object[]"), 0);
    ck_assert_int_eq(etsn_obj_add_type(other, "System.Array"), 0);
    ck_assert_int_eq(etsn_obj_add_type(other, "System.Object"), 0);
    ck_assert_int_eq(etsn_obj_set_coll(other, ETSN_COLL_LST), 0);

    etsn_value *o = etsn_v_obj();
    ck_assert_int_eq(etsn_obj_add_type(o, "System.ServiceProcess.ServiceController"), 0);
    ck_assert_int_eq(etsn_obj_add_type(o, "System.Object"), 0);
    ck_assert_int_eq(etsn_obj_set_tostring(o, "winrm"), 0);
    ck_assert_int_eq(etsn_obj_add_prop(o, "Deps", other), 0);
    ck_assert_int_eq(etsn_obj_add_prop(o, "DependedOn", etsn_v_ref(shared)), 0);
    ck_assert_int_eq(etsn_obj_add_prop(o, "Status", etsn_v_string("Running")), 0);
    ck_assert_int_eq(etsn_obj_add_member(o, "Name", etsn_v_string("winrm")), 0);
    ck_assert_int_eq(etsn_obj_add_member(o, "Same", etsn_v_ref(shared)), 0);
    etsn_v_free(shared);

    char *xml = write_str(o);
    ck_assert_str_eq(
        xml, "<Obj RefId=\"0\"><TN RefId=\"0\"><T>System.ServiceProcess.ServiceController</T>"
             "<T>System.Object</T></TN><ToString>winrm</ToString><Props>"
             "<Obj N=\"Deps\" RefId=\"1\"><TN RefId=\"1\"><T>System.Object[]</T>"
             "<T>System.Array</T><T>System.Object</T></TN><LST /></Obj>"
             "<Obj N=\"DependedOn\" RefId=\"2\"><TNRef RefId=\"1\" /><LST><S>RPCSS</S></LST></Obj>"
             "<S N=\"Status\">Running</S></Props><MS><S N=\"Name\">winrm</S>"
             "<Ref N=\"Same\" RefId=\"2\" /></MS></Obj>");
    /* "Same" had to become a copy sharing the children (a value has one name),
     * which is still recognised as the same object above; one value held under
     * one name is shared outright. */
    etsn_value *same = etsn_v_ref(o->props[1]);
    ck_assert_int_eq(etsn_obj_add_member(o, "DependedOn", same), 0);
    free(xml);
    xml = write_str(o);
    ck_assert_ptr_nonnull(strstr(xml, "<Ref N=\"DependedOn\" RefId=\"2\" />"));

    etsn_value *back = parse(xml);
    ck_assert_msg(back != NULL, "%s", err);
    ck_assert(etsn_v_equal(o, back));
    ck_assert(etsn_v_has_type(back, "System.ServiceProcess.ServiceController"));
    ck_assert_str_eq(etsn_v_as_str(back), "winrm");
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(back, "Status")), "Running");
    etsn_value *tnref = etsn_v_get(back, "Same");
    ck_assert_int_eq(tnref->n_type_names, 3);
    ck_assert_str_eq(tnref->type_names[1], "System.Array");
    /* MS before Props when the name is in both. */
    ck_assert_ptr_eq(etsn_v_get(back, "DependedOn"), back->members[2]);
    ck_assert_ptr_eq(back->props[1], back->members[2]);
    ck_assert_int_ge(back->props[1]->refcount, 2);
    free(xml);
    etsn_v_free(back);
    etsn_v_free(o);
}
END_TEST

/* PowerShell matches member names case-insensitively: pypsrp sends
 * SET_MAX_RUNSPACES with "CI" where MS-PSRP 2.2.2.4 writes "ci". */
START_TEST(member_names_case_insensitive)
{
    const char *x = "<Obj RefId=\"0\"><MS><I32 N=\"MaxRunspaces\">5</I32><I64 N=\"CI\">1</I64>"
                    "<I32 N=\"ci\">7</I32></MS><Props><S N=\"Name\">n</S></Props></Obj>";
    char err[256] = "";
    etsn_value *v = etsn_clixml_parse(x, strlen(x), NULL, err, sizeof err);
    ck_assert_msg(v != NULL, "%s", err);
    int64_t n = 0;
    ck_assert(etsn_v_as_i64(etsn_v_get(v, "maxrunspaces"), &n));
    ck_assert_int_eq(n, 5);
    /* an exact match wins over one differing in case */
    ck_assert(etsn_v_as_i64(etsn_v_get(v, "ci"), &n));
    ck_assert_int_eq(n, 7);
    ck_assert(etsn_v_as_i64(etsn_v_get(v, "CI"), &n));
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(etsn_v_as_str(etsn_v_path(v, "NAME")), "n");
    ck_assert_ptr_null(etsn_v_get(v, "Nam"));
    etsn_v_free(v);
}
END_TEST

START_TEST(ref_with_other_name)
{
    /* As a Windows server sends it (ServiceController: RequiredServices is a
     * Ref to ServicesDependedOn): the member must be found by its own name. */
    const char *xml = "<Obj RefId=\"0\"><TN RefId=\"0\"><T>X</T></TN><Props>"
                      "<Obj N=\"ServicesDependedOn\" RefId=\"1\"><TN RefId=\"1\"><T>Y[]</T></TN>"
                      "<LST><S>RPCSS</S><S>HTTP</S></LST></Obj></Props>"
                      "<MS><Obj N=\"Used\" RefId=\"2\"><S /></Obj><Ref N=\"Free\" RefId=\"2\" />"
                      "<Ref N=\"RequiredServices\" RefId=\"1\" /></MS></Obj>";
    etsn_value *v = parse(xml);
    ck_assert_msg(v != NULL, "%s", err);
    etsn_value *req = etsn_v_get(v, "RequiredServices");
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(req->n_items, 2);
    ck_assert_str_eq(etsn_v_as_str(req->items[1]), "HTTP");
    ck_assert_ptr_eq(req->items[0], etsn_v_get(v, "ServicesDependedOn")->items[0]);
    etsn_value *free_ = etsn_v_get(v, "Free");
    ck_assert_ptr_nonnull(free_);
    ck_assert_str_eq(etsn_v_as_str(free_), "");
    ck_assert_str_eq(etsn_v_get(v, "Used")->name, "Used");
    ck_assert(etsn_v_equal(free_, etsn_v_get(v, "Used")));
    etsn_v_free(v);

    /* Many objects, so the RefId table grows while objects are open. */
    etsn_buf b = ETSN_BUF_INIT;
    etsn_buf_append_str(&b, "<Obj RefId=\"0\"><LST>");
    for (int i = 1; i <= 300; i++)
        etsn_buf_printf(&b,
                        "<Obj RefId=\"%d\"><MS><Obj N=\"in\" RefId=\"x%d\"><I32>%d</I32></Obj>"
                        "</MS></Obj>",
                        i, i, i);
    for (int i = 1; i <= 300; i++) etsn_buf_printf(&b, "<Ref RefId=\"x%d\" />", i);
    etsn_buf_append_str(&b, "<Ref RefId=\"0\" /></LST></Obj>");
    v = parse((char *)b.data);
    etsn_buf_free(&b);
    ck_assert_msg(v != NULL, "%s", err);
    ck_assert_int_eq(v->n_items, 601);
    int64_t n = 0;
    ck_assert(etsn_v_as_i64(v->items[450], &n));
    ck_assert_int_eq(n, 151);
    ck_assert_ptr_eq(v->items[450], etsn_v_get(v->items[150], "in"));
    ck_assert_ptr_ne(v->items[600], v);
    etsn_v_free(v);

    /* A Ref back to an enclosing object must not make a cycle. */
    v = parse("<Obj RefId=\"0\"><TN RefId=\"0\"><T>Node</T></TN><ToString>n</ToString>"
              "<Props><Ref N=\"Self\" RefId=\"0\" /></Props></Obj>");
    ck_assert_msg(v != NULL, "%s", err);
    etsn_value *self = etsn_v_get(v, "Self");
    ck_assert_ptr_ne(self, v);
    ck_assert_str_eq(self->to_string, "n");
    ck_assert(etsn_v_has_type(self, "Node"));
    etsn_v_free(v);
}
END_TEST

START_TEST(enum_object)
{
    etsn_value *v =
        parse("<Obj N=\"PipelineState\" RefId=\"1\"><TN RefId=\"0\">"
              "<T>System.Management.Automation.PSInvocationState</T><T>System.Enum</T>"
              "<T>System.ValueType</T><T>System.Object</T></TN><ToString>Completed</ToString>"
              "<I32>4</I32></Obj>");
    ck_assert_msg(v != NULL, "%s", err);
    int64_t n = 0;
    ck_assert(etsn_v_as_i64(v, &n));
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(v->name, "PipelineState");
    ck_assert(etsn_v_has_type(v, "System.Enum"));
    ck_assert(!etsn_v_has_type(v, "System.String"));
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_v_display(v, &b), 0);
    ck_assert_str_eq((char *)b.data, "Completed");
    etsn_buf_free(&b);
    char *xml = write_str(v);
    /* Element order TN, ToString, base as PowerShell writes it; RefIds renumbered. */
    ck_assert_str_eq(xml, "<Obj N=\"PipelineState\" RefId=\"0\"><TN RefId=\"0\">"
                          "<T>System.Management.Automation.PSInvocationState</T>"
                          "<T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN>"
                          "<ToString>Completed</ToString><I32>4</I32></Obj>");
    free(xml);
    etsn_v_free(v);
}
END_TEST

START_TEST(dictionary)
{
    /* A host call as MS-PSRP 2.2.3.17 lays it out, hashtable with mixed keys. */
    const char *xml =
        "<Obj RefId=\"0\"><MS><I64 N=\"ci\">-100</I64>"
        "<Obj N=\"mi\" RefId=\"1\"><TN RefId=\"0\"><T>System.Management.Automation.Remoting."
        "RemoteHostMethodId</T><T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN>"
        "<ToString>WriteLine2</ToString><I32>16</I32></Obj>"
        "<Obj N=\"mp\" RefId=\"2\"><TN RefId=\"1\"><T>System.Collections.Hashtable</T>"
        "<T>System.Object</T></TN><DCT><En><S N=\"Key\">Name</S><S N=\"Value\">pwsh</S></En>"
        "<En><I32 N=\"Key\">7</I32><B N=\"Value\">true</B></En>"
        "<En><S N=\"Value\">swapped</S><S N=\"Key\">Order</S></En></DCT></Obj></MS></Obj>";
    etsn_value *v = parse(xml);
    ck_assert_msg(v != NULL, "%s", err);
    int64_t n;
    ck_assert(etsn_v_as_i64(etsn_v_get(v, "ci"), &n));
    ck_assert_int_eq(n, -100);
    ck_assert(etsn_v_as_i64(etsn_v_path(v, "mi"), &n));
    ck_assert_int_eq(n, 16);
    etsn_value *mp = etsn_v_get(v, "mp");
    ck_assert_int_eq(mp->coll, ETSN_COLL_DCT);
    ck_assert_str_eq(etsn_v_as_str(etsn_dict_get(mp, "Name")), "pwsh");
    ck_assert_str_eq(etsn_v_as_str(etsn_dict_get(mp, "name")), "pwsh");
    ck_assert_str_eq(etsn_v_as_str(etsn_dict_get(mp, "Order")), "swapped");
    ck_assert_ptr_null(etsn_dict_get(mp, "7"));
    ck_assert_ptr_null(etsn_dict_get(mp, "missing"));
    ck_assert_ptr_null(etsn_v_path(v, "mp.x"));
    ck_assert_ptr_null(etsn_v_path(v, "nope"));

    etsn_value *d = etsn_v_obj();
    ck_assert_int_eq(etsn_obj_push_entry(d, etsn_v_string("a"), etsn_v_i32(1)), 0);
    ck_assert_int_eq(etsn_obj_push_item(d, etsn_v_i32(1)), -1);
    expect_xml(d, "<Obj RefId=\"0\"><DCT><En><S N=\"Key\">a</S><I32 N=\"Value\">1</I32></En>"
                  "</DCT></Obj>");
    etsn_v_free(v);
}
END_TEST

static void enc(const char *in, size_t len, const char *want)
{
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_clixml_encode_string(in, len, &b), 0);
    ck_assert_str_eq(b.data ? (char *)b.data : "", want);
    etsn_buf r = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_clixml_decode_string((char *)b.data, b.len, &r), 0);
    ck_assert_int_eq(r.len, len);
    ck_assert(memcmp(r.data, in, len) == 0);
    etsn_buf_free(&b);
    etsn_buf_free(&r);
}

static void dec(const char *in, const char *want)
{
    etsn_buf r = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_clixml_decode_string(in, strlen(in), &r), 0);
    ck_assert_str_eq(r.data ? (char *)r.data : "", want);
    etsn_buf_free(&r);
}

START_TEST(string_escaping)
{
    enc("a\x01"
        "b",
        3, "a_x0001_b");
    enc("_x", 2, "_x005F_x");
    enc("_X1", 3, "_x005F_X1");
    enc("a_b_", 4, "a_b_");
    enc("<&>", 3, "<&>");
    enc("\r\n\t", 3, "_x000D__x000A__x0009_");
    enc("\0", 1, "_x0000_");
    enc("\x7f\xc2\x80\xc2\x9f\xc2\xa0", 7, "_x007F__x0080__x009F_\xc2\xa0");
    enc("\xef\xbf\xbe", 3, "_xFFFE_");
    enc("\xF0\x90\x90\xB7", 4, "_xD801__xDC37_");
    enc("", 0, "");
    dec("_x000a__x000A_", "\n\n");
    dec("_X0041_", "A");
    dec("_x0001F600_", "\xF0\x9F\x98\x80");
    dec("_xD83D_", "\xEF\xBF\xBD");
    dec("_xD83D_x", "\xEF\xBF\xBD"
                    "x");
    dec("_x00G1_ _x12_ _x", "_x00G1_ _x12_ _x");
    dec("_x005F_x0041_", "_x0041_");

    /* Invalid UTF-8 never reaches the wire as such. */
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_clixml_encode_string("a\xff"
                                               "b",
                                               3, &b),
                     0);
    ck_assert_str_eq((char *)b.data, "a\xEF\xBF\xBD"
                                     "b");
    etsn_buf_free(&b);

    /* In a document the XML specials are entities as well. */
    expect_xml(etsn_v_string("<&>\"'\x01_x"), "<S>&lt;&amp;&gt;\"'_x0001__x005F_x</S>");
    expect_xml(named("a<\"b\n", etsn_v_i32(1)), "<I32 N=\"a&lt;&quot;b_x000A_\">1</I32>");
    etsn_value *v = parse("<S N=\"_x0041_\">a_x0001_b&lt;&#65;<![CDATA[<]]></S>");
    ck_assert_msg(v != NULL, "%s", err);
    ck_assert_str_eq(v->name, "A");
    ck_assert_int_eq(v->str_len, 6);
    ck_assert(memcmp(v->str,
                     "a\x01"
                     "b<A<",
                     6) == 0);
    etsn_v_free(v);
    v = parse("<S>  </S>");
    ck_assert_str_eq(v->str, "  ");
    etsn_v_free(v);
}
END_TEST

START_TEST(spec_messages)
{
    /* MS-PSRP 2.2.2.1 SESSION_CAPABILITY, with the BOM a message carries. */
    etsn_value *v = parse("\xEF\xBB\xBF<Obj RefId=\"0\"><MS><Version N=\"protocolversion\">2.2"
                          "</Version><Version N=\"PSVersion\">2.0</Version>"
                          "<Version N=\"SerializationVersion\">1.1.0.1</Version></MS></Obj>");
    ck_assert_msg(v != NULL, "%s", err);
    etsn_value *pv = etsn_v_get(v, "protocolversion");
    ck_assert_int_eq(pv->kind, ETSN_V_VERSION);
    ck_assert_str_eq(etsn_v_as_str(pv), "2.2");
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(v, "SerializationVersion")), "1.1.0.1");
    ck_assert_int_eq(v->n_type_names, 0);
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_v_display(v, &b), 0);
    ck_assert_int_eq(b.len, 0);
    etsn_buf_free(&b);
    etsn_v_free(v);

    /* MS-PSRP 2.2.2.9 RUNSPACEPOOL_STATE, with an XML declaration and layout. */
    v = parse("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
              "<Obj RefId=\"1\">\n  <MS>\n    <I32 N=\"RunspaceState\">2</I32>\n  </MS>\n</Obj>\n");
    ck_assert_msg(v != NULL, "%s", err);
    int64_t n;
    ck_assert(etsn_v_as_i64(etsn_v_get(v, "RunspaceState"), &n));
    ck_assert_int_eq(n, 2);
    etsn_v_free(v);

    /* MS-PSRP 2.2.2.13 APPLICATION_PRIVATE_DATA (shape of the spec example). */
    v = parse("<Obj RefId=\"0\"><MS><Obj N=\"ApplicationPrivateData\" RefId=\"1\">"
              "<TN RefId=\"0\"><T>System.Management.Automation.PSPrimitiveDictionary</T>"
              "<T>System.Collections.Hashtable</T><T>System.Object</T></TN><DCT><En>"
              "<S N=\"Key\">PSVersionTable</S><Obj N=\"Value\" RefId=\"2\"><TNRef RefId=\"0\" />"
              "<DCT><En><S N=\"Key\">PSVersion</S><Version N=\"Value\">2.0</Version></En>"
              "<En><S N=\"Key\">PSCompatibleVersions</S><Obj N=\"Value\" RefId=\"3\">"
              "<TN RefId=\"1\"><T>System.Version[]</T><T>System.Array</T><T>System.Object</T>"
              "</TN><LST><Version>1.0</Version><Version>2.0</Version></LST></Obj></En>"
              "</DCT></Obj></En></DCT></Obj></MS></Obj>");
    ck_assert_msg(v != NULL, "%s", err);
    etsn_value *t = etsn_dict_get(etsn_v_get(v, "ApplicationPrivateData"), "PSVersionTable");
    ck_assert(etsn_v_has_type(t, "System.Collections.Hashtable"));
    ck_assert_str_eq(etsn_v_as_str(etsn_dict_get(t, "PSVersion")), "2.0");
    etsn_value *compat = etsn_dict_get(t, "PSCompatibleVersions");
    ck_assert_int_eq(compat->n_items, 2);
    b = (etsn_buf)ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_v_display(compat, &b), 0);
    ck_assert_str_eq((char *)b.data, "System.Version[]");
    etsn_buf_free(&b);
    etsn_v_free(v);
}
END_TEST

START_TEST(display)
{
    struct {
        etsn_value *v;
        const char *want;
    } cases[] = {
        {etsn_v_nil(), ""},
        {etsn_v_bool(true), "True"},
        {etsn_v_bool(false), "False"},
        {etsn_v_i32(-42), "-42"},
        {etsn_v_uint(ETSN_V_U64, UINT64_MAX), "18446744073709551615"},
        {etsn_v_double(2.5), "2.5"},
        {etsn_v_int(ETSN_V_CHAR, 0xE9), "\xC3\xA9"},
        {etsn_v_string("as is\n"), "as is\n"},
        {etsn_v_text(ETSN_V_GUID, "00000000-0000-0000-0000-000000000000", 36),
         "00000000-0000-0000-0000-000000000000"},
        {etsn_v_text(ETSN_V_BYTES, "ab", 2), "System.Byte[]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        etsn_buf b = ETSN_BUF_INIT;
        ck_assert_int_eq(etsn_v_display(cases[i].v, &b), 0);
        ck_assert_str_eq(b.data ? (char *)b.data : "", cases[i].want);
        etsn_buf_free(&b);
        etsn_v_free(cases[i].v);
    }
    etsn_value *o = etsn_v_obj();
    ck_assert_int_eq(etsn_obj_add_type(o, "Deserialized.Foo"), 0);
    ck_assert_int_eq(etsn_obj_set_base(o, etsn_v_string("wrapped")), 0);
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_v_display(o, &b), 0);
    ck_assert_str_eq((char *)b.data, "wrapped");
    ck_assert_str_eq(etsn_v_as_str(o), "wrapped");
    etsn_buf_free(&b);
    etsn_v_free(o->base);
    o->base = NULL;
    ck_assert_int_eq(etsn_v_display(o, &b), 0);
    ck_assert_str_eq((char *)b.data, "Deserialized.Foo");
    etsn_buf_free(&b);
    etsn_v_free(o);
}
END_TEST

START_TEST(equality)
{
    etsn_value *a = etsn_v_i32(1), *b = etsn_v_i64(1);
    ck_assert(!etsn_v_equal(a, b));
    etsn_v_free(b);
    b = named("other", etsn_v_i32(1));
    ck_assert(etsn_v_equal(a, b)); /* top-level names are ignored */
    etsn_v_free(a);
    etsn_v_free(b);
    etsn_value *x = etsn_v_obj(), *y = etsn_v_obj();
    etsn_obj_add_prop(x, "p", etsn_v_string("v"));
    etsn_obj_add_prop(y, "q", etsn_v_string("v"));
    ck_assert(!etsn_v_equal(x, y));
    etsn_v_free(y);
    y = etsn_v_obj();
    etsn_obj_add_prop(y, "p", etsn_v_string("v"));
    ck_assert(etsn_v_equal(x, y));
    etsn_obj_set_tostring(y, "t");
    ck_assert(!etsn_v_equal(x, y));
    etsn_v_free(x);
    etsn_v_free(y);
}
END_TEST

START_TEST(hostile_inputs)
{
    expect_fail("<Obj RefId=\"0\"><MS><Ref N=\"x\" RefId=\"9\" /></MS></Obj>", "unknown RefId");
    expect_fail("<Obj RefId=\"0\"><TNRef RefId=\"3\" /></Obj>", "unknown RefId");
    expect_fail("<Ref RefId=\"0\" />", "Ref");
    expect_fail("<Obj><MS><Ref N=\"x\" /></MS></Obj>", "without RefId");
    expect_fail("<BA>!!!not base64!!!</BA>", "base64");
    expect_fail("<Obj RefId=\"0\"><MS><S N=\"a\">x</S>", "malformed");
    expect_fail("", NULL);
    expect_fail("<I32>12x</I32>", "bad number");
    expect_fail("<I32></I32>", "bad number");
    expect_fail("<I32>2147483648</I32>", "out of range");
    expect_fail("<By>-1</By>", "out of range");
    expect_fail("<U64>18446744073709551616</U64>", "out of range");
    expect_fail("<I64>99999999999999999999999999999999</I64>", "out of range");
    expect_fail("<Db>1e999</Db>", "out of range");
    expect_fail("<Db>0x10</Db>", "bad number");
    expect_fail("<B>yes</B>", "boolean");
    expect_fail("<Foo />", "unknown");
    expect_fail("<Obj><Bar /></Obj>", "unknown");
    expect_fail("<Obj><MS><Baz N=\"x\" /></MS></Obj>", "unknown");
    expect_fail("<Obj><DCT><En><S N=\"Key\">a</S></En></DCT></Obj>", "Key");
    expect_fail("<Obj><DCT><X /></DCT></Obj>", "DCT");
    expect_fail("<S>a<S>b</S></S>", "unexpected element");
    expect_fail("<Obj>text</Obj>", "unexpected text");
    expect_fail("<Obj RefId=\"1\"><MS><Obj N=\"a\" RefId=\"1\" /></MS></Obj>", "twice");
    expect_fail("<Obj><LST /><LST /></Obj>", "two collections");
    expect_fail("<Obj><TN><T><x/></T></TN></Obj>", "unexpected element");
    /* External entities and entity expansion are refused outright. */
    expect_fail("<!DOCTYPE S [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><S>&x;</S>", NULL);
    expect_fail("<!DOCTYPE S [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;"
                "&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;"
                "&c;&c;&c;&c;&c;&c;&c;\"><!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">"
                "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\"><!ENTITY g \"&f;&f;&f;&f;&f;&f;"
                "&f;&f;&f;&f;\">]><S>&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;</S>",
                NULL);
    expect_fail("<!DOCTYPE S><S>x</S>", "DTD");
    expect_fail("<S>&undefined;</S>", NULL);

    /* Depth bomb: 100 nested objects (50 rounds of two) against the default limit of 64; deeper
     * still, libxml2's own limit answers first. */
    etsn_buf b = ETSN_BUF_INIT;
    for (int i = 0; i < 50; i++) etsn_buf_append_str(&b, "<Obj><MS><Obj N=\"x\">");
    etsn_buf_append_str(&b, "<Nil />");
    for (int i = 0; i < 50; i++) etsn_buf_append_str(&b, "</Obj></MS></Obj>");
    expect_fail((char *)b.data, "deeper");
    etsn_buf_reset(&b);
    for (int i = 0; i < 100000; i++) etsn_buf_append_str(&b, "<Obj><MS>");
    expect_fail((char *)b.data, NULL);
    /* Nested lists count as depth as well. */
    etsn_buf_reset(&b);
    for (int i = 0; i < 40; i++) etsn_buf_append_str(&b, "<Obj><LST>");
    for (int i = 0; i < 40; i++) etsn_buf_append_str(&b, "</LST></Obj>");
    expect_fail((char *)b.data, "deeper");
    etsn_buf_free(&b);

    etsn_clixml_limits lim = {.max_depth = 2, .max_nodes = 5, .max_string = 4};
    const char *ok = "<Obj><MS><S N=\"a\">abcd</S></MS></Obj>";
    etsn_value *v = etsn_clixml_parse(ok, strlen(ok), &lim, err, sizeof err);
    ck_assert_msg(v != NULL, "%s", err);
    etsn_v_free(v);
    const char *longs = "<S>abcde</S>";
    ck_assert_ptr_null(etsn_clixml_parse(longs, strlen(longs), &lim, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "longer than 4"));
    const char *many = "<Obj><LST><Nil /><Nil /><Nil /><Nil /><Nil /></LST></Obj>";
    ck_assert_ptr_null(etsn_clixml_parse(many, strlen(many), &lim, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "more than 5"));
    const char *deep = "<Obj><MS><Obj N=\"a\"><MS><Obj N=\"b\" /></MS></Obj></MS></Obj>";
    ck_assert_ptr_null(etsn_clixml_parse(deep, strlen(deep), &lim, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "deeper than 2"));

    /* Ref fan-out of a big object is charged against the limits. */
    b = (etsn_buf)ETSN_BUF_INIT;
    etsn_buf_append_str(&b, "<Obj><MS><Obj N=\"big\" RefId=\"0\"><LST>");
    for (int i = 0; i < 1000; i++) etsn_buf_append_str(&b, "<Nil />");
    etsn_buf_append_str(&b, "</LST></Obj>");
    for (int i = 0; i < 2000; i++) etsn_buf_printf(&b, "<Ref N=\"r%d\" RefId=\"0\" />", i);
    etsn_buf_append_str(&b, "</MS></Obj>");
    lim = (etsn_clixml_limits){.max_string = 4096};
    ck_assert_ptr_null(etsn_clixml_parse((char *)b.data, b.len, &lim, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "expand"));
    etsn_buf_free(&b);

    /* NULL arguments. */
    ck_assert_ptr_null(etsn_clixml_parse(NULL, 0, NULL, err, sizeof err));
    etsn_value *nil = etsn_clixml_parse("<Nil/>", 6, NULL, NULL, 0);
    ck_assert_ptr_nonnull(nil);
    etsn_v_free(nil);
    ck_assert_ptr_null(etsn_clixml_parse("<Foo/>", 6, NULL, NULL, 0));
    ck_assert_int_eq(etsn_obj_add_prop(NULL, "x", etsn_v_nil()), -1);
    ck_assert_int_eq(etsn_obj_push_item(NULL, etsn_v_nil()), -1);
}
END_TEST

START_TEST(from_node)
{
    const char *doc = "<root><S N=\"n\">v</S><Foo/></root>";
    xmlDocPtr d = xmlReadMemory(doc, (int)strlen(doc), NULL, NULL, XML_PARSE_NONET);
    ck_assert_ptr_nonnull(d);
    xmlNodePtr s = xmlDocGetRootElement(d)->children;
    etsn_value *v = etsn_clixml_from_node(s, NULL, err, sizeof err);
    ck_assert_msg(v != NULL, "%s", err);
    ck_assert_str_eq(v->name, "n");
    ck_assert_str_eq(v->str, "v");
    etsn_v_free(v);
    ck_assert_ptr_null(etsn_clixml_from_node(s->next, NULL, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "Foo"));
    ck_assert_ptr_null(etsn_clixml_from_node(NULL, NULL, err, sizeof err));
    xmlFreeDoc(d);
}
END_TEST

START_TEST(write_is_appending)
{
    etsn_buf b = ETSN_BUF_INIT;
    etsn_buf_append_str(&b, "prefix:");
    etsn_value *v = etsn_v_i32(1);
    ck_assert_int_eq(etsn_clixml_write(v, &b), 0);
    ck_assert_int_eq(etsn_clixml_write(v, &b), 0);
    ck_assert_str_eq((char *)b.data, "prefix:<I32>1</I32><I32>1</I32>");
    etsn_v_free(v);
    etsn_buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clixml");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, primitives_written);
    tcase_add_test(tc, doubles_like_dotnet_r);
    tcase_add_test(tc, roundtrip_every_kind);
    tcase_add_test(tc, complex_object_tnref_and_ref);
    tcase_add_test(tc, ref_with_other_name);
    tcase_add_test(tc, member_names_case_insensitive);
    tcase_add_test(tc, enum_object);
    tcase_add_test(tc, dictionary);
    tcase_add_test(tc, string_escaping);
    tcase_add_test(tc, spec_messages);
    tcase_add_test(tc, display);
    tcase_add_test(tc, equality);
    tcase_add_test(tc, hostile_inputs);
    tcase_add_test(tc, from_node);
    tcase_add_test(tc, write_is_appending);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    xmlCleanupParser();
    return failed ? 1 : 0;
}

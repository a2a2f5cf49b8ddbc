/* CLIXML (MS-PSRP 2.2.5) value model, serializer and deserializer.
 * A value is a tree: primitives, or complex objects with type names, ToString,
 * adapted properties (<Props>), extended members (<MS>), an optional
 * primitive base value (enums: <I32> inside <Obj>) and list or dictionary
 * contents. Values are reference counted so that <Ref RefId> can share them. */
#ifndef ETSN_CLIXML_H
#define ETSN_CLIXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "buf.h"

typedef enum {
    ETSN_V_NIL,          /* <Nil/> */
    ETSN_V_BOOL,         /* <B> */
    ETSN_V_I8,           /* <SB> */
    ETSN_V_U8,           /* <By> */
    ETSN_V_I16,          /* <I16> */
    ETSN_V_U16,          /* <U16> */
    ETSN_V_I32,          /* <I32> */
    ETSN_V_U32,          /* <U32> */
    ETSN_V_I64,          /* <I64> */
    ETSN_V_U64,          /* <U64> */
    ETSN_V_DOUBLE,       /* <Db> */
    ETSN_V_FLOAT,        /* <Sg> */
    ETSN_V_CHAR,         /* <C> UTF-16 code unit as number */
    ETSN_V_STRING,       /* <S> */
    ETSN_V_DECIMAL,      /* <D>   text kept as written */
    ETSN_V_DATETIME,     /* <DT>  text kept as written */
    ETSN_V_TIMESPAN,     /* <TS>  text kept as written */
    ETSN_V_GUID,         /* <G>   text, canonical 8-4-4-4-12 */
    ETSN_V_URI,          /* <URI> */
    ETSN_V_VERSION,      /* <Version> */
    ETSN_V_XML,          /* <XD> */
    ETSN_V_SCRIPTBLOCK,  /* <SBK> */
    ETSN_V_BYTES,        /* <BA> decoded bytes */
    ETSN_V_SECURESTRING, /* <SS> decoded bytes (encrypted or plain, see protocol) */
    ETSN_V_OBJ,          /* <Obj> */
} etsn_vkind;

typedef enum {
    ETSN_COLL_NONE,
    ETSN_COLL_LST, /* <LST> ArrayList and friends */
    ETSN_COLL_IE,  /* <IE> enumerable */
    ETSN_COLL_STK, /* <STK> */
    ETSN_COLL_QUE, /* <QUE> */
    ETSN_COLL_DCT, /* <DCT> items alternate key, value */
} etsn_coll;

typedef struct etsn_value etsn_value;

struct etsn_value {
    int refcount;
    etsn_vkind kind;
    char *name; /* N attribute when the value is a property, else NULL */
    union {
        bool b;
        int64_t i;  /* every signed kind and CHAR */
        uint64_t u; /* every unsigned kind */
        double d;
    } num;
    /* STRING and every text-kept kind, BYTES and SECURESTRING: */
    char *str;
    size_t str_len;
    /* OBJ: */
    char **type_names;
    size_t n_type_names;
    char *to_string;
    etsn_value *base;   /* primitive held directly inside <Obj>, or NULL */
    etsn_value **props; /* <Props> */
    size_t n_props;
    etsn_value **members; /* <MS> */
    size_t n_members;
    etsn_coll coll;
    etsn_value **items;
    size_t n_items;
};

/* ---- construction; each returns a new value with refcount 1, or NULL ---- */
etsn_value *etsn_v_nil(void);
etsn_value *etsn_v_bool(bool b);
etsn_value *etsn_v_int(etsn_vkind kind, int64_t i);   /* I8, I16, I32, I64, CHAR */
etsn_value *etsn_v_uint(etsn_vkind kind, uint64_t u); /* U8, U16, U32, U64 */
etsn_value *etsn_v_i32(int32_t i);
etsn_value *etsn_v_i64(int64_t i);
etsn_value *etsn_v_double(double d);
etsn_value *etsn_v_string(const char *s); /* NULL s gives <Nil/> */
etsn_value *etsn_v_string_n(const char *s, size_t len);
/* A text-kept or byte kind (DECIMAL, DATETIME, ..., BYTES, SECURESTRING). */
etsn_value *etsn_v_text(etsn_vkind kind, const char *s, size_t len);
etsn_value *etsn_v_obj(void);
/* An object with the type names (a NULL-terminated list, most derived
 * first) and, unless ETSN_COLL_NONE, an empty collection of that kind. */
etsn_value *etsn_v_typed(const char *const *types, etsn_coll coll);

etsn_value *etsn_v_ref(etsn_value *v); /* refcount++ and returns v */
void etsn_v_free(etsn_value *v);       /* refcount--, frees at 0 (NULL is fine) */

/* Object building. Functions taking a value take ownership of one reference,
 * also on failure. name is copied. Return 0, or -1 on allocation failure. */
int etsn_obj_add_type(etsn_value *obj, const char *type_name);
int etsn_obj_set_tostring(etsn_value *obj, const char *s);
int etsn_obj_set_base(etsn_value *obj, etsn_value *base);
int etsn_obj_add_prop(etsn_value *obj, const char *name, etsn_value *v);
int etsn_obj_add_member(etsn_value *obj, const char *name, etsn_value *v);
int etsn_obj_set_coll(etsn_value *obj, etsn_coll coll);
int etsn_obj_push_item(etsn_value *obj, etsn_value *v);
int etsn_obj_push_entry(etsn_value *obj, etsn_value *key, etsn_value *v); /* DCT */

/* ---- reading ---- */
/* A named member: <MS> first, then <Props>. Names compare as PowerShell's do,
 * case-insensitively (an exact match first). Borrowed pointer or NULL. */
etsn_value *etsn_v_get(const etsn_value *obj, const char *name);
/* Follows a path of names separated by '.', e.g. "ci" or "mr.Foo". */
etsn_value *etsn_v_path(const etsn_value *obj, const char *path);
/* Numeric value of any number kind, or of an enum object's base; false if
 * v holds no number. */
bool etsn_v_as_i64(const etsn_value *v, int64_t *out);
/* The string of a STRING or text kind, the ToString of an object, else NULL. */
const char *etsn_v_as_str(const etsn_value *v);
bool etsn_v_has_type(const etsn_value *v, const char *type_name);
/* Dictionary lookup by string key, borrowed. */
etsn_value *etsn_dict_get(const etsn_value *dict, const char *key);
/* Deep structural equality, ignoring names of top-level values. */
bool etsn_v_equal(const etsn_value *a, const etsn_value *b);
/* Renders v as PowerShell's default ToString would for display, appending to out. */
int etsn_v_display(const etsn_value *v, etsn_buf *out);

/* ---- wire form ---- */
typedef struct {
    size_t max_depth;  /* nesting of Obj/collections; default 64 */
    size_t max_nodes;  /* elements in one document; default 1,000,000 */
    size_t max_string; /* bytes in one string; default 16 MiB */
} etsn_clixml_limits;

/* Appends the serialized value to out. A top-level value with a name is
 * written with its N attribute. RefIds are assigned from 0 in document order
 * and TNRef is used for a type-name list already written in the document. */
int etsn_clixml_write(const etsn_value *v, etsn_buf *out);
/* Parses one top-level element (an optional UTF-8 BOM and XML declaration are
 * skipped). lim NULL means defaults. On failure returns NULL and a reason. */
etsn_value *etsn_clixml_parse(const char *xml, size_t len, const etsn_clixml_limits *lim, char *err,
                              size_t errlen);
/* The same from an element of a document that is already parsed (fixtures). */
etsn_value *etsn_clixml_from_node(xmlNodePtr node, const etsn_clixml_limits *lim, char *err,
                                  size_t errlen);

/* Encodes characters CLIXML cannot carry as _xHHHH_ (and a literal "_x" as
 * _x005F_x), as PowerShell does; and decodes them. */
int etsn_clixml_encode_string(const char *s, size_t len, etsn_buf *out);
int etsn_clixml_decode_string(const char *s, size_t len, etsn_buf *out);

#endif

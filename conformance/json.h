/* A small strict JSON reader for the mock's report. The report comes from a
 * program under test, so the reader treats its input as hostile: bounded
 * depth, size and member counts, strict RFC 8259 grammar, valid UTF-8 only,
 * no duplicate keys. It builds a tree; nothing is streamed. */
#ifndef ETSN_CONF_JSON_H
#define ETSN_CONF_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* Limits: a report is a few kilobytes; these leave ample room while keeping
 * a hostile file from exhausting the stack or memory. */
#define CONF_JSON_MAX_INPUT (16u * 1024u * 1024u)
#define CONF_JSON_MAX_DEPTH 64
#define CONF_JSON_MAX_MEMBERS 4096 /* per object; duplicate check is quadratic */

typedef enum {
    CONF_JSON_NULL,
    CONF_JSON_BOOL,
    CONF_JSON_NUMBER,
    CONF_JSON_STRING,
    CONF_JSON_ARRAY,
    CONF_JSON_OBJECT,
} conf_json_type;

typedef struct conf_json conf_json;
typedef struct conf_json_member conf_json_member;

struct conf_json {
    conf_json_type type;
    union {
        bool boolean;
        double number;
        struct {
            char *s; /* NUL terminated; may also hold NULs (\u0000), see len */
            size_t len;
        } str;
        struct {
            conf_json *items;
            size_t count;
        } arr;
        struct {
            conf_json_member *members;
            size_t count;
        } obj;
    } u;
};

struct conf_json_member {
    char *key;
    size_t key_len;
    conf_json value;
};

/* Parses exactly one JSON value (surrounded by optional whitespace). Returns
 * NULL on error with a message naming the byte offset in err. */
conf_json *conf_json_parse(const char *text, size_t len, char *err, size_t errlen);
void conf_json_free(conf_json *v);

/* Accessors return NULL/defaults on a type mismatch so callers can chain
 * them without checking each step. */
const conf_json *conf_json_get(const conf_json *obj, const char *key);
size_t conf_json_count(const conf_json *arr); /* 0 when not an array */
const conf_json *conf_json_at(const conf_json *arr, size_t i);
const char *conf_json_str(const conf_json *v); /* NULL when not a string */
bool conf_json_is_bool(const conf_json *v);

#endif

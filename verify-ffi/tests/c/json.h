/* A small JSON reader for the vector test: enough of RFC 8259 to read licenses.json and the
 * claims the library returns, and to compare two documents. Not part of the library. */
#ifndef KOOLICENSE_TEST_JSON_H
#define KOOLICENSE_TEST_JSON_H

#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json {
    json_type type;
    int boolean;
    char *text;          /* JSON_STRING: the decoded UTF-8 (NUL-terminated); JSON_NUMBER: as written */
    size_t len;          /* length of text */
    struct json **items; /* JSON_ARRAY, JSON_OBJECT: the values */
    char **keys;         /* JSON_OBJECT: the keys, decoded */
    size_t count;
} json;

/* Parses a whole document; NULL on a syntax error. */
json *json_parse(const char *text, size_t len);
/* Reads and parses a file; NULL when it cannot be read or parsed. */
json *json_parse_file(const char *path);
void json_free(json *value);
/* The member of an object, or NULL. */
const json *json_get(const json *object, const char *key);
/* The string of a member, or NULL when absent or not a string. */
const char *json_string(const json *object, const char *key, size_t *len);
/* Structural equality; object members compare regardless of order. */
int json_equal(const json *a, const json *b);

#endif

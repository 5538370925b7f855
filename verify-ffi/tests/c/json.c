/* See json.h. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *at;
    const char *end;
} reader;

static json *parse_value(reader *r, int depth);

static void skip_space(reader *r) {
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\n' || *r->at == '\r' || *r->at == '\t')) {
        r->at++;
    }
}

static json *new_value(json_type type) {
    json *value = calloc(1, sizeof *value);
    if (value != NULL) {
        value->type = type;
    }
    return value;
}

static int hex4(reader *r, unsigned *out) {
    unsigned v = 0;
    int i;
    if (r->end - r->at < 4) {
        return 0;
    }
    for (i = 0; i < 4; i++) {
        char c = *r->at++;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *out, unsigned cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

/* Reads a string after its opening quote; the decoded text is never longer than the source. */
static char *parse_string(reader *r, size_t *len) {
    const char *start = r->at;
    char *out = malloc((size_t)(r->end - start) + 1);
    size_t n = 0;
    if (out == NULL) return NULL;
    while (r->at < r->end && *r->at != '"') {
        char c = *r->at++;
        if (c != '\\') { out[n++] = c; continue; }
        if (r->at >= r->end) break;
        c = *r->at++;
        switch (c) {
        case '"': case '\\': case '/': out[n++] = c; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            unsigned cp, low;
            if (!hex4(r, &cp)) goto fail;
            if (cp >= 0xD800 && cp < 0xDC00) {
                if (r->end - r->at < 6 || r->at[0] != '\\' || r->at[1] != 'u') goto fail;
                r->at += 2;
                if (!hex4(r, &low) || low < 0xDC00 || low > 0xDFFF) goto fail;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            n += put_utf8(out + n, cp);
            break;
        }
        default: goto fail;
        }
    }
    if (r->at >= r->end) goto fail;
    r->at++; /* closing quote */
    out[n] = '\0';
    *len = n;
    return out;
fail:
    free(out);
    return NULL;
}

static int append(json *container, json *item, char *key) {
    json **items = realloc(container->items, (container->count + 1) * sizeof *items);
    if (items == NULL) return 0;
    container->items = items;
    if (container->type == JSON_OBJECT) {
        char **keys = realloc(container->keys, (container->count + 1) * sizeof *keys);
        if (keys == NULL) return 0;
        container->keys = keys;
        keys[container->count] = key;
    }
    items[container->count++] = item;
    return 1;
}

static json *parse_container(reader *r, int depth, json_type type, char close) {
    json *value = new_value(type);
    if (value == NULL) return NULL;
    skip_space(r);
    if (r->at < r->end && *r->at == close) { r->at++; return value; }
    for (;;) {
        char *key = NULL;
        json *item;
        skip_space(r);
        if (type == JSON_OBJECT) {
            size_t key_len;
            if (r->at >= r->end || *r->at != '"') goto fail;
            r->at++;
            key = parse_string(r, &key_len);
            skip_space(r);
            if (key == NULL || r->at >= r->end || *r->at != ':') { free(key); goto fail; }
            r->at++;
        }
        item = parse_value(r, depth + 1);
        if (item == NULL || !append(value, item, key)) { free(key); json_free(item); goto fail; }
        skip_space(r);
        if (r->at < r->end && *r->at == ',') { r->at++; continue; }
        if (r->at < r->end && *r->at == close) { r->at++; return value; }
        goto fail;
    }
fail:
    json_free(value);
    return NULL;
}

static int literal(reader *r, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(r->end - r->at) < n || memcmp(r->at, word, n) != 0) return 0;
    r->at += n;
    return 1;
}

static json *parse_value(reader *r, int depth) {
    json *value;
    if (depth > 64) return NULL;
    skip_space(r);
    if (r->at >= r->end) return NULL;
    switch (*r->at) {
    case '{': r->at++; return parse_container(r, depth, JSON_OBJECT, '}');
    case '[': r->at++; return parse_container(r, depth, JSON_ARRAY, ']');
    case '"':
        r->at++;
        value = new_value(JSON_STRING);
        if (value != NULL && (value->text = parse_string(r, &value->len)) == NULL) {
            json_free(value);
            return NULL;
        }
        return value;
    case 't': case 'f':
        value = new_value(JSON_BOOL);
        if (value == NULL) return NULL;
        value->boolean = *r->at == 't';
        if (!literal(r, value->boolean ? "true" : "false")) { json_free(value); return NULL; }
        return value;
    case 'n':
        return literal(r, "null") ? new_value(JSON_NULL) : NULL;
    default: {
        const char *start = r->at;
        while (r->at < r->end && strchr("+-0123456789.eE", *r->at) != NULL) r->at++;
        if (r->at == start) return NULL;
        value = new_value(JSON_NUMBER);
        if (value == NULL) return NULL;
        value->len = (size_t)(r->at - start);
        value->text = malloc(value->len + 1);
        if (value->text == NULL) { json_free(value); return NULL; }
        memcpy(value->text, start, value->len);
        value->text[value->len] = '\0';
        return value;
    }
    }
}

json *json_parse(const char *text, size_t len) {
    reader r;
    json *value;
    r.at = text;
    r.end = text + len;
    value = parse_value(&r, 0);
    skip_space(&r);
    if (value != NULL && r.at != r.end) {
        json_free(value);
        return NULL;
    }
    return value;
}

void json_free(json *value) {
    size_t i;
    if (value == NULL) return;
    for (i = 0; i < value->count; i++) {
        json_free(value->items[i]);
        if (value->keys != NULL) free(value->keys[i]);
    }
    free(value->items);
    free(value->keys);
    free(value->text);
    free(value);
}

const json *json_get(const json *object, const char *key) {
    size_t i;
    if (object == NULL || object->type != JSON_OBJECT) return NULL;
    for (i = 0; i < object->count; i++) {
        if (strcmp(object->keys[i], key) == 0) return object->items[i];
    }
    return NULL;
}

const char *json_string(const json *object, const char *key, size_t *len) {
    const json *value = json_get(object, key);
    if (value == NULL || value->type != JSON_STRING) return NULL;
    if (len != NULL) *len = value->len;
    return value->text;
}

int json_equal(const json *a, const json *b) {
    size_t i;
    if (a == NULL || b == NULL || a->type != b->type || a->count != b->count) return 0;
    switch (a->type) {
    case JSON_NULL: return 1;
    case JSON_BOOL: return a->boolean == b->boolean;
    case JSON_NUMBER:
    case JSON_STRING: return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
    case JSON_ARRAY:
        for (i = 0; i < a->count; i++) {
            if (!json_equal(a->items[i], b->items[i])) return 0;
        }
        return 1;
    case JSON_OBJECT:
        for (i = 0; i < a->count; i++) {
            if (!json_equal(a->items[i], json_get(b, a->keys[i]))) return 0;
        }
        return 1;
    }
    return 0;
}

json *json_parse_file(const char *path) {
    FILE *file = fopen(path, "rb");
    char *text = NULL;
    long size;
    json *value = NULL;
    if (file == NULL) return NULL;
    if (fseek(file, 0, SEEK_END) == 0 && (size = ftell(file)) >= 0 && fseek(file, 0, SEEK_SET) == 0 &&
        (text = malloc((size_t)size + 1)) != NULL && fread(text, 1, (size_t)size, file) == (size_t)size) {
        value = json_parse(text, (size_t)size);
    }
    free(text);
    fclose(file);
    return value;
}

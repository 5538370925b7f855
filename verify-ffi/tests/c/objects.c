/* Runs the revocation list and status answer vectors (verify/tests/vectors/revocations.json and
 * status.json) through the C ABI.
 *
 *   objects <path to revocations.json> <path to status.json>
 *
 * Built and run by bindings/ci.sh. Exits non-zero when any case differs from its record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koolicense.h"
#include "json.h"

static const char *const ENTRY_STATUS[] = {"superseded", "suspended", "revoked", "released"};
static const char *const STATE[] = {"valid", "suspended", "revoked", "expired", "frozen", "released", "unknown"};

static json *load(const char *path) {
    json *parsed = json_parse_file(path);
    return parsed != NULL && parsed->type == JSON_ARRAY ? parsed : NULL;
}

static uint64_t number(const json *object, const char *key) {
    const json *value = json_get(object, key);
    return value != NULL && value->type == JSON_NUMBER ? strtoull(value->text, NULL, 10) : 0;
}

static int is(const json *value, const char *text) {
    return value != NULL && value->type == JSON_STRING && strcmp(value->text, text) == 0;
}

static void uuid(const uint8_t bytes[16], char out[37]) {
    size_t i, at = 0;
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[at++] = '-';
        sprintf(out + at, "%02x", bytes[i]);
        at += 2;
    }
}

static KoolicenseVerifier *verifier_of(const json *c) {
    size_t len = 0;
    const char *pem = json_string(c, "public_key_pem", &len);
    KoolicenseVerifier *verifier = NULL;
    koolicense_verifier_new((const uint8_t *)pem, len, KOOLICENSE_DEFAULT_LEEWAY_SECS, &verifier, NULL);
    return verifier;
}

/* NULL when the error matches the record, else what differed. */
static const char *error_matches(KoolicenseStatus status, KoolicenseError *error, const json *expect) {
    const char *kind = koolicense_error_kind(error, NULL);
    if (status == KOOLICENSE_STATUS_OK) return "accepted what is recorded as refused";
    return is(json_get(expect, "error"), kind) ? NULL : kind;
}

static const char *run_list(const json *c) {
    size_t len = 0, i;
    const char *text = json_string(c, "list", &len);
    const json *last_json = json_get(c, "last"), *license = json_get(c, "license");
    const json *expect = json_get(c, "expect"), *ok = json_get(expect, "ok");
    KoolicenseListStamp last, stamp;
    KoolicenseRevocationList *list = NULL;
    KoolicenseError *error = NULL;
    KoolicenseVerifier *verifier = verifier_of(c);
    const char *problem = NULL;
    KoolicenseStatus status;
    last.sequence = number(last_json, "sequence");
    last.issued_at = number(last_json, "issued_at");
    status = koolicense_verify_revocation_list(verifier, (const uint8_t *)text, len, number(c, "now"),
                                               last_json != NULL ? &last : NULL, &list, &error);
    if (status == KOOLICENSE_STATUS_OK && license != NULL) {
        size_t id_len = 0;
        const char *id = json_string(license, "license_id", &id_len);
        status = koolicense_revocation_list_check_license(list, (const uint8_t *)id, id_len,
                                                          (uint32_t)number(license, "revision"), &error);
    }
    if (ok == NULL) {
        problem = error_matches(status, error, expect);
    } else if (status != KOOLICENSE_STATUS_OK) {
        problem = koolicense_error_message(error, NULL);
    } else {
        const json *entries = json_get(ok, "entries");
        stamp = koolicense_revocation_list_stamp(list);
        if (stamp.sequence != number(ok, "sequence") || stamp.issued_at != number(ok, "issued_at")) problem = "stamp";
        if (koolicense_revocation_list_len(list) != entries->count) problem = "entry count";
        for (i = 0; problem == NULL && i < entries->count; i++) {
            KoolicenseRevocationEntry entry;
            char id[37];
            if (!koolicense_revocation_list_entry(list, i, &entry)) { problem = "missing entry"; break; }
            uuid(entry.license_id, id);
            if (!is(json_get(entries->items[i], "license_id"), id) ||
                entry.revoked_below != number(entries->items[i], "revoked_below") ||
                entry.status < 0 || entry.status > 3 ||
                !is(json_get(entries->items[i], "status"), ENTRY_STATUS[entry.status])) {
                problem = "entry differs";
            }
        }
        if (problem == NULL && koolicense_revocation_list_entry(list, entries->count, NULL)) problem = "entry past the end";
    }
    koolicense_revocation_list_free(list);
    koolicense_error_free(error);
    koolicense_verifier_free(verifier);
    return problem;
}

static const char *run_status(const json *c) {
    size_t answer_len = 0, nonce_len = 0, id_len = 0;
    const char *answer = json_string(c, "answer", &answer_len);
    const char *nonce = json_string(c, "nonce", &nonce_len);
    const json *license = json_get(c, "license");
    const char *id = json_string(license, "license_id", &id_len);
    const json *expect = json_get(c, "expect"), *ok = json_get(expect, "ok");
    KoolicenseStatusAnswer out;
    KoolicenseError *error = NULL;
    KoolicenseVerifier *verifier = verifier_of(c);
    const char *problem = NULL;
    KoolicenseStatus status = koolicense_verify_status_for_license(
        verifier, (const uint8_t *)answer, answer_len, (const uint8_t *)nonce, nonce_len, (const uint8_t *)id, id_len,
        (uint32_t)number(license, "revision"), &out, &error);
    if (ok == NULL) {
        problem = error_matches(status, error, expect);
    } else if (status != KOOLICENSE_STATUS_OK) {
        problem = koolicense_error_message(error, NULL);
    } else {
        const json *expires = json_get(ok, "expires_at");
        if (out.server_time != number(ok, "server_time") || out.revision != number(ok, "revision") ||
            out.current_revision != number(ok, "current_revision") ||
            out.revoked_below != number(ok, "revoked_below") ||
            out.expires_at != (expires->type == JSON_NULL ? 0 : number(ok, "expires_at")) ||
            out.state < 0 || out.state > 6 || !is(json_get(ok, "state"), STATE[out.state]) ||
            !is(json_get(ok, "license_id"), id) || !is(json_get(ok, "nonce"), nonce)) {
            problem = "answer differs";
        }
    }
    koolicense_error_free(error);
    koolicense_verifier_free(verifier);
    return problem;
}

static size_t run_all(const char *path, const char *(*run)(const json *)) {
    json *cases = load(path);
    size_t i, failed = 0;
    if (cases == NULL || cases->count == 0) {
        fprintf(stderr, "cannot read the vectors in %s\n", path);
        return 1;
    }
    for (i = 0; i < cases->count; i++) {
        const char *problem = run(cases->items[i]);
        if (problem != NULL) {
            failed++;
            printf("FAIL %s: %s\n", json_string(cases->items[i], "name", NULL), problem);
        }
    }
    printf("%zu of %zu vectors in %s pass through the C ABI\n", cases->count - failed, cases->count, path);
    json_free(cases);
    return failed;
}

int main(int argc, char **argv) {
    size_t failed;
    if (argc != 3) {
        fprintf(stderr, "usage: %s revocations.json status.json\n", argv[0]);
        return 2;
    }
    failed = run_all(argv[1], run_list) + run_all(argv[2], run_status);
    return failed == 0 ? 0 : 1;
}

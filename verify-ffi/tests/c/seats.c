/* Runs the lease and offline activation vectors (verify/tests/vectors/leases.json and
 * activations.json) through the C ABI.
 *
 *   seats <path to leases.json> <path to activations.json>
 *
 * Built and run by bindings/ci.sh. Exits non-zero when any case differs from its record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koolicense.h"
#include "json.h"

static uint64_t number(const json *object, const char *key) {
    const json *value = json_get(object, key);
    return value != NULL && value->type == JSON_NUMBER ? strtoull(value->text, NULL, 10) : 0;
}

static int is(const json *value, const char *text) {
    return value != NULL && text != NULL && value->type == JSON_STRING && strcmp(value->text, text) == 0;
}

static KoolicenseVerifier *verifier_of(const json *c) {
    size_t len = 0;
    const char *pem = json_string(c, "public_key_pem", &len);
    KoolicenseVerifier *verifier = NULL;
    koolicense_verifier_new((const uint8_t *)pem, len, KOOLICENSE_DEFAULT_LEEWAY_SECS, &verifier, NULL);
    return verifier;
}

static KoolicenseHost *host_of(const json *c) {
    size_t hw_len = 0, sys_len = 0;
    const char *hw = json_string(c, "hardware_identifier", &hw_len);
    const char *sys = json_string(c, "system_identifier", &sys_len);
    KoolicenseHost *host = NULL;
    koolicense_host_new((const uint8_t *)hw, hw_len, (const uint8_t *)sys, sys_len, &host, NULL);
    return host;
}

/* NULL when the error matches the record, else what differed. */
static const char *error_matches(KoolicenseStatus status, KoolicenseError *error, const json *expect) {
    const char *kind = koolicense_error_kind(error, NULL);
    if (status == KOOLICENSE_STATUS_OK) return "accepted what is recorded as refused";
    return is(json_get(expect, "error"), kind) ? NULL : kind;
}

/* NULL when every recorded field of `ok` has the same value in the JSON `actual`. */
static const char *fields_match(const json *ok, const char *actual_text, size_t actual_len) {
    json *actual = json_parse(actual_text, actual_len);
    const char *problem = actual == NULL ? "unreadable JSON" : NULL;
    size_t i;
    for (i = 0; problem == NULL && i < ok->count; i++) {
        if (!json_equal(ok->items[i], json_get(actual, ok->keys[i]))) problem = ok->keys[i];
    }
    json_free(actual);
    return problem;
}

static const char *run_lease(const json *c) {
    size_t len = 0, json_len = 0;
    const char *text = json_string(c, "lease", &len);
    const json *expect = json_get(c, "expect"), *ok = json_get(expect, "ok");
    KoolicenseVerifier *verifier = verifier_of(c);
    KoolicenseHost *host = host_of(c);
    KoolicenseLease *lease = NULL;
    KoolicenseError *error = NULL;
    char *lease_json = NULL;
    const char *problem = NULL;
    KoolicenseStatus status = koolicense_verify_lease(verifier, (const uint8_t *)text, len, number(c, "now"), NULL,
                                                      0, host, &lease, &error);
    if (ok == NULL) {
        problem = error_matches(status, error, expect);
    } else if (status != KOOLICENSE_STATUS_OK) {
        problem = koolicense_error_message(error, NULL);
    } else if (koolicense_lease_to_json(lease, &lease_json, &json_len, &error) != KOOLICENSE_STATUS_OK) {
        problem = koolicense_error_message(error, NULL);
    } else {
        const KoolicenseClaims *claims = koolicense_lease_claims(lease);
        problem = fields_match(ok, lease_json, json_len);
        /* The accessors agree with the JSON. */
        if (problem == NULL &&
            (!is(json_get(ok, "lease_id"), koolicense_lease_id(lease, NULL)) ||
             koolicense_lease_borrowed(lease) != json_get(ok, "borrowed")->boolean ||
             koolicense_lease_expires_at(lease) != number(ok, "expires_at") ||
             !is(json_get(ok, "license_id"), koolicense_claims_license_id(claims, NULL)) ||
             koolicense_claims_revision(claims) != number(ok, "revision"))) {
            problem = "accessors differ from the record";
        }
    }
    koolicense_string_free(lease_json);
    koolicense_lease_free(lease);
    koolicense_error_free(error);
    koolicense_host_free(host);
    koolicense_verifier_free(verifier);
    return problem;
}

static const char *run_activation(const json *c) {
    size_t request_len = 0, response_len = 0;
    const char *request_text = json_string(c, "request", &request_len);
    const char *response = json_string(c, "response", &response_len);
    const json *expect = json_get(c, "expect"), *ok = json_get(expect, "ok");
    KoolicenseVerifier *verifier = verifier_of(c);
    KoolicenseHost *host = host_of(c);
    KoolicenseActivationRequest *request = NULL;
    KoolicenseActivation *activation = NULL;
    KoolicenseError *error = NULL;
    const char *problem = NULL;
    KoolicenseStatus status =
        koolicense_activation_request_parse((const uint8_t *)request_text, request_len, &request, &error);
    if (status != KOOLICENSE_STATUS_OK) {
        problem = koolicense_error_message(error, NULL);
    } else if (!is(json_get(c, "request"), koolicense_activation_request_text(request, NULL))) {
        problem = "the request does not read back to its text";
    } else {
        status = koolicense_read_activation_response(verifier, (const uint8_t *)response, response_len, request,
                                                     number(c, "now"), host, &activation, &error);
        if (ok == NULL) {
            problem = error_matches(status, error, expect);
        } else if (status != KOOLICENSE_STATUS_OK) {
            problem = koolicense_error_message(error, NULL);
        } else {
            const KoolicenseClaims *claims = koolicense_activation_claims(activation);
            if (!is(json_get(ok, "license"), koolicense_activation_license(activation, NULL)) ||
                !is(json_get(ok, "license_id"), koolicense_claims_license_id(claims, NULL)) ||
                !is(json_get(ok, "product_id"), koolicense_claims_product_id(claims, NULL)) ||
                koolicense_claims_revision(claims) != number(ok, "revision") ||
                !is(json_get(ok, "deactivation_proof"), koolicense_activation_deactivation_proof(activation, NULL))) {
                problem = "activation differs";
            }
        }
    }
    koolicense_activation_free(activation);
    koolicense_activation_request_free(request);
    koolicense_error_free(error);
    koolicense_host_free(host);
    koolicense_verifier_free(verifier);
    return problem;
}

typedef KoolicenseStatus (*request_maker)(const uint8_t *, size_t, const uint8_t *, size_t,
                                         KoolicenseActivationRequest **, KoolicenseError **);

/* A fresh request (for a code, or for a license of the purchase) reads back to itself and two
 * fresh requests differ (their nonces). */
static size_t fresh_requests_differ(request_maker make, const char *subject, const char *what) {
    static const char machine[] = "SYSCODE-FLOAT-0001";
    KoolicenseActivationRequest *a = NULL, *b = NULL, *back = NULL;
    size_t a_len = 0, b_len = 0, failed = 0;
    const char *a_text, *b_text;
    make((const uint8_t *)subject, strlen(subject), (const uint8_t *)machine, strlen(machine), &a, NULL);
    make((const uint8_t *)subject, strlen(subject), (const uint8_t *)machine, strlen(machine), &b, NULL);
    a_text = koolicense_activation_request_text(a, &a_len);
    b_text = koolicense_activation_request_text(b, &b_len);
    koolicense_activation_request_parse((const uint8_t *)a_text, a_len, &back, NULL);
    if (a_text == NULL || b_text == NULL || strcmp(a_text, b_text) == 0 ||
        strcmp(a_text, koolicense_activation_request_text(back, NULL)) != 0) {
        printf("FAIL fresh activation requests for %s: not distinct or not read back\n", what);
        failed = 1;
    }
    koolicense_activation_request_free(a);
    koolicense_activation_request_free(b);
    koolicense_activation_request_free(back);
    return failed;
}

/* Requests for a code and for a license (the first activated license of the vectors). */
static size_t fresh_requests(const char *activations) {
    json *cases = json_parse_file(activations);
    const char *license = NULL;
    size_t failed;
    if (cases != NULL && cases->type == JSON_ARRAY && cases->count > 0) {
        license = json_string(json_get(json_get(cases->items[0], "expect"), "ok"), "license", NULL);
    }
    if (license == NULL) {
        fprintf(stderr, "no license in %s\n", activations);
        json_free(cases);
        return 1;
    }
    failed = fresh_requests_differ(koolicense_activation_request_new, "PL-CODE-0001", "a code") +
             fresh_requests_differ(koolicense_activation_request_for_license, license, "a license");
    json_free(cases);
    return failed;
}

static size_t run_all(const char *path, const char *(*run)(const json *)) {
    json *cases = json_parse_file(path);
    size_t i, failed = 0;
    if (cases == NULL || cases->type != JSON_ARRAY || cases->count == 0) {
        fprintf(stderr, "cannot read the vectors in %s\n", path);
        json_free(cases);
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
        fprintf(stderr, "usage: %s leases.json activations.json\n", argv[0]);
        return 2;
    }
    failed = run_all(argv[1], run_lease) + run_all(argv[2], run_activation) + fresh_requests(argv[2]);
    return failed == 0 ? 0 : 1;
}

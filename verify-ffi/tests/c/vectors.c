/* Runs every known-answer vector (verify/tests/vectors/licenses.json) through the C ABI.
 *
 *   vectors <path to licenses.json>
 *   vectors --allow-test <path to v1/licenses.json>   (version 1 vectors: test licenses allowed)
 *
 * Built and run by .ci/run against the static library. Exits non-zero when any case differs
 * from its recorded answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koolicense.h"
#include "json.h"

static int same_text(const char *got, size_t got_len, const json *want) {
    if (want == NULL || want->type == JSON_NULL) return got == NULL;
    return got != NULL && want->type == JSON_STRING && got_len == want->len &&
           memcmp(got, want->text, got_len) == 0 && got[got_len] == '\0';
}

/* The accessors agree with the recorded claims. */
static const char *check_accessors(const KoolicenseClaims *claims, const json *want) {
    size_t len, i;
    const char *text;
    const json *features = json_get(want, "features");
    const json *expires = json_get(want, "expires_at");
    const json *quantity = json_get(want, "quantity");
    const char *kind = json_string(json_get(want, "binding"), "kind", NULL);
    text = koolicense_claims_license_id(claims, &len);
    if (!same_text(text, len, json_get(want, "license_id"))) return "license_id";
    text = koolicense_claims_product_id(claims, &len);
    if (!same_text(text, len, json_get(want, "product_id"))) return "product_id";
    text = koolicense_claims_sku_code(claims, &len);
    if (!same_text(text, len, json_get(want, "sku_code"))) return "sku_code";
    text = koolicense_claims_instance_id(claims, &len);
    if (!same_text(text, len, json_get(want, "instance_id"))) return "instance_id";
    text = koolicense_claims_order_id(claims, &len);
    if (!same_text(text, len, json_get(want, "order_id"))) return "order_id";
    text = koolicense_claims_customer_id(claims, &len);
    if (!same_text(text, len, json_get(want, "customer_id"))) return "customer_id";
    if (koolicense_claims_revision(claims) != strtoul(json_get(want, "revision")->text, NULL, 10)) return "revision";
    if (koolicense_claims_issued_at(claims) != strtoull(json_get(want, "issued_at")->text, NULL, 10)) return "issued_at";
    if (koolicense_claims_not_before(claims) != strtoull(json_get(want, "not_before")->text, NULL, 10)) return "not_before";
    if (koolicense_claims_trial(claims) != json_get(want, "trial")->boolean) return "trial";
    if (koolicense_claims_test(claims) != json_get(want, "test")->boolean) return "test";
    if (koolicense_claims_is_perpetual(claims) != (expires->type == JSON_NULL)) return "perpetual";
    if (expires->type == JSON_NUMBER && koolicense_claims_expires_at(claims) != strtoull(expires->text, NULL, 10)) return "expires_at";
    if (koolicense_claims_quantity(claims) != (quantity->type == JSON_NULL ? -1 : strtoll(quantity->text, NULL, 10))) return "quantity";
    if (koolicense_claims_feature_count(claims) != features->count) return "feature count";
    for (i = 0; i < features->count; i++) {
        text = koolicense_claims_feature(claims, i, &len);
        if (!same_text(text, len, features->items[i])) return "feature";
        if (!koolicense_claims_has_feature(claims, (const uint8_t *)text, len)) return "has_feature";
    }
    if (koolicense_claims_feature(claims, features->count, &len) != NULL) return "feature past the end";
    if (strcmp(kind, "none") == 0 && koolicense_claims_binding_kind(claims) != KOOLICENSE_BINDING_KIND_NONE) return "binding kind";
    if (strcmp(kind, "system") == 0) {
        if (koolicense_claims_binding_kind(claims) != KOOLICENSE_BINDING_KIND_SYSTEM) return "binding kind";
        text = koolicense_claims_system_identifier(claims, &len);
        if (!same_text(text, len, json_get(json_get(want, "binding"), "identifier"))) return "system identifier";
    }
    if (strcmp(kind, "system_digest") == 0 && koolicense_claims_binding_kind(claims) != KOOLICENSE_BINDING_KIND_SYSTEM_DIGEST) return "binding kind";
    if (strcmp(kind, "hardware") == 0 && koolicense_claims_binding_kind(claims) != KOOLICENSE_BINDING_KIND_HARDWARE) return "binding kind";
    return NULL;
}

/* Runs one case; returns NULL when it matches its record, else what differed. */
static const char *run_case(const json *c, int allow_test, char *detail, size_t detail_cap) {
    const char *pem, *token, *product, *hardware, *system;
    size_t pem_len, token_len, product_len = 0, hardware_len = 0, system_len = 0;
    const json *leeway = json_get(c, "leeway"), *host_json = json_get(c, "host");
    const json *allow = json_get(c, "allow_test"), *mark = json_get(c, "mark");
    const json *expect = json_get(c, "expect"), *ok = json_get(expect, "ok");
    uint64_t now = strtoull(json_get(c, "now")->text, NULL, 10);
    KoolicenseVerifier *verifier = NULL;
    KoolicenseHost *host = NULL;
    KoolicenseClaims *claims = NULL;
    KoolicenseError *error = NULL;
    KoolicenseStatus status;
    const char *problem = NULL;

    pem = json_string(c, "public_key_pem", &pem_len);
    token = json_string(c, "token", &token_len);
    if (token == NULL) token = json_string(c, "armored", &token_len);
    product = json_string(c, "product", &product_len);
    if (allow != NULL && allow->type == JSON_BOOL && allow->boolean) allow_test = 1;
    status = koolicense_verifier_new_with((const uint8_t *)pem, pem_len,
                                          leeway != NULL ? strtoull(leeway->text, NULL, 10) : KOOLICENSE_DEFAULT_LEEWAY_SECS,
                                          KOOLICENSE_DEFAULT_MAX_LIST_AGE_SECS,
                                          allow_test ? KOOLICENSE_ALLOW_TEST_LICENSES : 0, &verifier, &error);
    if (status != KOOLICENSE_STATUS_OK) { problem = "the key does not parse"; goto done; }
    /* The clock check comes first, as in the Rust checker. */
    status = koolicense_check_clock(verifier, now, mark != NULL ? strtoull(mark->text, NULL, 10) : 0, &error);
    if (status != KOOLICENSE_STATUS_OK) goto verdict;
    if (host_json != NULL) {
        hardware = json_string(host_json, "hardware_identifier", &hardware_len);
        system = json_string(host_json, "system_identifier", &system_len);
        status = koolicense_host_new((const uint8_t *)hardware, hardware_len, (const uint8_t *)system,
                                     system_len, &host, &error);
        if (status != KOOLICENSE_STATUS_OK) { problem = "the host does not parse"; goto done; }
        status = koolicense_verify_on(verifier, (const uint8_t *)token, token_len, now,
                                      (const uint8_t *)product, product_len, host, &claims, &error);
    } else {
        status = koolicense_verify(verifier, (const uint8_t *)token, token_len, now,
                                   (const uint8_t *)product, product_len, &claims, &error);
    }
verdict:
    if (ok != NULL) {
        char *text = NULL;
        size_t len = 0;
        json *got;
        if (status != KOOLICENSE_STATUS_OK) {
            snprintf(detail, detail_cap, "%s", koolicense_error_message(error, NULL));
            problem = "refused a license recorded as good";
            goto done;
        }
        if (koolicense_claims_to_json(claims, &text, &len, NULL) != KOOLICENSE_STATUS_OK) { problem = "no claims JSON"; goto done; }
        got = json_parse(text, len);
        if (!json_equal(got, ok)) {
            snprintf(detail, detail_cap, "%s", text);
            problem = "claims differ from the record";
        } else if ((problem = check_accessors(claims, ok)) != NULL) {
            snprintf(detail, detail_cap, "accessor %s", problem);
            problem = "an accessor differs from the record";
        }
        json_free(got);
        koolicense_string_free(text);
    } else {
        size_t kind_len = 0;
        const char *kind = koolicense_error_kind(error, &kind_len);
        if (status == KOOLICENSE_STATUS_OK) { problem = "accepted a license recorded as bad"; goto done; }
        if (!same_text(kind, kind_len, json_get(expect, "error"))) {
            snprintf(detail, detail_cap, "got %s (%s)", kind, koolicense_error_message(error, NULL));
            problem = "wrong error kind";
        } else if (claims != NULL || koolicense_error_status(error) != status) {
            problem = "failure left claims behind or lost its status";
        }
    }
done:
    koolicense_claims_free(claims);
    koolicense_error_free(error);
    koolicense_host_free(host);
    koolicense_verifier_free(verifier);
    return problem;
}

int main(int argc, char **argv) {
    size_t i, failed = 0;
    json *cases;
    int allow_test = argc == 3 && strcmp(argv[1], "--allow-test") == 0;
    const char *path = argv[argc - 1];
    if (argc != 2 + allow_test) {
        fprintf(stderr, "usage: %s [--allow-test] verify/tests/vectors/licenses.json\n", argv[0]);
        return 2;
    }
    cases = json_parse_file(path);
    if (cases == NULL || cases->type != JSON_ARRAY || cases->count == 0) {
        fprintf(stderr, "cannot read the vectors in %s\n", path);
        return 2;
    }
    for (i = 0; i < cases->count; i++) {
        char detail[2048] = "";
        const char *problem = run_case(cases->items[i], allow_test, detail, sizeof detail);
        if (problem != NULL) {
            failed++;
            printf("FAIL %s: %s %s\n", json_string(cases->items[i], "name", NULL), problem, detail);
        }
    }
    printf("koolicense %s: %zu of %zu known-answer vectors in %s pass through the C ABI\n",
           koolicense_version(), cases->count - failed, cases->count, path);
    json_free(cases);
    return failed == 0 ? 0 : 1;
}

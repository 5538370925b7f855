/* The shortest start-up check in C (the README's "Embedding the verifier" snippet):
 *
 *   cc -std=c99 -I verify-ffi/include startup_check.c target/release/libkoolicense_verify_ffi.a \
 *      -lpthread -ldl -lm -o startup_check
 *   ./startup_check "$(cat license.txt)"
 *
 * Exit status: 0 licensed, 1 not licensed. */
#include <stdio.h>
#include <string.h>

#include "koolicense.h"

/* The issuer's public key; THIS IS THE TEST KEY from keys/test/: embed your own. */
static const char PINNED_KEYS[] = "-----BEGIN PUBLIC KEY-----\n"
                                  "MCowBQYDK2VwAyEAQZdwNpYxm9BOBmoqym5Aq14WFo94E0PP93dU4cDDFsY=\n"
                                  "-----END PUBLIC KEY-----\n";

int main(int argc, char **argv) {
    const char *license = argc > 1 ? argv[1] : "";
    KoolicenseVerifier *verifier = NULL;
    KoolicenseHost *host = NULL;
    KoolicenseError *error = NULL;
    KoolicenseStatus status;
    koolicense_verifier_new((const uint8_t *)PINNED_KEYS, strlen(PINNED_KEYS), KOOLICENSE_DEFAULT_LEEWAY_SECS, &verifier, NULL);
    if (koolicense_host_this_machine(NULL, 0, &host, NULL) != KOOLICENSE_STATUS_OK)
        koolicense_host_new(NULL, 0, NULL, 0, &host, NULL); /* hardware unreadable: floating licenses only */
    status = koolicense_verify_on(verifier, (const uint8_t *)license, strlen(license), KOOLICENSE_NOW, NULL, 0, host, NULL, &error);
    if (status != KOOLICENSE_STATUS_OK)
        fprintf(stderr, "Not licensed: %s\n", koolicense_error_message(error, NULL));
    koolicense_error_free(error);
    koolicense_host_free(host);
    koolicense_verifier_free(verifier);
    return status == KOOLICENSE_STATUS_OK ? 0 : 1;
}

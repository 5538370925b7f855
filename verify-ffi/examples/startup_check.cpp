// The start-up check a C++ program embeds: verify the installed license against the pinned
// issuer key and this machine before doing anything else.
//
//   c++ -std=c++17 -I verify-ffi/include startup_check.cpp
//       target/release/libkoolicense_verify_ffi.a -lpthread -ldl -lm -o startup_check
//   ./startup_check path/to/license.txt
//
// For licenses bound to a KooMarket system identifier set APP_SYSTEM_IDENTIFIER. The clock's
// high-water mark (a clock set back to keep an expired license alive is refused) is kept in
// APP_CLOCK_MARK_FILE (default ./clock-mark). Exit status: 0 licensed, 1 not licensed, 2 no
// license file could be read.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "koolicense.h"

namespace {

// The issuer's public key, compiled in so that nobody can swap it. THIS IS THE TEST KEY from
// keys/test/ (its private half is public): embed your production key; during a key rotation
// pin both keys (concatenate the PEM blocks).
const char kPinnedKeys[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAQZdwNpYxm9BOBmoqym5Aq14WFo94E0PP93dU4cDDFsY=\n"
    "-----END PUBLIC KEY-----\n";

// The KooMarket product id or sku code this program is sold as (empty: any product).
const std::string kProduct = "";

// RAII for the library's handles.
struct Free {
    void operator()(KoolicenseVerifier *v) const { koolicense_verifier_free(v); }
    void operator()(KoolicenseHost *h) const { koolicense_host_free(h); }
    void operator()(KoolicenseClaims *c) const { koolicense_claims_free(c); }
    void operator()(KoolicenseError *e) const { koolicense_error_free(e); }
};
template <typename T> using Handle = std::unique_ptr<T, Free>;

const uint8_t *bytes(const std::string &s) { return reinterpret_cast<const uint8_t *>(s.data()); }

std::string text(const char *s, size_t len) { return s != nullptr ? std::string(s, len) : std::string(); }

// The host: this machine's hardware identifier when it can be read, and the system identifier
// the customer entered, if any.
Handle<KoolicenseHost> this_host() {
    const char *system = std::getenv("APP_SYSTEM_IDENTIFIER");
    const std::string system_id = system != nullptr ? system : "";
    const uint8_t *system_ptr = system != nullptr ? bytes(system_id) : nullptr;
    KoolicenseHost *host = nullptr;
    KoolicenseError *raw_error = nullptr;
    if (koolicense_host_this_machine(system_ptr, system_id.size(), &host, &raw_error) != KOOLICENSE_STATUS_OK) {
        Handle<KoolicenseError> error(raw_error);
        std::fprintf(stderr, "Note: %s; a hardware-bound license cannot be checked here.\n",
                     koolicense_error_message(error.get(), nullptr));
        if (koolicense_host_new(nullptr, 0, system_ptr, system_id.size(), &host, nullptr) != KOOLICENSE_STATUS_OK) {
            throw std::runtime_error("cannot describe this machine");
        }
    }
    return Handle<KoolicenseHost>(host);
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <license file>\n", argv[0]);
        return 2;
    }
    std::ifstream file(argv[1], std::ios::binary);
    std::stringstream contents;
    contents << file.rdbuf();
    const std::string license = contents.str();
    if (!file || license.empty()) {
        std::fprintf(stderr, "Cannot read the license file %s\n", argv[1]);
        return 2;
    }

    KoolicenseVerifier *raw_verifier = nullptr;
    if (koolicense_verifier_new(reinterpret_cast<const uint8_t *>(kPinnedKeys), sizeof kPinnedKeys - 1,
                                KOOLICENSE_DEFAULT_LEEWAY_SECS, &raw_verifier, nullptr) != KOOLICENSE_STATUS_OK) {
        std::fprintf(stderr, "The embedded license public key is unusable; this is a build error.\n");
        return 2;
    }
    Handle<KoolicenseVerifier> verifier(raw_verifier);
    Handle<KoolicenseHost> host = this_host();

    // The latest time this program has seen; a clock behind it by more than the leeway is
    // refused, and every run raises it.
    const char *mark_env = std::getenv("APP_CLOCK_MARK_FILE");
    const std::string mark_file = mark_env != nullptr ? mark_env : "clock-mark";
    uint64_t mark = 0;
    if (koolicense_mark_load(bytes(mark_file), mark_file.size(), &mark, nullptr) != KOOLICENSE_STATUS_OK) {
        std::fprintf(stderr, "Cannot read the clock mark %s; refusing to start.\n", mark_file.c_str());
        return 1;
    }
    const uint64_t mark_before = mark;

    KoolicenseClaims *raw_claims = nullptr;
    KoolicenseError *raw_error = nullptr;
    KoolicenseStatus status = koolicense_verify_guarded(
        verifier.get(), bytes(license), license.size(), KOOLICENSE_NOW,
        kProduct.empty() ? nullptr : bytes(kProduct), kProduct.size(), host.get(), &mark, &raw_claims, &raw_error);
    Handle<KoolicenseClaims> claims(raw_claims);
    Handle<KoolicenseError> error(raw_error);
    if (mark != mark_before && koolicense_mark_store(bytes(mark_file), mark_file.size(), mark, nullptr) != KOOLICENSE_STATUS_OK) {
        std::fprintf(stderr, "Note: cannot write the clock mark %s.\n", mark_file.c_str());
    }
    if (status != KOOLICENSE_STATUS_OK) {
        size_t len = 0;
        const char *message = koolicense_error_message(error.get(), &len);
        std::fprintf(stderr, "Not licensed (%s): %s\n", koolicense_error_kind(error.get(), nullptr),
                     text(message, len).c_str());
        return 1;
    }

    size_t len = 0;
    const char *product = koolicense_claims_product_id(claims.get(), &len);
    std::printf("Licensed: %s (license %s, revision %u)\n", text(product, len).c_str(),
                koolicense_claims_license_id(claims.get(), nullptr), koolicense_claims_revision(claims.get()));
    if (koolicense_claims_is_perpetual(claims.get())) {
        std::printf("Perpetual license.\n");
    } else {
        std::printf("Valid until Unix time %llu.\n",
                    static_cast<unsigned long long>(koolicense_claims_expires_at(claims.get())));
    }
    for (size_t i = 0; i < koolicense_claims_feature_count(claims.get()); i++) {
        const char *feature = koolicense_claims_feature(claims.get(), i, &len);
        std::printf("Feature: %s\n", text(feature, len).c_str());
    }
    return 0;
}

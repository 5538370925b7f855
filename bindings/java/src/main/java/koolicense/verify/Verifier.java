package koolicense.verify;

import static koolicense.verify.NativeLibrary.LIB;

import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.util.Map;

/**
 * Verifies koolicense licenses offline against the issuer's pinned Ed25519 public keys.
 *
 * <pre>{@code
 * try (Verifier verifier = new Verifier(PINNED_PUBLIC_KEY_PEM);
 *      Host host = Host.thisMachine()) {
 *     Claims claims = verifier.verifyOn(Files.readString(Path.of("license.txt")), host);
 * } catch (LicenseException e) {
 *     System.err.println("Not licensed (" + e.kind() + "): " + e.getMessage());
 * }
 * }</pre>
 *
 * <p>Licenses issued for marketplace test traffic are refused (kind {@code TestLicense}) unless
 * the verifier is built with {@link Builder#allowTestLicenses()}. Thread-safe: any number of
 * threads may verify with one verifier at once. {@link #close()} (or garbage collection) frees
 * the native verifier; closing must not race with other uses.
 */
public final class Verifier implements AutoCloseable {
    /** Clock tolerance applied unless told otherwise, in seconds. */
    public static final long DEFAULT_LEEWAY_SECS = 300;
    /** Maximum age of an accepted revocation list unless told otherwise (7 days), in seconds. */
    public static final long DEFAULT_MAX_LIST_AGE_SECS = 604_800;

    private final NativeHandle handle;

    /** A verifier trusting the keys in {@code publicKeysPem} (one or more PEM blocks). */
    public Verifier(String publicKeysPem) throws LicenseException {
        this(publicKeysPem, DEFAULT_LEEWAY_SECS);
    }

    /** A verifier trusting these keys with {@code leewaySecs} of clock tolerance. */
    public Verifier(String publicKeysPem, long leewaySecs) throws LicenseException {
        this(builder(publicKeysPem).leewaySecs(leewaySecs));
    }

    private Verifier(Builder builder) throws LicenseException {
        byte[] pem = NativeLibrary.utf8(builder.publicKeysPem);
        int flags = builder.allowTestLicenses ? NativeLibrary.ALLOW_TEST_LICENSES : 0;
        PointerByReference out = new PointerByReference();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LIB.koolicense_verifier_new_with(pem, NativeLibrary.len(pem), builder.leewaySecs,
                builder.maxListAgeSecs, flags, out, error), error);
        this.handle = new NativeHandle(this, out.getValue(), LIB::koolicense_verifier_free);
    }

    /** A builder for a verifier with other than the default settings. */
    public static Builder builder(String publicKeysPem) {
        return new Builder(publicKeysPem);
    }

    /** Settings of a verifier. */
    public static final class Builder {
        private final String publicKeysPem;
        private long leewaySecs = DEFAULT_LEEWAY_SECS;
        private long maxListAgeSecs = DEFAULT_MAX_LIST_AGE_SECS;
        private boolean allowTestLicenses;

        private Builder(String publicKeysPem) {
            this.publicKeysPem = publicKeysPem;
        }

        /** Clock tolerance at both ends of the validity window. */
        public Builder leewaySecs(long seconds) {
            this.leewaySecs = nonNegative(seconds, "leewaySecs");
            return this;
        }

        /** Maximum age of an accepted revocation list (the leeway is added on top). */
        public Builder maxListAgeSecs(long seconds) {
            this.maxListAgeSecs = nonNegative(seconds, "maxListAgeSecs");
            return this;
        }

        /** Also accept licenses issued for marketplace test traffic. For test builds only. */
        public Builder allowTestLicenses() {
            this.allowTestLicenses = true;
            return this;
        }

        public Verifier build() throws LicenseException {
            return new Verifier(this);
        }

        private static long nonNegative(long value, String name) {
            if (value < 0) {
                throw new IllegalArgumentException(name + " must not be negative");
            }
            return value;
        }
    }

    /** {@link #verify(String, Long, String)} now, for any product. */
    public Claims verify(String token) throws LicenseException {
        return verify(token, null, null);
    }

    /**
     * Verifies a license (one-line {@code kl1.…} or armoured) at {@code now} (Unix seconds; the
     * system clock when null): signature, format, validity window, not a test license and, when
     * {@code product} is not null, that the license's product id or sku code equals it. The
     * machine binding is <em>not</em> checked: use {@link #verifyOn}.
     */
    public Claims verify(String token, Long now, String product) throws LicenseException {
        return run(token, null, null, now, product);
    }

    /** {@link #verifyOn(String, Host, Long, String)} now, for any product. */
    public Claims verifyOn(String token, Host host) throws LicenseException {
        return verifyOn(token, host, null, null);
    }

    /** Verifies a license as {@link #verify} does, then checks its machine binding against {@code host}. */
    public Claims verifyOn(String token, Host host, Long now, String product) throws LicenseException {
        return run(token, requireHost(host), null, now, product);
    }

    /**
     * Verifies a floating license's lease (one-line {@code kll1.} or armoured) on {@code host} at
     * {@code now} (null: the system clock): signature, that it is a lease (kind
     * {@code WrongObjectKind} for a license), the lease's time window with the leeway
     * ({@code Expired} once it lapsed: beat again or check out a new one), {@code product} when
     * not null, and the machine binding.
     */
    public LeaseClaims verifyLease(String lease, Host host, Long now, String product) throws LicenseException {
        byte[] text = NativeLibrary.utf8(lease == null ? "" : lease);
        byte[] wanted = NativeLibrary.utf8(product);
        PointerByReference out = new PointerByReference();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LeaseLibrary.LEASES.koolicense_verify_lease(handle.pointer(), text, NativeLibrary.len(text),
                when(now), wanted, NativeLibrary.len(wanted), requireHost(host).handle.pointer(), out, error), error);
        try {
            String json = NativeLibrary.owned((o, len, err) -> LeaseLibrary.LEASES.koolicense_lease_to_json(out.getValue(), o, len, err));
            @SuppressWarnings("unchecked")
            Map<String, Object> fields = (Map<String, Object>) Json.parse(json);
            return new LeaseClaims(fields);
        } finally {
            LeaseLibrary.LEASES.koolicense_lease_free(out.getValue());
        }
    }

    /** {@link #verifyLease(String, Host, Long, String)} now, for any product. */
    public LeaseClaims verifyLease(String lease, Host host) throws LicenseException {
        return verifyLease(lease, host, null, null);
    }

    /**
     * Reads the merchant's response to an offline {@link ActivationRequest} on {@code host} at
     * {@code now} (null: the system clock): signature, that it answers this request (kind
     * {@code NonceMismatch} otherwise), then the license inside as {@link #verifyOn} checks it.
     */
    public OfflineActivation readActivationResponse(String response, ActivationRequest request, Host host, Long now)
            throws LicenseException {
        byte[] text = NativeLibrary.utf8(response == null ? "" : response);
        PointerByReference out = new PointerByReference();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LeaseLibrary.LEASES.koolicense_read_activation_response(handle.pointer(), text,
                NativeLibrary.len(text), request.handle.pointer(), when(now), requireHost(host).handle.pointer(), out,
                error), error);
        try {
            String license = LeaseLibrary.lent(LeaseLibrary.LEASES::koolicense_activation_license, out.getValue());
            String proof = LeaseLibrary.lent(LeaseLibrary.LEASES::koolicense_activation_deactivation_proof, out.getValue());
            // The claims the program keeps (usable for revocation and status checks) are those of
            // the license it will verify from now on: the same check, on the same machine.
            return new OfflineActivation(license, verifyOn(license, host, now, null), proof);
        } finally {
            LeaseLibrary.LEASES.koolicense_activation_free(out.getValue());
        }
    }

    /**
     * {@link #verifyOn} guarded against a clock set back: fails with kind {@code ClockBehind}
     * when the clock is behind {@code mark} by more than the leeway; otherwise raises
     * {@code mark} to now (whatever the license's verdict) and verifies. Store the mark when it
     * moved ({@link MarkFile}).
     */
    public Claims verifyGuarded(String token, Host host, ClockMark mark, Long now, String product)
            throws LicenseException {
        return run(token, requireHost(host), mark, now, product);
    }

    /** Fails with kind {@code ClockBehind} when {@code now} (null: the system clock) plus the leeway is before {@code mark}. */
    public void checkClock(ClockMark mark, Long now) throws LicenseException {
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LIB.koolicense_check_clock(handle.pointer(), when(now), mark.get(), error), error);
    }

    private static Host requireHost(Host host) {
        if (host == null) {
            throw new IllegalArgumentException("host is null");
        }
        return host;
    }

    private static long when(Long now) {
        if (now != null && now < 0) {
            throw new IllegalArgumentException("now must be Unix seconds");
        }
        return now == null ? NativeLibrary.NOW : now;
    }

    private Claims run(String token, Host host, ClockMark mark, Long now, String product) throws LicenseException {
        byte[] text = NativeLibrary.utf8(token == null ? "" : token);
        byte[] wanted = NativeLibrary.utf8(product);
        long at = when(now);
        PointerByReference claims = new PointerByReference();
        PointerByReference error = new PointerByReference();
        int status;
        if (mark != null) {
            LongByReference cell = new LongByReference(mark.get());
            status = LIB.koolicense_verify_guarded(handle.pointer(), text, NativeLibrary.len(text), at, wanted,
                    NativeLibrary.len(wanted), host.handle.pointer(), cell, claims, error);
            mark.observe(cell.getValue());
        } else if (host != null) {
            status = LIB.koolicense_verify_on(handle.pointer(), text, NativeLibrary.len(text), at, wanted,
                    NativeLibrary.len(wanted), host.handle.pointer(), claims, error);
        } else {
            status = LIB.koolicense_verify(handle.pointer(), text, NativeLibrary.len(text), at, wanted,
                    NativeLibrary.len(wanted), claims, error);
        }
        NativeLibrary.check(status, error);
        try {
            String json = NativeLibrary.owned((out, len, err) -> LIB.koolicense_claims_to_json(claims.getValue(), out, len, err));
            @SuppressWarnings("unchecked")
            Map<String, Object> fields = (Map<String, Object>) Json.parse(json);
            return new Claims(fields, claims.getValue());
        } catch (RuntimeException | LicenseException e) {
            LIB.koolicense_claims_free(claims.getValue());
            throw e;
        }
    }

    /**
     * Verifies a signed revocation list at {@code now} (null: the system clock) that is newer
     * than {@code lastAccepted} (the stamp returned last time, persisted; null for none) and
     * younger than the maximum age, and checks the claims of a license this verifier verified
     * against it. Returns the list's stamp. Fails with kind {@code Revoked}, {@code Stale},
     * {@code ListTooOld}, ...
     */
    public ListStamp checkRevocation(String revocationList, Claims claims, Long now, ListStamp lastAccepted)
            throws LicenseException {
        byte[] list = NativeLibrary.utf8(revocationList);
        NativeLibrary.ListStampStruct previous = stampStruct(lastAccepted);
        NativeLibrary.ListStampStruct stamp = new NativeLibrary.ListStampStruct();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LIB.koolicense_check_revocation(handle.pointer(), list, NativeLibrary.len(list), when(now),
                previous, claims.handle.pointer(), stamp, error), error);
        return new ListStamp(stamp.sequence, stamp.issued_at);
    }

    /**
     * {@link #checkRevocation} guarded against a clock set back: fails with kind
     * {@code ClockBehind} when the clock is behind {@code mark} by more than the leeway;
     * otherwise raises {@code mark} to now and, for an authentic list newer than
     * {@code lastAccepted}, to the list's signing time (also when it revokes the license). Store
     * the mark when it moved, whatever the verdict.
     */
    public ListStamp checkRevocationGuarded(String revocationList, Claims claims, ClockMark mark, Long now,
            ListStamp lastAccepted) throws LicenseException {
        byte[] list = NativeLibrary.utf8(revocationList);
        NativeLibrary.ListStampStruct previous = stampStruct(lastAccepted);
        NativeLibrary.ListStampStruct stamp = new NativeLibrary.ListStampStruct();
        LongByReference cell = new LongByReference(mark.get());
        PointerByReference error = new PointerByReference();
        int status = LIB.koolicense_check_revocation_guarded(handle.pointer(), list, NativeLibrary.len(list),
                when(now), previous, claims.handle.pointer(), cell, stamp, error);
        mark.observe(cell.getValue());
        NativeLibrary.check(status, error);
        return new ListStamp(stamp.sequence, stamp.issued_at);
    }

    /**
     * Verifies a signed revocation list at {@code now} (null: the system clock), newer than
     * {@code lastAccepted} and younger than the maximum age, to check licenses against and to
     * read. Fails with kind {@code Stale}, {@code ListTooOld}, ...
     */
    public RevocationList verifyRevocationList(String revocationList, Long now, ListStamp lastAccepted)
            throws LicenseException {
        byte[] list = NativeLibrary.utf8(revocationList);
        PointerByReference out = new PointerByReference();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LIB.koolicense_verify_revocation_list(handle.pointer(), list, NativeLibrary.len(list),
                when(now), stampStruct(lastAccepted), out, error), error);
        return new RevocationList(out.getValue());
    }

    private static NativeLibrary.ListStampStruct stampStruct(ListStamp stamp) {
        if (stamp == null) {
            return null;
        }
        NativeLibrary.ListStampStruct struct = new NativeLibrary.ListStampStruct();
        struct.sequence = stamp.sequence();
        struct.issued_at = stamp.issuedAt();
        return struct;
    }

    /**
     * {@link #verifyStatus} for a program that keeps the license id and revision of its token
     * rather than verified claims.
     */
    public StatusAnswer verifyStatusForLicense(String answer, String licenseId, long revision, String nonce)
            throws LicenseException {
        byte[] text = NativeLibrary.utf8(answer);
        byte[] sent = NativeLibrary.utf8(nonce);
        byte[] id = NativeLibrary.utf8(licenseId);
        NativeLibrary.StatusAnswerStruct out = new NativeLibrary.StatusAnswerStruct();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LIB.koolicense_verify_status_for_license(handle.pointer(), text, NativeLibrary.len(text), sent,
                NativeLibrary.len(sent), id, NativeLibrary.len(id), (int) revision, out, error), error);
        return StatusAnswer.of(out);
    }

    /**
     * Verifies a signed status answer about the token whose verified claims are given:
     * signature, that it echoes {@code nonce} (the fresh random value this program sent; kind
     * {@code NonceMismatch}), that it is about this license and revision ({@code StatusMismatch})
     * and that the token is not below its revocation floor ({@code Revoked}).
     */
    public StatusAnswer verifyStatus(String answer, Claims claims, String nonce) throws LicenseException {
        byte[] text = NativeLibrary.utf8(answer);
        byte[] sent = NativeLibrary.utf8(nonce);
        NativeLibrary.StatusAnswerStruct out = new NativeLibrary.StatusAnswerStruct();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LIB.koolicense_verify_status(handle.pointer(), text, NativeLibrary.len(text), sent,
                NativeLibrary.len(sent), claims.handle.pointer(), out, error), error);
        return StatusAnswer.of(out);
    }

    /**
     * {@link #verifyStatus} guarded against a clock set back at {@code now} (null: the system
     * clock): fails with kind {@code ClockBehind} when the clock is behind {@code mark} by more
     * than the leeway; otherwise raises {@code mark} to now and, for a verified answer, to its
     * server time. Store the mark when it moved.
     */
    public StatusAnswer verifyStatusGuarded(String answer, Claims claims, String nonce, ClockMark mark, Long now)
            throws LicenseException {
        byte[] text = NativeLibrary.utf8(answer);
        byte[] sent = NativeLibrary.utf8(nonce);
        NativeLibrary.StatusAnswerStruct out = new NativeLibrary.StatusAnswerStruct();
        LongByReference cell = new LongByReference(mark.get());
        PointerByReference error = new PointerByReference();
        int status = LIB.koolicense_verify_status_guarded(handle.pointer(), text, NativeLibrary.len(text), sent,
                NativeLibrary.len(sent), claims.handle.pointer(), when(now), cell, out, error);
        mark.observe(cell.getValue());
        NativeLibrary.check(status, error);
        return StatusAnswer.of(out);
    }

    /** The version of the native verifier. */
    public static String nativeVersion() {
        return LIB.koolicense_version();
    }

    @Override
    public void close() {
        handle.close();
    }
}

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
 * <p>Thread-safe: any number of threads may verify with one verifier at once. {@link #close()}
 * (or garbage collection) frees the native verifier; closing must not race with other uses.
 */
public final class Verifier implements AutoCloseable {
    /** Clock tolerance applied unless told otherwise, in seconds. */
    public static final long DEFAULT_LEEWAY_SECS = 300;

    private final NativeHandle handle;

    /** A verifier trusting the keys in {@code publicKeysPem} (one or more PEM blocks). */
    public Verifier(String publicKeysPem) throws LicenseException {
        this(publicKeysPem, DEFAULT_LEEWAY_SECS);
    }

    /** A verifier trusting these keys with {@code leewaySecs} of clock tolerance. */
    public Verifier(String publicKeysPem, long leewaySecs) throws LicenseException {
        if (leewaySecs < 0) {
            throw new IllegalArgumentException("leewaySecs must not be negative");
        }
        byte[] pem = NativeLibrary.utf8(publicKeysPem);
        PointerByReference out = new PointerByReference();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LIB.koolicense_verifier_new(pem, NativeLibrary.len(pem), leewaySecs, out, error), error);
        this.handle = new NativeHandle(this, out.getValue(), LIB::koolicense_verifier_free);
    }

    /** {@link #verify(String, Long, String)} now, for any product. */
    public Claims verify(String token) throws LicenseException {
        return verify(token, null, null);
    }

    /**
     * Verifies a license (one-line {@code kl1.…} or armoured) at {@code now} (Unix seconds; the
     * system clock when null): signature, format, validity window and, when {@code product} is
     * not null, that the license's product id or sku code equals it. The machine binding is
     * <em>not</em> checked: use {@link #verifyOn}.
     */
    public Claims verify(String token, Long now, String product) throws LicenseException {
        return run(token, null, now, product);
    }

    /** {@link #verifyOn(String, Host, Long, String)} now, for any product. */
    public Claims verifyOn(String token, Host host) throws LicenseException {
        return verifyOn(token, host, null, null);
    }

    /** Verifies a license as {@link #verify} does, then checks its machine binding against {@code host}. */
    public Claims verifyOn(String token, Host host, Long now, String product) throws LicenseException {
        if (host == null) {
            throw new IllegalArgumentException("host is null");
        }
        return run(token, host, now, product);
    }

    private Claims run(String token, Host host, Long now, String product) throws LicenseException {
        if (now != null && now < 0) {
            throw new IllegalArgumentException("now must be Unix seconds");
        }
        byte[] text = NativeLibrary.utf8(token == null ? "" : token);
        byte[] wanted = NativeLibrary.utf8(product);
        long when = now == null ? NativeLibrary.NOW : now;
        PointerByReference claims = new PointerByReference();
        PointerByReference error = new PointerByReference();
        int status = host == null
                ? LIB.koolicense_verify(handle.pointer(), text, NativeLibrary.len(text), when, wanted,
                        NativeLibrary.len(wanted), claims, error)
                : LIB.koolicense_verify_on(handle.pointer(), text, NativeLibrary.len(text), when, wanted,
                        NativeLibrary.len(wanted), host.handle.pointer(), claims, error);
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
     * Verifies a signed revocation list newer than {@code lastAccepted} (the sequence returned
     * last time, persisted; null for none) and checks the claims of a license this verifier
     * verified against it. Returns the list's sequence. Fails with kind {@code Revoked},
     * {@code Stale}, ...
     */
    public long checkRevocation(String revocationList, Claims claims, Long lastAccepted) throws LicenseException {
        byte[] list = NativeLibrary.utf8(revocationList);
        LongByReference previous = lastAccepted == null ? null : new LongByReference(lastAccepted);
        LongByReference sequence = new LongByReference();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LIB.koolicense_check_revocation(handle.pointer(), list, NativeLibrary.len(list), previous,
                claims.handle.pointer(), sequence, error), error);
        return sequence.getValue();
    }

    /**
     * Verifies a signed status answer about the license whose verified claims are given:
     * signature, that it echoes {@code nonce} (the fresh random value this program sent) and
     * that it concerns this license.
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

    /** The version of the native verifier. */
    public static String nativeVersion() {
        return LIB.koolicense_version();
    }

    @Override
    public void close() {
        handle.close();
    }
}

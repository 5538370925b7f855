package koolicense.verify;

import static koolicense.verify.LeaseLibrary.LEASES;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/**
 * A request for a license for this machine, for a machine that never reaches the service:
 * {@link #create} (for an authorization code) or {@link #forLicense} (for a license of the
 * purchase) writes one with a fresh nonce; carry {@link #text()} to the merchant and keep
 * it until the response arrives (the response answers this request only); {@link #parse} reads
 * a kept text back. Immutable; {@link #close()} (or garbage collection) frees it.
 */
public final class ActivationRequest implements AutoCloseable {
    final NativeHandle handle;
    private final String text;

    private ActivationRequest(Pointer pointer) {
        this.handle = new NativeHandle(this, pointer, LEASES::koolicense_activation_request_free);
        this.text = LeaseLibrary.lent(LEASES::koolicense_activation_request_text, pointer);
    }

    /**
     * A request for the License 2.0 authorization {@code code} on {@code machine} (this machine's
     * hardware identifier, or the system identifier, as the product binds). Fails with kind
     * {@code Malformed} for an empty code or machine identifier.
     */
    public static ActivationRequest create(String code, String machine) throws LicenseException {
        byte[] c = NativeLibrary.utf8(code == null ? "" : code);
        byte[] m = NativeLibrary.utf8(machine == null ? "" : machine);
        PointerByReference out = new PointerByReference();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LEASES.koolicense_activation_request_new(c, NativeLibrary.len(c), m, NativeLibrary.len(m),
                out, error), error);
        return new ActivationRequest(out.getValue());
    }

    /**
     * A request for a seat of the purchase {@code license} belongs to (either text form; for an
     * online-license order, a license the marketplace delivered for it) on {@code machine}. Its
     * text is a version 2 request, which verifiers before this method existed refuse (kind
     * {@code UnsupportedVersion}). Fails with kind {@code Malformed} when {@code license} is not a
     * license or the machine identifier is empty.
     */
    public static ActivationRequest forLicense(String license, String machine) throws LicenseException {
        byte[] l = NativeLibrary.utf8(license == null ? "" : license);
        byte[] m = NativeLibrary.utf8(machine == null ? "" : machine);
        PointerByReference out = new PointerByReference();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LEASES.koolicense_activation_request_for_license(l, NativeLibrary.len(l), m,
                NativeLibrary.len(m), out, error), error);
        return new ActivationRequest(out.getValue());
    }

    /** Reads a request's text (armoured or one-line); a mistyped character is kind {@code Encoding}. */
    public static ActivationRequest parse(String text) throws LicenseException {
        byte[] t = NativeLibrary.utf8(text == null ? "" : text);
        PointerByReference out = new PointerByReference();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LEASES.koolicense_activation_request_parse(t, NativeLibrary.len(t), out, error), error);
        return new ActivationRequest(out.getValue());
    }

    /** The armoured text block to carry to the merchant. */
    public String text() {
        return text;
    }

    @Override
    public void close() {
        handle.close();
    }

    @Override
    public String toString() {
        return text;
    }
}

package koolicense.verify;

/**
 * A license (or a revocation list, status answer, key or host) was not accepted.
 *
 * <p>{@link #kind()} is the verifier's error name as recorded in the known-answer vectors
 * ({@code Expired}, {@code HardwareMismatch}, {@code BadSignature}, ...), or
 * {@code InvalidArgument}, {@code InvalidPublicKey}, {@code InvalidHardwareIdentifier},
 * {@code MachineUnreadable}; {@link #status()} is the {@code KOOLICENSE_STATUS_*} number.
 */
public final class LicenseException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String kind;

    LicenseException(int status, String kind, String message) {
        super(message);
        this.status = status;
        this.kind = kind;
    }

    /** The error's name, e.g. {@code "Expired"}. */
    public String kind() {
        return kind;
    }

    /** The C ABI's status number. */
    public int status() {
        return status;
    }

    @Override
    public String toString() {
        return "LicenseException[" + kind + "]: " + getMessage();
    }
}

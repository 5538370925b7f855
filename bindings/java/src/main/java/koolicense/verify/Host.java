package koolicense.verify;

import static koolicense.verify.NativeLibrary.LIB;

import com.sun.jna.ptr.PointerByReference;

/**
 * A machine to check a license's binding against: its KooMarket hardware identifier
 * ({@code MAC|disk|board|CPU}) and/or the system identifier the customer entered; null means
 * unknown. Immutable and thread-safe; {@link #close()} must not race with other uses.
 */
public final class Host implements AutoCloseable {
    private final String hardwareIdentifier;
    private final String systemIdentifier;
    final NativeHandle handle;

    /** A host; fails with kind {@code InvalidHardwareIdentifier} for a malformed identifier. */
    public Host(String hardwareIdentifier, String systemIdentifier) throws LicenseException {
        this.hardwareIdentifier = hardwareIdentifier;
        this.systemIdentifier = systemIdentifier;
        byte[] hardware = NativeLibrary.utf8(hardwareIdentifier);
        byte[] system = NativeLibrary.utf8(systemIdentifier);
        PointerByReference out = new PointerByReference();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LIB.koolicense_host_new(hardware, NativeLibrary.len(hardware), system,
                NativeLibrary.len(system), out, error), error);
        this.handle = new NativeHandle(this, out.getValue(), LIB::koolicense_host_free);
    }

    /**
     * This machine: its hardware identifier read from the operating system, and the system
     * identifier the customer entered (or null). Fails with kind {@code MachineUnreadable}.
     */
    public static Host thisMachine(String systemIdentifier) throws LicenseException {
        String identifier = NativeLibrary.owned((out, len, error) -> LIB.koolicense_this_machine(out, len, error));
        return new Host(identifier, systemIdentifier);
    }

    /** This machine, without a system identifier. */
    public static Host thisMachine() throws LicenseException {
        return thisMachine(null);
    }

    /** The hardware identifier, or null. */
    public String hardwareIdentifier() {
        return hardwareIdentifier;
    }

    /** The system identifier, or null. */
    public String systemIdentifier() {
        return systemIdentifier;
    }

    @Override
    public void close() {
        handle.close();
    }

    @Override
    public String toString() {
        return "Host[hardwareIdentifier=" + hardwareIdentifier + ", systemIdentifier=" + systemIdentifier + "]";
    }
}

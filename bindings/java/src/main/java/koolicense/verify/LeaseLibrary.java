package koolicense.verify;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/**
 * The lease and offline activation functions of {@code koolicense.h} through JNA, loaded from
 * the same library as {@link NativeLibrary} (the header check covers both).
 */
interface LeaseLibrary extends Library {
    LeaseLibrary LEASES = Native.load(
            System.getProperty("koolicense.library", System.getenv().getOrDefault("KOOLICENSE_VERIFY_LIB",
                    "koolicense_verify_ffi")),
            LeaseLibrary.class);

    int koolicense_verify_lease(Pointer verifier, byte[] lease, NativeLibrary.SizeT leaseLen, long now, byte[] product,
            NativeLibrary.SizeT productLen, Pointer host, PointerByReference leaseOut, PointerByReference error);

    int koolicense_lease_to_json(Pointer lease, PointerByReference out, Pointer lenOut, PointerByReference error);

    void koolicense_lease_free(Pointer lease);

    int koolicense_activation_request_new(byte[] code, NativeLibrary.SizeT codeLen, byte[] machine,
            NativeLibrary.SizeT machineLen, PointerByReference requestOut, PointerByReference error);

    int koolicense_activation_request_for_license(byte[] license, NativeLibrary.SizeT licenseLen, byte[] machine,
            NativeLibrary.SizeT machineLen, PointerByReference requestOut, PointerByReference error);

    int koolicense_activation_request_parse(byte[] text, NativeLibrary.SizeT textLen, PointerByReference requestOut,
            PointerByReference error);

    Pointer koolicense_activation_request_text(Pointer request, Pointer lenOut);

    void koolicense_activation_request_free(Pointer request);

    int koolicense_read_activation_response(Pointer verifier, byte[] response, NativeLibrary.SizeT responseLen,
            Pointer request, long now, Pointer host, PointerByReference activationOut, PointerByReference error);

    Pointer koolicense_activation_license(Pointer activation, Pointer lenOut);

    Pointer koolicense_activation_deactivation_proof(Pointer activation, Pointer lenOut);

    void koolicense_activation_free(Pointer activation);

    /** Text a handle lends through {@code function(handle, lenOut)}. */
    static String lent(java.util.function.BiFunction<Pointer, Pointer, Pointer> function, Pointer handle) {
        com.sun.jna.Memory len = NativeLibrary.sizeCell();
        Pointer text = function.apply(handle, len);
        return NativeLibrary.text(text, NativeLibrary.size(len));
    }
}

package koolicense.verify;

import com.sun.jna.IntegerType;
import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.nio.charset.StandardCharsets;

/**
 * The C ABI of the verifier ({@code verify-ffi/include/koolicense.h}) through JNA.
 *
 * <p>Loads {@code koolicense_verify_ffi} from {@code jna.library.path} (or the system's library
 * path), or the file named by the system property {@code koolicense.library} or the environment
 * variable {@code KOOLICENSE_VERIFY_LIB}.
 */
interface NativeLibrary extends Library {
    /** KOOLICENSE_NOW: the system clock. */
    long NOW = -1L;
    /** KOOLICENSE_STATUS_OK. */
    int OK = 0;
    /** KOOLICENSE_ALLOW_TEST_LICENSES. */
    int ALLOW_TEST_LICENSES = 1;

    NativeLibrary LIB = load();

    private static NativeLibrary load() {
        String path = System.getProperty("koolicense.library", System.getenv("KOOLICENSE_VERIFY_LIB"));
        return Native.load(path != null ? path : "koolicense_verify_ffi", NativeLibrary.class);
    }

    /** size_t. */
    final class SizeT extends IntegerType {
        private static final long serialVersionUID = 1L;

        public SizeT() {
            this(0);
        }

        public SizeT(long value) {
            super(Native.SIZE_T_SIZE, value, true);
        }
    }

    /** KoolicenseStatusAnswer. */
    @Structure.FieldOrder({"state", "revision", "current_revision", "revoked_below", "server_time", "expires_at"})
    final class StatusAnswerStruct extends Structure {
        public int state;
        public int revision;
        public int current_revision;
        public int revoked_below;
        public long server_time;
        public long expires_at;
    }

    /** KoolicenseListStamp. */
    @Structure.FieldOrder({"sequence", "issued_at"})
    class ListStampStruct extends Structure {
        public long sequence;
        public long issued_at;
    }

    /** KoolicenseListStamp returned by value. */
    final class ListStampValue extends ListStampStruct implements Structure.ByValue {}

    /** KoolicenseRevocationEntry. */
    @Structure.FieldOrder({"license_id", "revoked_below", "status"})
    final class RevocationEntryStruct extends Structure {
        public byte[] license_id = new byte[16];
        public int revoked_below;
        public int status;
    }

    String koolicense_version();

    int koolicense_error_status(Pointer error);

    Pointer koolicense_error_kind(Pointer error, Pointer lenOut);

    Pointer koolicense_error_message(Pointer error, Pointer lenOut);

    void koolicense_error_free(Pointer error);

    void koolicense_string_free(Pointer text);

    int koolicense_verifier_new_with(byte[] pem, SizeT pemLen, long leewaySecs, long maxListAgeSecs, int flags,
            PointerByReference out, PointerByReference error);

    void koolicense_verifier_free(Pointer verifier);

    int koolicense_verify(Pointer verifier, byte[] token, SizeT tokenLen, long now, byte[] product, SizeT productLen,
            PointerByReference claimsOut, PointerByReference error);

    int koolicense_verify_on(Pointer verifier, byte[] token, SizeT tokenLen, long now, byte[] product, SizeT productLen,
            Pointer host, PointerByReference claimsOut, PointerByReference error);

    int koolicense_verify_guarded(Pointer verifier, byte[] token, SizeT tokenLen, long now, byte[] product,
            SizeT productLen, Pointer host, LongByReference mark, PointerByReference claimsOut, PointerByReference error);

    int koolicense_check_clock(Pointer verifier, long now, long mark, PointerByReference error);

    int koolicense_mark_load(byte[] path, SizeT pathLen, LongByReference markOut, PointerByReference error);

    int koolicense_mark_store(byte[] path, SizeT pathLen, long mark, PointerByReference error);

    int koolicense_host_new(byte[] hardware, SizeT hardwareLen, byte[] system, SizeT systemLen, PointerByReference out,
            PointerByReference error);

    void koolicense_host_free(Pointer host);

    int koolicense_this_machine(PointerByReference out, Pointer lenOut, PointerByReference error);

    int koolicense_claims_to_json(Pointer claims, PointerByReference out, Pointer lenOut, PointerByReference error);

    void koolicense_claims_free(Pointer claims);

    int koolicense_check_revocation(Pointer verifier, byte[] list, SizeT listLen, long now, ListStampStruct lastAccepted,
            Pointer claims, ListStampStruct stampOut, PointerByReference error);

    int koolicense_verify_status_for_license(Pointer verifier, byte[] answer, SizeT answerLen, byte[] nonce,
            SizeT nonceLen, byte[] licenseId, SizeT licenseIdLen, int revision, StatusAnswerStruct answerOut,
            PointerByReference error);

    int koolicense_verify_revocation_list(Pointer verifier, byte[] list, SizeT listLen, long now,
            ListStampStruct lastAccepted, PointerByReference listOut, PointerByReference error);

    int koolicense_revocation_list_check(Pointer list, Pointer claims, PointerByReference error);

    int koolicense_revocation_list_check_license(Pointer list, byte[] licenseId, SizeT licenseIdLen, int revision,
            PointerByReference error);

    ListStampValue koolicense_revocation_list_stamp(Pointer list);

    SizeT koolicense_revocation_list_len(Pointer list);

    /** C {@code bool} is one byte; JNA's {@code boolean} would read four. */
    byte koolicense_revocation_list_entry(Pointer list, SizeT index, RevocationEntryStruct entryOut);

    void koolicense_revocation_list_free(Pointer list);

    int koolicense_verify_status(Pointer verifier, byte[] answer, SizeT answerLen, byte[] nonce, SizeT nonceLen,
            Pointer claims, StatusAnswerStruct answerOut, PointerByReference error);

    int koolicense_check_revocation_guarded(Pointer verifier, byte[] list, SizeT listLen, long now,
            ListStampStruct lastAccepted, Pointer claims, LongByReference mark, ListStampStruct stampOut,
            PointerByReference error);

    int koolicense_verify_status_guarded(Pointer verifier, byte[] answer, SizeT answerLen, byte[] nonce,
            SizeT nonceLen, Pointer claims, long now, LongByReference mark, StatusAnswerStruct answerOut,
            PointerByReference error);

    /** UTF-8 bytes of an argument, or null. */
    static byte[] utf8(String text) {
        return text == null ? null : text.getBytes(StandardCharsets.UTF_8);
    }

    /** The length of an argument's bytes. */
    static SizeT len(byte[] bytes) {
        return new SizeT(bytes == null ? 0 : bytes.length);
    }

    /** A size_t output cell. */
    static Memory sizeCell() {
        Memory cell = new Memory(Native.SIZE_T_SIZE);
        cell.clear();
        return cell;
    }

    /** Reads a size_t output cell. */
    static long size(Memory cell) {
        return Native.SIZE_T_SIZE == 8 ? cell.getLong(0) : cell.getInt(0) & 0xffffffffL;
    }

    /** Text of a given length at a pointer, or null. */
    static String text(Pointer pointer, long length) {
        return pointer == null ? null : new String(pointer.getByteArray(0, (int) length), StandardCharsets.UTF_8);
    }

    /** Throws the failure of a call that returned {@code status}, freeing the error handle. */
    static void check(int status, PointerByReference error) throws LicenseException {
        if (status == OK) {
            return;
        }
        Pointer handle = error.getValue();
        try {
            Memory len = sizeCell();
            String kind = text(LIB.koolicense_error_kind(handle, len), size(len));
            String message = text(LIB.koolicense_error_message(handle, len), size(len));
            throw new LicenseException(status, kind != null ? kind : "Internal", message != null ? message : "");
        } finally {
            LIB.koolicense_error_free(handle);
        }
    }

    /** Runs a call that hands over an owned string, and returns it. */
    static String owned(OwnedStringCall call) throws LicenseException {
        PointerByReference out = new PointerByReference();
        PointerByReference error = new PointerByReference();
        Memory len = sizeCell();
        check(call.run(out, len, error), error);
        try {
            return text(out.getValue(), size(len));
        } finally {
            LIB.koolicense_string_free(out.getValue());
        }
    }

    /** A call with a string output. */
    interface OwnedStringCall {
        int run(PointerByReference out, Pointer lenOut, PointerByReference error);
    }

}

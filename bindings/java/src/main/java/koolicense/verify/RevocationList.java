package koolicense.verify;

import static koolicense.verify.NativeLibrary.LIB;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * A verified revocation list ({@link Verifier#verifyRevocationList}): check licenses against it
 * and read its entries. Immutable and thread-safe; {@link #close()} (or garbage collection)
 * frees it, and must not race with other uses.
 */
public final class RevocationList implements AutoCloseable {
    private static final String[] STATUS = {"superseded", "suspended", "revoked", "released"};

    /** One listed license: {@code status} is superseded (tokens below {@code revokedBelow} are revoked), suspended, revoked or released. */
    public record Entry(String licenseId, long revokedBelow, String status) {}

    private final NativeHandle handle;
    private final ListStamp stamp;

    RevocationList(Pointer pointer) {
        this.handle = new NativeHandle(this, pointer, LIB::koolicense_revocation_list_free);
        NativeLibrary.ListStampValue value = LIB.koolicense_revocation_list_stamp(pointer);
        this.stamp = new ListStamp(value.sequence, value.issued_at);
    }

    /** The list's stamp: persist it as the last accepted one. */
    public ListStamp stamp() {
        return stamp;
    }

    /** How many licenses the list names. */
    public long size() {
        return LIB.koolicense_revocation_list_len(handle.pointer()).longValue();
    }

    /** The listed licenses, sorted by id. */
    public List<Entry> entries() {
        List<Entry> entries = new ArrayList<>();
        NativeLibrary.RevocationEntryStruct entry = new NativeLibrary.RevocationEntryStruct();
        while (LIB.koolicense_revocation_list_entry(handle.pointer(), new NativeLibrary.SizeT(entries.size()), entry) != 0) {
            ByteBuffer id = ByteBuffer.wrap(entry.license_id);
            String status = entry.status >= 0 && entry.status < STATUS.length ? STATUS[entry.status] : "other";
            entries.add(new Entry(new UUID(id.getLong(), id.getLong()).toString(), entry.revoked_below & 0xffffffffL, status));
        }
        return entries;
    }

    /** Fails with kind {@code Revoked} when the list revokes the token whose verified claims are given. */
    public void check(Claims claims) throws LicenseException {
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LIB.koolicense_revocation_list_check(handle.pointer(), claims.handle.pointer(), error), error);
    }

    /** Fails with kind {@code Revoked} when the list revokes this token of the license. */
    public void checkLicense(String licenseId, long revision) throws LicenseException {
        byte[] id = NativeLibrary.utf8(licenseId);
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LIB.koolicense_revocation_list_check_license(handle.pointer(), id, NativeLibrary.len(id),
                (int) revision, error), error);
    }

    @Override
    public void close() {
        handle.close();
    }

    @Override
    public String toString() {
        return "RevocationList[" + stamp + "]";
    }
}

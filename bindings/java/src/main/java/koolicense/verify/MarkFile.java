package koolicense.verify;

import static koolicense.verify.NativeLibrary.LIB;

import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.nio.file.Path;

/**
 * A file holding a {@link ClockMark}, replaced atomically on {@link #store}. A missing file is a
 * mark of 0; a file that does not hold a number fails with kind {@code Io} (the mark is never
 * reset silently).
 */
public final class MarkFile {
    private final Path path;

    public MarkFile(Path path) {
        this.path = path;
    }

    public Path path() {
        return path;
    }

    /** Reads the mark. */
    public ClockMark load() throws LicenseException {
        byte[] name = NativeLibrary.utf8(path.toString());
        LongByReference mark = new LongByReference();
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LIB.koolicense_mark_load(name, NativeLibrary.len(name), mark, error), error);
        return new ClockMark(mark.getValue());
    }

    /** Writes the mark atomically. */
    public void store(ClockMark mark) throws LicenseException {
        byte[] name = NativeLibrary.utf8(path.toString());
        PointerByReference error = new PointerByReference();
        NativeLibrary.check(LIB.koolicense_mark_store(name, NativeLibrary.len(name), mark.get(), error), error);
    }

    @Override
    public String toString() {
        return "MarkFile[" + path + "]";
    }
}

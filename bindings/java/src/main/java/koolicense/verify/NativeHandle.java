package koolicense.verify;

import com.sun.jna.Pointer;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * A handle of the native library, freed by {@link #close()} or, at the latest, once its owner
 * is unreachable. Closing must not race with other uses of the owner.
 */
final class NativeHandle {
    private static final Cleaner CLEANER = Cleaner.create();

    private final Pointer pointer;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Cleaner.Cleanable cleanable;

    NativeHandle(Object owner, Pointer pointer, Consumer<Pointer> free) {
        this.pointer = pointer;
        this.cleanable = CLEANER.register(owner, () -> free.accept(pointer));
    }

    Pointer pointer() {
        if (closed.get()) {
            throw new IllegalStateException("used after close()");
        }
        return pointer;
    }

    void close() {
        if (closed.compareAndSet(false, true)) {
            cleanable.clean();
        }
    }
}

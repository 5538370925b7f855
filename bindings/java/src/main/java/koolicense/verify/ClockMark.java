package koolicense.verify;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The clock's high-water mark: the latest trusted time this program has seen (Unix seconds), so
 * that a clock set back to keep an expired license alive is refused with kind
 * {@code ClockBehind}. {@link Verifier#verifyGuarded} raises it with every run,
 * {@link Verifier#checkRevocationGuarded} and {@link Verifier#verifyStatusGuarded} with the
 * issuer's signed times too (or raise it with {@link #observe}). Keep it with {@link MarkFile}. Thread-safe; it only ever rises.
 */
public final class ClockMark {
    private final AtomicLong latest;

    /** A mark at {@code latestSeen} (0 for a program that has seen nothing yet). */
    public ClockMark(long latestSeen) {
        this.latest = new AtomicLong(latestSeen);
    }

    /** The latest time seen. */
    public long get() {
        return latest.get();
    }

    /** Raises the mark to {@code time} if that is later; returns whether it moved. */
    public boolean observe(long time) {
        return time > latest.getAndAccumulate(time, Math::max);
    }

    @Override
    public String toString() {
        return "ClockMark[" + get() + "]";
    }
}

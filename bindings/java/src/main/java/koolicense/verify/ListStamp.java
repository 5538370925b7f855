package koolicense.verify;

/**
 * Which revocation list a program accepted: persist it and pass it as {@code lastAccepted}
 * next time. Raise the {@link ClockMark} with {@code issuedAt}.
 */
public record ListStamp(long sequence, long issuedAt) {}

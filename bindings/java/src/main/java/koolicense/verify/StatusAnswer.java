package koolicense.verify;

/**
 * A verified online status answer: the issuer's word on one token right now. {@code state} is
 * {@code valid}, {@code suspended}, {@code revoked}, {@code expired}, {@code frozen},
 * {@code released}, {@code unknown} (or {@code other} for a state newer than this library);
 * {@code expiresAt} is null for a perpetual license. Raise the {@link ClockMark} with
 * {@code serverTime}.
 */
public record StatusAnswer(String state, long revision, long currentRevision, long revokedBelow, long serverTime,
        Long expiresAt) {
    private static final String[] STATES = {"valid", "suspended", "revoked", "expired", "frozen", "released", "unknown"};

    static StatusAnswer of(NativeLibrary.StatusAnswerStruct answer) {
        String state = answer.state >= 0 && answer.state < STATES.length ? STATES[answer.state] : "other";
        return new StatusAnswer(state, answer.revision & 0xffffffffL, answer.current_revision & 0xffffffffL,
                answer.revoked_below & 0xffffffffL, answer.server_time, answer.expires_at == 0 ? null : answer.expires_at);
    }
}

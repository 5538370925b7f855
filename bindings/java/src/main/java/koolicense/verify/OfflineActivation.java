package koolicense.verify;

/**
 * A verified offline activation ({@link Verifier#readActivationResponse}): store
 * {@link #license()} and verify it like any license from now on. Once the program has deleted
 * its license, {@link #deactivationProof()} is the text block the person carries back to free
 * the seat.
 *
 * @param license the activated license (one-line form)
 * @param claims its verified claims
 * @param deactivationProof the armoured deactivation proof
 */
public record OfflineActivation(String license, Claims claims, String deactivationProof) {
    @Override
    public String toString() {
        return "OfflineActivation[claims=" + claims + "]";
    }
}

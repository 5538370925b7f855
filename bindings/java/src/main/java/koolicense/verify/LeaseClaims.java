package koolicense.verify;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A verified lease of a floating license ({@link Verifier#verifyLease}): which seat
 * ({@link #leaseId()}, stable across heartbeats) of which license, for this machine, until
 * {@link #expiresAt()} (Unix seconds: beat again before then). Immutable; the accessor names
 * follow the lease vectors' names.
 */
public final class LeaseClaims {
    private final Map<String, Object> json;

    LeaseClaims(Map<String, Object> json) {
        this.json = Collections.unmodifiableMap(new LinkedHashMap<>(json));
    }

    /** The lease id, hyphenated. */
    public String leaseId() {
        return (String) json.get("lease_id");
    }

    /** Borrowed for offline use: no heartbeats until it ends. */
    public boolean borrowed() {
        return Boolean.TRUE.equals(json.get("borrowed"));
    }

    /** When the lease ends (Unix seconds). */
    public long expiresAt() {
        return (Long) json.get("expires_at");
    }

    /** The floating license's id, hyphenated. */
    public String licenseId() {
        return (String) json.get("license_id");
    }

    /** The floating license's token revision. */
    public long revision() {
        return (Long) json.get("revision");
    }

    /** The KooMarket product id. */
    public String productId() {
        return (String) json.get("product_id");
    }

    /** The license's seat count, or null. */
    public Long quantity() {
        return json.get("quantity") instanceof Long n ? n : null;
    }

    /** The feature entitlements. */
    @SuppressWarnings("unchecked")
    public List<String> features() {
        return Collections.unmodifiableList((List<String>) json.get("features"));
    }

    /** Whether the floating license grants the named feature. */
    public boolean hasFeature(String feature) {
        return features().contains(feature);
    }

    /** The lease as the library's JSON object (the lease id, borrowed and the claims' fields). */
    public Map<String, Object> asMap() {
        return json;
    }

    @Override
    public String toString() {
        return "LeaseClaims[leaseId=" + leaseId() + ", licenseId=" + licenseId() + ", expiresAt=" + expiresAt() + "]";
    }
}

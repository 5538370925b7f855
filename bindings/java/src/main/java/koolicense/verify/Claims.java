package koolicense.verify;

import com.sun.jna.Pointer;
import java.util.List;
import java.util.Map;

/**
 * The signed claims of a verified license. Times are Unix seconds (UTC); absent values are null.
 * Immutable; the accessor names follow the known-answer vectors' claim names.
 */
public final class Claims {
    private final Map<String, Object> json;
    private final Binding binding;
    /** The library's copy, for revocation and status checks. */
    final NativeHandle handle;

    Claims(Map<String, Object> json, Pointer pointer) {
        this.json = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(json));
        this.binding = Binding.fromJson(object("binding"));
        this.handle = new NativeHandle(this, pointer, NativeLibrary.LIB::koolicense_claims_free);
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> object(String key) {
        return (Map<String, Object>) json.get(key);
    }

    private String string(String key) {
        return json.get(key) instanceof String s ? s : null;
    }

    private Long number(String key) {
        return json.get(key) instanceof Long n ? n : null;
    }

    /** The license id, hyphenated. */
    public String licenseId() {
        return string("license_id");
    }

    /** 1 for the first token of a license, one more per reissue. */
    public long revision() {
        return number("revision");
    }

    /** The KooMarket instance id, or null. */
    public String instanceId() {
        return string("instance_id");
    }

    /** The KooMarket order id, or null. */
    public String orderId() {
        return string("order_id");
    }

    /** The KooMarket product id. */
    public String productId() {
        return string("product_id");
    }

    /** The KooMarket specification (sku) code, or null. */
    public String skuCode() {
        return string("sku_code");
    }

    /** The buyer's KooMarket customer id, or null. */
    public String customerId() {
        return string("customer_id");
    }

    /** Whether it is a trial license. */
    public boolean trial() {
        return Boolean.TRUE.equals(json.get("trial"));
    }

    /** Whether it was issued for marketplace test traffic; real use should refuse it. */
    public boolean test() {
        return Boolean.TRUE.equals(json.get("test"));
    }

    /** When the token was signed. */
    public long issuedAt() {
        return number("issued_at");
    }

    /** The license is not valid before this time. */
    public long notBefore() {
        return number("not_before");
    }

    /** The expiry, or null for a perpetual license. */
    public Long expiresAt() {
        return number("expires_at");
    }

    /** The purchased quantity, or null. */
    public Long quantity() {
        return number("quantity");
    }

    /** The feature entitlements, sorted. */
    @SuppressWarnings("unchecked")
    public List<String> features() {
        return List.copyOf((List<String>) json.get("features"));
    }

    /** What the license is bound to. */
    public Binding binding() {
        return binding;
    }

    /** Whether the license never expires. */
    public boolean isPerpetual() {
        return expiresAt() == null;
    }

    /** Whether the license grants the named feature. */
    public boolean hasFeature(String feature) {
        return features().contains(feature);
    }

    /** The claims as the library returned them, with the vectors' field names. */
    public Map<String, Object> asMap() {
        return json;
    }

    @Override
    public String toString() {
        return "Claims" + json;
    }
}

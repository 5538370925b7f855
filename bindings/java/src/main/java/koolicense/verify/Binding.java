package koolicense.verify;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a license is bound to. {@code kind} is {@code "none"} (floating), {@code "system"} (a
 * system identifier, in {@code identifier}), {@code "system_digest"} (its SHA-256, in
 * {@code sha256}) or {@code "hardware"} ({@code minMatch} of the MAC, disk, board and CPU
 * components, as salted hashes; {@code anchor} names the component that must match, when the
 * binding has one). Fields a kind does not have are null.
 */
public record Binding(String kind, String identifier, String sha256, Integer minMatch, String salt,
        List<List<String>> hashes, String anchor) {

    @SuppressWarnings("unchecked")
    static Binding fromJson(Map<String, Object> json) {
        List<List<String>> hashes = null;
        if (json.get("hashes") instanceof List<?> components) {
            hashes = new ArrayList<>();
            for (Object component : components) {
                hashes.add(List.copyOf((List<String>) component));
            }
            hashes = List.copyOf(hashes);
        }
        Object minMatch = json.get("min_match");
        return new Binding((String) json.get("kind"), (String) json.get("identifier"), (String) json.get("sha256"),
                minMatch instanceof Long m ? Integer.valueOf(m.intValue()) : null, (String) json.get("salt"), hashes,
                (String) json.get("anchor"));
    }
}

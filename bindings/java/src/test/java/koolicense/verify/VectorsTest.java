package koolicense.verify;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs every known-answer vector through the Java binding, then the API checks in
 * {@link ApiTest}. Plain {@code java}, no test framework:
 *
 * <pre>java -cp jna.jar:classes:test-classes -Djna.library.path=target/debug koolicense.verify.VectorsTest verify/tests/vectors</pre>
 *
 * runs {@code licenses.json}, the version 1 vectors {@code v1/licenses.json} (as delivered
 * verifiers recorded them: test licenses allowed), {@code revocations.json} and
 * {@code status.json}. Exits non-zero when anything differs from its
 * record.
 */
public final class VectorsTest {
    private VectorsTest() {}

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> load(Path path) throws Exception {
        return (List<Map<String, Object>>) Json.parse(Files.readString(path, StandardCharsets.UTF_8));
    }

    static String text(Map<String, Object> map, String key) {
        return map.get(key) instanceof String s ? s : null;
    }

    /** Runs one case; returns null when it matches its record, else what differed. */
    @SuppressWarnings("unchecked")
    static String run(Map<String, Object> c, boolean allowTest) throws Exception {
        long leeway = c.get("leeway") instanceof Long l ? l : Verifier.DEFAULT_LEEWAY_SECS;
        Verifier.Builder builder = Verifier.builder(text(c, "public_key_pem")).leewaySecs(leeway);
        if (allowTest || Boolean.TRUE.equals(c.get("allow_test"))) {
            builder.allowTestLicenses();
        }
        ClockMark mark = new ClockMark(c.get("mark") instanceof Long m ? m : 0);
        String token = c.containsKey("token") ? text(c, "token") : text(c, "armored");
        long now = (Long) c.get("now");
        Map<String, Object> expect = (Map<String, Object>) c.get("expect");
        try (Verifier verifier = builder.build()) {
            Claims claims;
            try {
                verifier.checkClock(mark, now);
                if (c.get("host") instanceof Map<?, ?> h) {
                    Map<String, Object> host = (Map<String, Object>) h;
                    try (Host on = new Host(text(host, "hardware_identifier"), text(host, "system_identifier"))) {
                        claims = verifier.verifyOn(token, on, now, text(c, "product"));
                    }
                } else {
                    claims = verifier.verify(token, now, text(c, "product"));
                }
            } catch (LicenseException e) {
                if (expect.containsKey("error")) {
                    return e.kind().equals(expect.get("error")) ? null : "got " + e.kind() + ": " + e.getMessage();
                }
                return "refused a license recorded as good: " + e;
            }
            if (!expect.containsKey("ok")) {
                return "accepted a license recorded as bad";
            }
            return compare(claims, (Map<String, Object>) expect.get("ok"));
        }
    }

    /** Every accessor against the recorded claims. */
    @SuppressWarnings("unchecked")
    static String compare(Claims claims, Map<String, Object> want) {
        List<String> differ = new ArrayList<>();
        check(differ, "license_id", claims.licenseId(), want);
        check(differ, "revision", claims.revision(), want);
        check(differ, "instance_id", claims.instanceId(), want);
        check(differ, "order_id", claims.orderId(), want);
        check(differ, "product_id", claims.productId(), want);
        check(differ, "sku_code", claims.skuCode(), want);
        check(differ, "customer_id", claims.customerId(), want);
        check(differ, "trial", claims.trial(), want);
        check(differ, "test", claims.test(), want);
        check(differ, "issued_at", claims.issuedAt(), want);
        check(differ, "not_before", claims.notBefore(), want);
        check(differ, "expires_at", claims.expiresAt(), want);
        check(differ, "quantity", claims.quantity(), want);
        check(differ, "features", claims.features(), want);
        Map<String, Object> binding = (Map<String, Object>) want.get("binding");
        Binding got = claims.binding();
        check(differ, "binding.kind", got.kind(), binding.get("kind"));
        check(differ, "binding.identifier", got.identifier(), binding.get("identifier"));
        check(differ, "binding.sha256", got.sha256(), binding.get("sha256"));
        check(differ, "binding.min_match", got.minMatch() == null ? null : Long.valueOf(got.minMatch()), binding.get("min_match"));
        check(differ, "binding.salt", got.salt(), binding.get("salt"));
        check(differ, "binding.hashes", got.hashes(), binding.get("hashes"));
        check(differ, "binding.anchor", got.anchor(), binding.get("anchor"));
        if (!claims.asMap().keySet().equals(want.keySet())) {
            differ.add("fields " + claims.asMap().keySet());
        }
        return differ.isEmpty() ? null : "claims differ in " + differ;
    }

    private static void check(List<String> differ, String name, Object got, Map<String, Object> want) {
        check(differ, name, got, want.get(name));
    }

    private static void check(List<String> differ, String name, Object got, Object want) {
        Object expected = want == Json.NULL ? null : want;
        if (got == null ? expected != null : !got.equals(expected)) {
            differ.add(name + " (" + got + " vs " + expected + ")");
        }
    }

    private static int runFile(Path path, boolean allowTest) throws Exception {
        List<Map<String, Object>> cases = load(path);
        int failed = cases.isEmpty() ? 1 : 0;
        for (Map<String, Object> c : cases) {
            String problem = run(c, allowTest);
            if (problem != null) {
                failed++;
                System.out.println("FAIL " + c.get("name") + ": " + problem);
            }
        }
        System.out.printf("koolicense %s: %d of %d known-answer vectors in %s pass through Java%n",
                Verifier.nativeVersion(), cases.size() - failed, cases.size(), path);
        return failed;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: VectorsTest verify/tests/vectors");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        int failed = runFile(dir.resolve("licenses.json"), false);
        failed += runFile(dir.resolve("v1/licenses.json"), true);
        failed += ObjectsTest.run(dir);
        failed += SeatsTest.run(dir);
        failed += ApiTest.runAll(load(dir.resolve("licenses.json")), load(dir.resolve("revocations.json")));
        failed += HeaderTest.run(Path.of(args[0]).resolve("../../../verify-ffi/include/koolicense.h").normalize());
        System.exit(failed == 0 ? 0 : 1);
    }
}

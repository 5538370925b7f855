package koolicense.verify;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The lease and offline activation vectors through the Java binding. Run by {@link VectorsTest}. */
final class SeatsTest {
    private SeatsTest() {}

    private static Host host(Map<String, Object> c) throws LicenseException {
        return new Host((String) c.get("hardware_identifier"), (String) c.get("system_identifier"));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> expected(Map<String, Object> c) {
        return (Map<String, Object>) ((Map<String, Object>) c.get("expect")).get("ok");
    }

    /** What the binding answers for a lease case, in the vectors' form. */
    static Map<String, Object> leaseAnswer(Map<String, Object> c) throws Exception {
        try (Verifier verifier = new Verifier((String) c.get("public_key_pem")); Host host = host(c)) {
            LeaseClaims lease = verifier.verifyLease((String) c.get("lease"), host, (Long) c.get("now"), null);
            Map<String, Object> ok = new LinkedHashMap<>();
            ok.put("lease_id", lease.leaseId());
            ok.put("license_id", lease.licenseId());
            ok.put("revision", lease.revision());
            ok.put("borrowed", lease.borrowed());
            ok.put("product_id", lease.productId());
            ok.put("quantity", lease.quantity());
            ok.put("expires_at", lease.expiresAt());
            if (expected(c) != null && !ok.keySet().equals(expected(c).keySet())) {
                throw new AssertionError("the vector records other fields: " + expected(c).keySet());
            }
            return Map.of("ok", ok);
        } catch (LicenseException e) {
            return Map.of("error", e.kind());
        }
    }

    /** What the binding answers for an activation case, in the vectors' form. */
    static Map<String, Object> activationAnswer(Map<String, Object> c) throws Exception {
        try (Verifier verifier = new Verifier((String) c.get("public_key_pem")); Host host = host(c);
                ActivationRequest request = ActivationRequest.parse((String) c.get("request"))) {
            if (!request.text().equals(c.get("request"))) {
                throw new AssertionError("the request does not read back to its text");
            }
            try {
                OfflineActivation a = verifier.readActivationResponse((String) c.get("response"), request, host,
                        (Long) c.get("now"));
                Map<String, Object> ok = new LinkedHashMap<>();
                ok.put("license", a.license());
                ok.put("license_id", a.claims().licenseId());
                ok.put("revision", a.claims().revision());
                ok.put("product_id", a.claims().productId());
                ok.put("deactivation_proof", a.deactivationProof());
                return Map.of("ok", ok);
            } catch (LicenseException e) {
                return Map.of("error", e.kind());
            }
        }
    }

    private interface Answer {
        Map<String, Object> of(Map<String, Object> c) throws Exception;
    }

    private static int runFile(Path path, Answer answer) throws Exception {
        List<Map<String, Object>> cases = VectorsTest.load(path);
        int failed = cases.isEmpty() ? 1 : 0;
        for (Map<String, Object> c : cases) {
            Map<String, Object> got = answer.of(c);
            if (!got.equals(c.get("expect"))) {
                failed++;
                System.out.println("FAIL " + c.get("name") + ": got " + got + ", recorded " + c.get("expect"));
            }
        }
        System.out.printf("%d of %d vectors in %s pass through Java%n", cases.size() - failed, cases.size(), path);
        return failed;
    }

    private interface Maker {
        ActivationRequest make(String subject, String machine) throws LicenseException;
    }

    /** Two fresh requests differ (their nonces) and each reads back to itself. */
    private static int freshRequestsDiffer(Maker maker, String subject, String what) throws LicenseException {
        try (ActivationRequest a = maker.make(subject, "SYSCODE-FLOAT-0001");
                ActivationRequest b = maker.make(subject, "SYSCODE-FLOAT-0001");
                ActivationRequest back = ActivationRequest.parse(a.text())) {
            if (a.text().equals(b.text()) || !back.text().equals(a.text())) {
                System.out.println("FAIL fresh activation requests for " + what + ": not distinct or not read back");
                return 1;
            }
        }
        return 0;
    }

    /** Fresh requests for a code and for a license of the purchase (the first activated license). */
    private static int freshRequests(Path activations) throws Exception {
        String license = null;
        for (Map<String, Object> c : VectorsTest.load(activations)) {
            if (expected(c) != null) {
                license = (String) expected(c).get("license");
                break;
            }
        }
        if (license == null) {
            System.out.println("FAIL no activated license in " + activations);
            return 1;
        }
        return freshRequestsDiffer(ActivationRequest::create, "PL-CODE-0001", "a code")
                + freshRequestsDiffer(ActivationRequest::forLicense, license, "a license");
    }

    static int run(Path dir) throws Exception {
        return runFile(dir.resolve("leases.json"), SeatsTest::leaseAnswer)
                + runFile(dir.resolve("activations.json"), SeatsTest::activationAnswer)
                + freshRequests(dir.resolve("activations.json"));
    }
}

package koolicense.verify;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/** The Java face of the verifier: arguments, errors, hosts, threads. Run by {@link VectorsTest}. */
final class ApiTest {
    private ApiTest() {}

    private interface Check {
        void run() throws Exception;
    }

    private static Map<String, Object> find(List<Map<String, Object>> cases, String name) {
        return cases.stream().filter(c -> name.equals(c.get("name"))).findFirst().orElseThrow();
    }

    private static void require(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError(what);
        }
    }

    private static LicenseException refused(Check check) throws Exception {
        try {
            check.run();
        } catch (LicenseException e) {
            return e;
        }
        throw new AssertionError("accepted");
    }

    static int runAll(List<Map<String, Object>> cases) throws Exception {
        Map<String, Object> floating = find(cases, "floating perpetual license");
        Map<String, Object> hardware = find(cases, "hardware-bound license on its machine");
        Map<String, Object> otherKey = find(cases, "license signed by another pinned key");
        String pem = (String) floating.get("public_key_pem");
        String token = (String) floating.get("token");
        long now = (Long) floating.get("now");
        Map<String, Check> checks = new java.util.LinkedHashMap<>();

        checks.put("a perpetual license verifies with the system clock", () -> {
            try (Verifier verifier = new Verifier(pem)) {
                Claims claims = verifier.verify(token);
                require(claims.isPerpetual() && !claims.hasFeature("api"), "perpetual, no features");
            }
        });
        checks.put("several pinned keys in one text all count", () -> {
            try (Verifier verifier = new Verifier(pem + otherKey.get("public_key_pem"))) {
                verifier.verify(token, now, null);
                verifier.verify((String) otherKey.get("token"), (Long) otherKey.get("now"), null);
            }
        });
        checks.put("a bad public key is refused with its kind", () -> {
            LicenseException e = refused(() -> new Verifier("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"));
            require(e.kind().equals("InvalidPublicKey"), e.kind());
        });
        checks.put("a malformed hardware identifier is refused when the host is made", () -> {
            LicenseException e = refused(() -> new Host("A|B|C|D|E", null));
            require(e.kind().equals("InvalidHardwareIdentifier"), e.kind());
        });
        checks.put("the binding is checked only by verifyOn", () -> {
            try (Verifier verifier = new Verifier((String) hardware.get("public_key_pem"));
                    Host elsewhere = new Host("AA:BB:CC:DD:EE:01|WD-OTHER|BOARD-2|CPU-2", null)) {
                String bound = (String) hardware.get("token");
                long at = (Long) hardware.get("now");
                require(verifier.verify(bound, at, null).binding().minMatch() == 2, "K is 2");
                LicenseException e = refused(() -> verifier.verifyOn(bound, elsewhere, at, null));
                require(e.kind().equals("HardwareMismatch"), e.kind());
            }
        });
        checks.put("a verifier used after close says so", () -> {
            Verifier verifier = new Verifier(pem);
            verifier.close();
            verifier.close();
            try {
                verifier.verify(token);
                throw new AssertionError("used after close");
            } catch (IllegalStateException expected) {
                // the handle is gone; nothing reached the library
            }
        });
        checks.put("claims from a verified license go to the revocation check", () -> {
            try (Verifier verifier = new Verifier(pem)) {
                Claims claims = verifier.verify(token, now, null);
                LicenseException e = refused(() -> verifier.checkRevocation(token, claims, null));
                require(e.kind().equals("WrongObjectKind"), e.kind());
            }
        });
        checks.put("this machine is a host or says why not", () -> {
            try (Host host = Host.thisMachine("KM-SYS-1")) {
                require(host.hardwareIdentifier().contains("|"), host.toString());
            } catch (LicenseException e) {
                require(e.kind().equals("MachineUnreadable"), e.kind());
            }
        });
        checks.put("one verifier serves many threads", () -> {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try (Verifier verifier = new Verifier(pem)) {
                List<Future<String>> results = new ArrayList<>();
                for (int i = 0; i < 200; i++) {
                    results.add(pool.submit(() -> verifier.verify(token, now, null).licenseId()));
                }
                for (Future<String> result : results) {
                    require(result.get().equals("5a110c3e-9b27-4f61-8042-13772dc40001"), "same claims");
                }
            } finally {
                pool.shutdown();
            }
        });

        int failed = 0;
        for (Map.Entry<String, Check> check : checks.entrySet()) {
            try {
                check.getValue().run();
            } catch (Exception | AssertionError e) {
                failed++;
                System.out.println("FAIL " + check.getKey() + ": " + e);
            }
        }
        System.out.printf("%d of %d API checks pass%n", checks.size() - failed, checks.size());
        return failed;
    }
}

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

    static int runAll(List<Map<String, Object>> cases, List<Map<String, Object>> lists) throws Exception {
        Map<String, Object> floating = find(cases, "floating perpetual license");
        Map<String, Object> hardware = find(cases, "hardware-bound license on its machine");
        Map<String, Object> otherKey = find(cases, "license signed by another pinned key");
        String pem = (String) floating.get("public_key_pem");
        String token = (String) floating.get("token");
        long now = (Long) floating.get("now");
        Map<String, Object> testLicense = find(cases, "test license refused by default");
        Map<String, Check> checks = new java.util.LinkedHashMap<>();

        checks.put("test licenses are refused unless the verifier allows them", () -> {
            String testPem = (String) testLicense.get("public_key_pem");
            String testToken = (String) testLicense.get("token");
            long at = (Long) testLicense.get("now");
            try (Verifier strict = new Verifier(testPem);
                    Verifier allowing = Verifier.builder(testPem).allowTestLicenses().build()) {
                require(refused(() -> strict.verify(testToken, at, null)).kind().equals("TestLicense"), "refused");
                require(allowing.verify(testToken, at, null).test(), "allowed");
            }
        });
        checks.put("a clock set back behind the kept mark is refused and the mark only rises", () -> {
            java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("koolicense-mark");
            MarkFile file = new MarkFile(dir.resolve("mark"));
            try (Verifier verifier = new Verifier(pem); Host nowhere = new Host(null, null)) {
                ClockMark mark = file.load();
                require(mark.get() == 0, "a missing file is a zero mark");
                verifier.verifyGuarded(token, nowhere, mark, now, null);
                require(mark.get() == now, "raised to now");
                file.store(mark);
                ClockMark kept = file.load();
                LicenseException e = refused(() -> verifier.verifyGuarded(token, nowhere, kept, now - 301, null));
                require(e.kind().equals("ClockBehind"), e.kind());
                require(kept.get() == now, "a refused run does not lower the mark");
                verifier.checkClock(kept, now - 300);
                java.nio.file.Files.writeString(dir.resolve("mark"), "yesterday");
                require(refused(file::load).kind().equals("Io"), "a corrupt file is an error");
            } finally {
                java.nio.file.Files.deleteIfExists(dir.resolve("mark"));
                java.nio.file.Files.deleteIfExists(dir);
            }
        });

        checks.put("a revocation list signed later raises the mark so a clock set back is refused", () -> {
            Map<String, Object> fresh = find(lists, "a fresh list");
            long listNow = (Long) fresh.get("now");
            try (Verifier verifier = new Verifier(pem); Host nowhere = new Host(null, null)) {
                Claims claims = verifier.verify(token, now, null);
                ClockMark mark = new ClockMark(0);
                ListStamp stamp = verifier.checkRevocationGuarded((String) fresh.get("list"), claims, mark, listNow, null);
                require(mark.get() == Math.max(stamp.issuedAt(), listNow), "raised to the signing time");
                long setBack = mark.get() - 301;
                LicenseException e = refused(() -> verifier.verifyGuarded(token, nowhere, mark, setBack, null));
                require(e.kind().equals("ClockBehind"), e.kind());
                e = refused(() -> verifier.verifyStatusGuarded("kl-status", claims, "n-1", mark, setBack));
                require(e.kind().equals("ClockBehind"), e.kind());
            }
        });
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
                LicenseException e = refused(() -> verifier.checkRevocation(token, claims, null, null));
                require(e.kind().equals("WrongObjectKind"), e.kind());
                e = refused(() -> verifier.verifyStatus(token, claims, "n-1"));
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

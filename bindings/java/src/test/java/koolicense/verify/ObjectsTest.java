package koolicense.verify;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The revocation list and status answer vectors through the Java binding. Run by {@link VectorsTest}. */
final class ObjectsTest {
    private ObjectsTest() {}

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object value) {
        return (Map<String, Object>) value;
    }

    /** What the binding answers for a list case, in the vectors' form. */
    static Map<String, Object> listAnswer(Map<String, Object> c) throws Exception {
        try (Verifier verifier = new Verifier((String) c.get("public_key_pem"))) {
            ListStamp last = null;
            if (c.get("last") instanceof Map<?, ?> l) {
                last = new ListStamp((Long) l.get("sequence"), (Long) l.get("issued_at"));
            }
            try (RevocationList list = verifier.verifyRevocationList((String) c.get("list"), (Long) c.get("now"), last)) {
                if (c.get("license") instanceof Map<?, ?> license) {
                    list.checkLicense((String) license.get("license_id"), (Long) license.get("revision"));
                }
                List<Object> entries = new ArrayList<>();
                for (RevocationList.Entry e : list.entries()) {
                    Map<String, Object> entry = new LinkedHashMap<>();
                    entry.put("license_id", e.licenseId());
                    entry.put("revoked_below", e.revokedBelow());
                    entry.put("status", e.status());
                    entries.add(entry);
                }
                if (entries.size() != list.size()) {
                    throw new AssertionError("size " + list.size() + " but " + entries.size() + " entries");
                }
                Map<String, Object> ok = new LinkedHashMap<>();
                ok.put("sequence", list.stamp().sequence());
                ok.put("issued_at", list.stamp().issuedAt());
                ok.put("entries", entries);
                return Map.of("ok", ok);
            } catch (LicenseException e) {
                return Map.of("error", e.kind());
            }
        }
    }

    /** What the binding answers for a status case, in the vectors' form. */
    static Map<String, Object> statusAnswer(Map<String, Object> c) throws Exception {
        Map<String, Object> license = map(c.get("license"));
        String id = (String) license.get("license_id");
        String nonce = (String) c.get("nonce");
        try (Verifier verifier = new Verifier((String) c.get("public_key_pem"))) {
            StatusAnswer a = verifier.verifyStatusForLicense((String) c.get("answer"), id, (Long) license.get("revision"), nonce);
            Map<String, Object> ok = new LinkedHashMap<>();
            ok.put("server_time", a.serverTime());
            ok.put("license_id", id);
            ok.put("revision", a.revision());
            ok.put("state", a.state());
            ok.put("current_revision", a.currentRevision());
            ok.put("revoked_below", a.revokedBelow());
            ok.put("expires_at", a.expiresAt() == null ? Json.NULL : a.expiresAt());
            ok.put("nonce", nonce);
            return Map.of("ok", ok);
        } catch (LicenseException e) {
            return Map.of("error", e.kind());
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

    static int run(Path dir) throws Exception {
        return runFile(dir.resolve("revocations.json"), ObjectsTest::listAnswer)
                + runFile(dir.resolve("status.json"), ObjectsTest::statusAnswer);
    }
}

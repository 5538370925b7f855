package koolicense.verify;

import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.ByReference;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The JNA declarations in {@link NativeLibrary} agree with {@code koolicense.h}: a changed C
 * signature fails here instead of corrupting memory at run time.
 */
final class HeaderTest {
    private HeaderTest() {}

    private static final Pattern PROTOTYPE = Pattern.compile("([\\w\\s*]+?)\\b(koolicense_\\w+)\\(([^)]*)\\);");

    /** The C type class of a declaration: pointer, or the scalar type name. */
    private static String cType(String declaration) {
        if (declaration.contains("*")) {
            return "pointer";
        }
        return declaration.replace("const ", "").trim().split("\\s+")[0];
    }

    /** The C type class a Java parameter or return type stands for. */
    private static String javaType(Class<?> type) {
        if (type == long.class) {
            return "uint64_t";
        }
        if (type == int.class) {
            return "int32";
        }
        if (type == NativeLibrary.SizeT.class) {
            return "size_t";
        }
        if (type == void.class) {
            return "void";
        }
        if (type == byte.class) {
            return "bool";
        }
        if (Structure.ByValue.class.isAssignableFrom(type)) {
            return "Koolicense" + type.getSimpleName().replace("Value", "");
        }
        if (type == byte[].class || type == String.class || Pointer.class.isAssignableFrom(type)
                || ByReference.class.isAssignableFrom(type) || Structure.class.isAssignableFrom(type)) {
            return "pointer";
        }
        return type.getName();
    }

    private static boolean same(String c, String java) {
        return switch (c) {
            case "uint32_t", "int32_t", "KoolicenseStatus", "KoolicenseLicenseState" -> java.equals("int32");
            case "uint64_t", "int64_t" -> java.equals("uint64_t");
            default -> c.equals(java);
        };
    }

    static int run(Path header) throws Exception {
        String text = Files.readString(header).replaceAll("//[^\n]*", "");
        Map<String, List<String>> prototypes = new HashMap<>();
        Matcher m = PROTOTYPE.matcher(text);
        while (m.find()) {
            List<String> types = new ArrayList<>();
            String returned = m.group(1).trim();
            types.add(returned.contains("*") ? "pointer" : returned.substring(returned.lastIndexOf(' ') + 1));
            for (String param : m.group(3).split(",")) {
                if (!param.isBlank() && !param.trim().equals("void")) {
                    types.add(cType(param.trim().contains("*") ? param : param.trim().replaceAll("\\s+\\w+$", "")));
                }
            }
            prototypes.put(m.group(2), types);
        }
        int failed = 0;
        int checked = 0;
        List<Method> methods = new ArrayList<>(List.of(NativeLibrary.class.getDeclaredMethods()));
        methods.addAll(List.of(LeaseLibrary.class.getDeclaredMethods()));
        for (Method method : methods) {
            if (Modifier.isStatic(method.getModifiers()) || !method.getName().startsWith("koolicense_")) {
                continue;
            }
            checked++;
            List<String> c = prototypes.get(method.getName());
            List<String> java = new ArrayList<>();
            java.add(javaType(method.getReturnType()));
            for (Class<?> parameter : method.getParameterTypes()) {
                java.add(javaType(parameter));
            }
            boolean ok = c != null && c.size() == java.size();
            for (int i = 0; ok && i < c.size(); i++) {
                ok = same(c.get(i), java.get(i));
            }
            if (!ok) {
                failed++;
                System.out.println("FAIL " + method.getName() + ": header " + c + ", JNA " + java);
            }
        }
        for (Class<?> struct : new Class<?>[] {NativeLibrary.StatusAnswerStruct.class, NativeLibrary.ListStampStruct.class,
                NativeLibrary.RevocationEntryStruct.class}) {
            checked++;
            String name = "Koolicense" + struct.getSimpleName().replace("Struct", "");
            Matcher body = Pattern.compile("typedef struct " + name + " \\{([^}]*)\\}").matcher(text);
            List<String> c = new ArrayList<>();
            if (body.find()) {
                for (String line : body.group(1).split(";")) {
                    if (!line.isBlank()) {
                        String[] parts = line.trim().split("\\s+");
                        c.add(parts[0] + " " + parts[1]);
                    }
                }
            }
            List<String> java = new ArrayList<>();
            for (String field : struct.getAnnotation(Structure.FieldOrder.class).value()) {
                Class<?> type = struct.getField(field).getType();
                if (type == byte[].class) {
                    int length = ((byte[]) struct.getField(field).get(struct.getDeclaredConstructor().newInstance())).length;
                    java.add("uint8_t " + field + "[" + length + "]");
                } else {
                    java.add((type == long.class ? "uint64_t" : "uint32_t") + " " + field);
                }
            }
            List<String> normalised = c.stream()
                    .map(f -> f.replaceFirst("^(int32_t|KoolicenseLicenseState|KoolicenseEntryStatus) ", "uint32_t "))
                    .toList();
            if (!normalised.equals(java)) {
                failed++;
                System.out.println("FAIL " + name + ": header " + c + ", JNA " + java);
            }
        }
        System.out.printf("%d of %d JNA declarations and structures match %s%n", checked - failed, checked, header);
        return checked > 15 ? failed : failed + 1;
    }
}

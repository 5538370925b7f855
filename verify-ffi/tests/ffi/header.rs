//! The committed `include/koolicense.h` is exactly what cbindgen generates from the sources.

use std::path::Path;

const REGENERATE: &str = "KOOLICENSE_REGENERATE_HEADER";

fn generate() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
    let mut header = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut header);
    String::from_utf8(header).expect("the header is UTF-8")
}

#[test]
fn the_committed_header_is_what_cbindgen_generates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/koolicense.h");
    let generated = generate();
    if std::env::var_os(REGENERATE).is_some() {
        std::fs::write(&path, &generated).expect("header written");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date with the sources; regenerate it with\n  \
         {REGENERATE}=1 cargo test -p koolicense-verify-ffi --test ffi header",
        path.display()
    );
}

#[test]
fn every_exported_function_is_prefixed_and_declared_in_the_header() {
    let header = generate();
    let declared: Vec<&str> = header
        .lines()
        .filter_map(|line| line.split('(').next())
        .filter_map(|head| head.rsplit([' ', '*']).next())
        .filter(|name| name.starts_with("koolicense_"))
        .collect();
    assert!(declared.len() > 20, "found only {declared:?}");
    for source in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
        .expect("src is readable")
    {
        let text = std::fs::read_to_string(source.expect("entry").path()).expect("source");
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim() != "#[no_mangle]" {
                continue;
            }
            let signature = lines.next().unwrap_or_default();
            let name = signature
                .split("fn ")
                .nth(1)
                .and_then(|rest| rest.split('(').next())
                .unwrap_or_default();
            assert!(name.starts_with("koolicense_"), "unprefixed export {name}");
            assert!(declared.contains(&name), "{name} missing from the header");
        }
    }
}

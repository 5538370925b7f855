//! The console's files, embedded in the binary at build time: one HTML page, one stylesheet and
//! plain ES modules (no build step, no third-party code).

use actix_web::{web, HttpResponse};

use crate::error::ApiError;

/// Declares the embedded files: `(name under /console/assets/, content type, bytes)`.
macro_rules! embedded {
    ($($name:literal => $mime:expr),* $(,)?) => {
        &[$(($name, $mime, include_bytes!(concat!("assets/", $name)) as &[u8])),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file under `/console/assets/`.
const ASSETS: &[(&str, &str, &[u8])] = embedded! {
    "console.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "app.js" => JS,
    "api.js" => JS,
    "chart.js" => JS,
    "dom.js" => JS,
    "dialog.js" => JS,
    "widgets.js" => JS,
    "i18n.js" => JS,
    "i18n-zh.js" => JS,
    "format.js" => JS,
    "page-overview.js" => JS,
    "page-licenses.js" => JS,
    "page-license.js" => JS,
    "page-audit.js" => JS,
    "page-calls.js" => JS,
    "page-outbox.js" => JS,
    "page-tokens.js" => JS,
    "page-keys.js" => JS,
    "page-offline.js" => JS,
    "signin.js" => JS,
};

/// The single page.
const INDEX: &str = include_str!("assets/index.html");

/// `GET /console`: the page (every view is drawn by the scripts).
pub(crate) async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(INDEX)
}

/// `GET /console/assets/{name}`
pub(crate) async fn asset(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let (_, mime, bytes) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| ApiError::NotFound("no such console file".into()))?;
    Ok(HttpResponse::Ok().content_type(*mime).body(*bytes))
}

#[cfg(test)]
mod tests {
    use super::{ASSETS, INDEX};

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).expect("UTF-8")
    }

    #[test]
    fn no_asset_has_inline_script_inline_style_or_markup_built_from_strings() {
        assert!(!INDEX.contains("style="), "inline style in index.html");
        assert!(!INDEX.contains(" on"), "inline event handler in index.html");
        for (name, _, bytes) in ASSETS {
            let source = text(bytes);
            for banned in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                ".style.",
                "setAttribute(\"style\"",
                "setAttribute('style'",
            ] {
                assert!(!source.contains(banned), "{name} uses {banned}");
            }
        }
    }

    #[test]
    fn every_script_the_page_imports_is_embedded() {
        for (name, _, bytes) in ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            for line in text(bytes).lines().filter(|l| l.starts_with("import ")) {
                let target = line
                    .split("\"./")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or_else(|| panic!("{name}: unexpected import {line}"));
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == target),
                    "{name} imports {target}, which is not embedded"
                );
            }
        }
    }

    /// Every `t("...")` literal of a script (the translated texts).
    fn translated_texts(source: &str) -> Vec<&str> {
        let mut texts = Vec::new();
        let mut rest = source;
        while let Some(at) = rest.find("t(\"") {
            let before = rest[..at].chars().next_back();
            let after = &rest[at + 3..];
            let end = after.find('"').unwrap_or(after.len());
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                texts.push(&after[..end]);
            }
            rest = &after[end..];
        }
        texts
    }

    #[test]
    fn every_text_of_the_pages_has_a_chinese_translation() {
        let table = ASSETS
            .iter()
            .find(|(n, _, _)| *n == "i18n-zh.js")
            .map(|(_, _, b)| text(b))
            .expect("the Chinese table");
        for (name, _, bytes) in ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            let source = text(bytes);
            // The English names of the API's codes (`NAMES` in format.js) are translated too.
            let names = source
                .split_once("const NAMES = {")
                .and_then(|(_, rest)| rest.split_once("};"))
                .map_or("", |(table, _)| table);
            let named = names
                .lines()
                .filter_map(|l| l.split_once(": \"").map(|(_, v)| v.trim_end_matches("\",")));
            for phrase in translated_texts(source).into_iter().chain(named) {
                let key = format!("\"{phrase}\":");
                assert!(table.contains(&key), "{name}: no Chinese for {phrase:?}");
            }
        }
    }
}

// Chinese and English. Texts are written in English in the pages and looked up in the Chinese
// table; the choice is remembered in this browser, and Chinese is the default when the browser
// prefers it.

import { zh } from "./i18n-zh.js";

const STORAGE_KEY = "koolicense.console.lang";
const TABLES = { zh, en: {} };

function initial() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved && TABLES[saved]) return saved;
  const preferred = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  return preferred.some((l) => String(l).toLowerCase().startsWith("zh")) ? "zh" : "en";
}

let current = initial();
document.documentElement.lang = current === "zh" ? "zh-CN" : "en";

/** The current language: "zh" or "en". */
export function lang() {
  return current;
}

/** Switches the language and remembers it. */
export function setLang(next) {
  current = TABLES[next] ? next : "en";
  localStorage.setItem(STORAGE_KEY, current);
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
}

/** Translates `text`, filling `{name}` placeholders from `params`. */
export function t(text, params) {
  const template = TABLES[current][text] ?? text;
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
}

// The console's frame: sign-in, the navigation, the language switch, and a hash router that
// draws one page at a time into the main area.

import { canWrite, currentSession, resumeSession, signOut } from "./api.js";
import { fill, h, toast } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import * as overview from "./page-overview.js";
import * as licenses from "./page-licenses.js";
import * as license from "./page-license.js";
import * as audit from "./page-audit.js";
import * as calls from "./page-calls.js";
import * as outbox from "./page-outbox.js";
import * as tokens from "./page-tokens.js";
import * as keys from "./page-keys.js";
import * as offline from "./page-offline.js";
import { renderSignIn } from "./signin.js";

const PAGES = [
  { path: "overview", title: "Overview", page: overview },
  { path: "licenses", title: "Licenses", page: licenses },
  { path: "audit", title: "Audit log", page: audit },
  { path: "calls", title: "Failed marketplace calls", page: calls },
  { path: "outbox", title: "Outbox", page: outbox },
  { path: "offline", title: "Offline activation", page: offline, write: true },
  { path: "tokens", title: "API tokens", page: tokens },
  { path: "keys", title: "Public keys", page: keys },
];

const root = document.getElementById("app");

/** The route in the address: ["licenses", "<id>"] and the query parameters. */
function route() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts: parts.length ? parts : ["overview"], params: new URLSearchParams(query) };
}

function languageSwitch() {
  return h(
    "button",
    {
      type: "button",
      id: "lang-switch",
      class: "link-button",
      title: "中文 / English",
      on: {
        click: () => {
          setLang(lang() === "zh" ? "en" : "zh");
          render();
        },
      },
    },
    lang() === "zh" ? "English" : "中文",
  );
}

function frame(active) {
  const session = currentSession();
  const nav = h(
    "nav",
    { class: "nav", "aria-label": t("Sections") },
    PAGES.filter((p) => !p.write || canWrite()).map((p) => h("a", { href: `#/${p.path}`, class: p.path === active ? "active" : "", "data-page": p.path }, t(p.title))),
  );
  const main = h("main", { id: "main", class: "main", tabindex: "-1" });
  const user = h(
    "div",
    { class: "user" },
    h("span", { class: "user-name", id: "signed-in-as" }, session.token_name || session.token_id),
    h("span", { class: canWrite() ? "scope scope-write" : "scope scope-read", id: "scope" }, canWrite() ? t("read and write") : t("read only")),
    languageSwitch(),
    h(
      "button",
      {
        type: "button",
        id: "signout",
        class: "button button-quiet",
        on: {
          click: async () => {
            await signOut().catch(() => {});
            location.hash = "#/overview";
            render();
          },
        },
      },
      t("Sign out"),
    ),
  );
  fill(
    root,
    h(
      "aside",
      { class: "sidebar" },
      h("a", { class: "brand", href: "#/overview" }, h("span", { class: "brand-mark" }, "K"), h("span", {}, "koolicense")),
      h("div", { class: "brand-sub" }, t("Merchant console")),
      nav,
    ),
    h("div", { class: "content" }, h("header", { class: "topbar" }, h("div", { class: "crumb", id: "crumb" }), user), main),
  );
  return main;
}

let drawing = 0;

/** Draws the page the address names. */
export async function render() {
  const ticket = ++drawing;
  if (!currentSession()) {
    renderSignIn(root, languageSwitch, render);
    return;
  }
  const { parts, params } = route();
  let entry = PAGES.find((p) => p.path === parts[0]) || PAGES[0];
  let page = entry.page;
  if (parts[0] === "licenses" && parts[1]) page = license;
  const main = frame(entry.path);
  document.title = `${t(entry.title)} · koolicense`;
  fill(document.getElementById("crumb"), t(entry.title));
  main.append(h("p", { class: "loading" }, t("Loading…")));
  try {
    await page.render(main, { parts, params, isCurrent: () => ticket === drawing });
  } catch (error) {
    if (ticket !== drawing) return;
    fill(main, h("div", { class: "alert alert-error", role: "alert" }, t("Could not load this page: {message}", { message: error.message })));
  }
}

window.addEventListener("hashchange", render);
window.addEventListener("koolicense:signed-out", () => {
  toast(t("Your session has ended; sign in again."), "error");
  render();
});

resumeSession().then(render);

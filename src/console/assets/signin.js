// Sign-in: an API token is exchanged for a session cookie; the token itself is not kept by the
// browser.

import { signIn } from "./api.js";
import { fill, h } from "./dom.js";
import { t } from "./i18n.js";

export function renderSignIn(root, languageSwitch, done) {
  document.title = `${t("Sign in")} · koolicense`;
  const error = h("div", { class: "alert alert-error", role: "alert", id: "signin-error", hidden: true });
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "klt_…",
    required: true,
  });
  const form = h(
    "form",
    {
      class: "signin-form",
      id: "signin-form",
      on: {
        submit: async (event) => {
          event.preventDefault();
          error.hidden = true;
          try {
            await signIn(input.value);
            input.value = "";
            if (!location.hash) location.hash = "#/overview";
            done();
          } catch (e) {
            fill(error, e.status === 401 ? t("This API token is not valid.") : e.message);
            error.hidden = false;
          }
        },
      },
    },
    h("label", { for: "token" }, t("API token")),
    input,
    h("p", { class: "hint" }, t("Create one on the server with"), " ", h("code", {}, "koolicense token create --name console --scope write"), " ", t("(--scope read for a read-only console).")),
    error,
    h("button", { type: "submit", class: "button button-primary", id: "signin" }, t("Sign in")),
  );
  fill(
    root,
    h(
      "div",
      { class: "signin" },
      h(
        "div",
        { class: "signin-card" },
        h("div", { class: "signin-head" }, h("span", { class: "brand-mark" }, "K"), h("div", {}, h("h1", {}, "koolicense"), h("p", { class: "muted" }, t("Merchant console")))),
        form,
        h("div", { class: "signin-foot" }, languageSwitch()),
      ),
    ),
  );
  input.focus();
}

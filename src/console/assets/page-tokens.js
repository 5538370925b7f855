// API tokens: who may use the merchant API (and this console). Listing and managing them needs
// the write scope; a new token's secret is shown once.

import { api, canWrite, currentSession } from "./api.js";
import { confirmChange } from "./dialog.js";
import { fill, h, toast } from "./dom.js";
import { t } from "./i18n.js";
import { when } from "./format.js";
import { copyButton, dataTable } from "./widgets.js";

function createForm(onCreated) {
  const form = h(
    "form",
    {
      class: "card filters",
      id: "token-form",
      on: {
        submit: async (event) => {
          event.preventDefault();
          const data = new FormData(form);
          const scopes = data.getAll("scope").map(String);
          try {
            const created = await api.post("/v1/tokens", { name: String(data.get("name") || ""), scopes });
            onCreated(created);
          } catch (e) {
            toast(e.message, "error");
          }
        },
      },
    },
    h("h2", {}, t("New token")),
    h(
      "div",
      { class: "filter-actions" },
      h("label", { class: "field grow" }, h("span", {}, t("Name")), h("input", { name: "name", required: true, maxlength: 100, autocomplete: "off" })),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "scope", value: "read", checked: true }), t("read")),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "scope", value: "write" }), t("write")),
      h("button", { type: "submit", class: "button button-primary" }, t("Create token")),
    ),
  );
  return form;
}

export async function render(main, ctx) {
  if (!canWrite()) {
    fill(main, h("h1", {}, t("API tokens")), h("div", { class: "alert alert-info", id: "tokens-read-only" }, t("Managing API tokens needs a write token. You are signed in with a read-only token.")));
    return;
  }
  const data = await api.get("/v1/tokens");
  if (!ctx.isCurrent()) return;
  const me = currentSession().token_id;
  const revoke = async (token) => {
    const ok = await confirmChange({
      title: t("Revoke token"),
      message: token.id === me ? t("This is the token you signed in with: revoking it ends this session.") : t("Programs using {name} lose access at once.", { name: token.name }),
      confirm: t("Revoke token"),
      danger: true,
    });
    if (!ok) return;
    try {
      await api.del(`/v1/tokens/${encodeURIComponent(token.id)}`);
      toast(t("Token revoked."), "success");
    } catch (e) {
      toast(e.message, "error");
    }
    render(main, ctx);
  };
  const shown = h("div", {});
  const onCreated = (created) => {
    const area = h("textarea", { class: "token-text mono", readonly: true, rows: 2 });
    area.value = created.token;
    fill(
      shown,
      h(
        "div",
        { class: "alert alert-success" },
        h("p", {}, t("Token {name} created. Store it now: it is not shown again.", { name: created.name })),
        area,
        copyButton(t("Copy token"), created.token, t("Token copied.")),
      ),
    );
    api.get("/v1/tokens").then((fresh) => table.replaceWith((table = tableOf(fresh.tokens))));
  };
  const tableOf = (tokens) =>
    dataTable(
      "tokens-table",
      [t("Name"), t("ID"), t("Scopes"), t("Created"), t("Last used"), t("State"), ""],
      tokens
        .slice()
        .reverse()
        .map((tk) =>
          h(
            "tr",
            {},
            h("td", {}, tk.name, tk.id === me ? h("span", { class: "badge badge-current" }, t("this session")) : null),
            h("td", { class: "mono" }, tk.id),
            h("td", {}, tk.scopes.map((s) => t(s)).join(", ")),
            h("td", { class: "nowrap" }, when(tk.created_at), h("div", { class: "sub" }, tk.created_by)),
            h("td", { class: "nowrap" }, when(tk.last_used_at)),
            h("td", {}, tk.revoked_at ? h("span", { class: "badge badge-revoked" }, t("revoked")) : h("span", { class: "badge badge-active" }, t("active"))),
            h("td", {}, tk.revoked_at ? null : h("button", { type: "button", class: "button button-small button-danger-quiet", on: { click: () => revoke(tk) } }, t("Revoke"))),
          ),
        ),
      t("No events."),
    );
  let table = tableOf(data.tokens);
  fill(main, h("h1", {}, t("API tokens")), createForm(onCreated), shown, table);
}

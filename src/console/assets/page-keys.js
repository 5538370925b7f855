// The public keys to pin in delivered software: every key the service has signed with, the
// active one marked, with its PEM to copy.

import { api } from "./api.js";
import { fill, h } from "./dom.js";
import { copyButton } from "./widgets.js";
import { t } from "./i18n.js";
import { badge, when } from "./format.js";

export async function render(main, { isCurrent }) {
  const data = await api.get("/v1/keys");
  if (!isCurrent()) return;
  fill(
    main,
    h("h1", {}, t("Public keys")),
    h("p", { class: "lead" }, t("Pin every key below in the software you deliver: licenses signed with a retired key keep verifying after a rotation.")),
    data.keys.map((key) =>
      h(
        "section",
        { class: "card key-card" },
        h("div", { class: "page-head" }, h("h2", { class: "mono" }, `kid ${key.kid}`), badge(key.active ? "active" : "retired")),
        h("p", { class: "muted" }, t("In use since {time}", { time: when(key.first_used) }), key.retired_at ? ` · ${t("retired {time}", { time: when(key.retired_at) })}` : ""),
        h("pre", { class: "pem mono" }, key.public_key_pem),
        copyButton(t("Copy public key"), key.public_key_pem, t("Public key copied.")),
      ),
    ),
  );
}

// The query page: YASGUI (served from /static/yasgui/, no CDN) on this origin's /sparql.
// Completion lists come from the page (our prefixes, the classes and properties the data
// uses), never from prefix.cc or LOV; every tab posts to /sparql, and the page's
// Content-Security-Policy (connect-src 'self') keeps every request on this host.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("editor-config").textContent);
  const endpoint = new URL(config.endpoint, window.location.href).href;
  const Yasqe = Yasgui.Yasqe;
  const examples = {};
  for (const e of config.examples) examples[e.name] = e;

  // Completers over local lists only.
  const prefixLines = Object.keys(config.prefixes).sort().map(function (p) {
    return p + ": <" + config.prefixes[p] + ">";
  });
  Yasqe.registerAutocompleter(
    Object.assign({}, Yasqe.Autocompleters.prefixes, { get: prefixLines, persistenceId: undefined }));
  Yasqe.registerAutocompleter(
    Object.assign({}, Yasqe.Autocompleters.class, { get: config.classes, bulk: false }));
  Yasqe.registerAutocompleter(
    Object.assign({}, Yasqe.Autocompleters.property, { get: config.properties, bulk: false }));

  const picker = document.getElementById("example");
  const first = examples["theme-frequencies"] || config.examples[0];
  if (first) picker.value = first.name;

  const yasgui = new Yasgui(document.getElementById("yasgui"), {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: true,
    endpointCatalogueOptions: { getData: function () { return [{ endpoint: endpoint }]; }, keys: [] },
    persistenceId: null,
    autofocus: false,
    tabName: first ? first.name : "query",
    yasqe: {
      value: first ? first.text : "SELECT * WHERE { ?s ?p ?o } LIMIT 10",
      autocompleters: ["prefixes", "variables", "class", "property"],
      editorHeight: "15rem",
    },
    yasr: { prefixes: config.prefixes, defaultPlugin: "table" },
  });

  // A shipped question opens in a tab of its own name: downloads are named after it.
  document.getElementById("examples-form").addEventListener("submit", function (event) {
    event.preventDefault();
    const chosen = examples[picker.value];
    if (!chosen) return;
    yasgui.addTab(true, {
      name: chosen.name,
      yasqe: { value: chosen.text },
      requestConfig: { endpoint: endpoint, method: "POST" },
    });
  });
  window.exmechYasgui = yasgui;
})();

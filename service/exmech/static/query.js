// The query page: run SPARQL against /sparql on this origin and show the answer as a table.
"use strict";

(function () {
  const examples = JSON.parse(document.getElementById("examples").textContent);
  const form = document.getElementById("query-form");
  const picker = document.getElementById("example");
  const answers = document.getElementById("example-answers");
  const editor = document.getElementById("query");
  const status = document.getElementById("status");
  const results = document.getElementById("results");
  const formatPicker = document.getElementById("download-format");
  const ACCEPT = "application/sparql-results+json, text/turtle;q=0.9";
  const EXTENSIONS = {
    json: "srj", xml: "srx", csv: "csv", tsv: "tsv",
    turtle: "ttl", jsonld: "jsonld", ntriples: "nt", rdfxml: "rdf",
  };

  picker.addEventListener("change", function () {
    const chosen = examples[picker.value];
    if (chosen) {
      editor.value = chosen.text;
      answers.textContent = chosen.answers;
    }
  });

  function post(format) {
    const body = new URLSearchParams({ query: editor.value });
    if (format) body.set("format", format);
    return fetch("/sparql", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": ACCEPT },
      body: body,
    });
  }

  function cellText(term) {
    if (!term) return "";
    if (term.type === "uri") return term.value;
    if (term.type === "bnode") return "_:" + term.value;
    return term.value + (term["xml:lang"] ? "@" + term["xml:lang"] : "");
  }

  // Our resource IRIs and ontology terms open their pages on this server.
  function localHref(iri) {
    const spaces = [[form.dataset.base + "/id/", "/id/"], [form.dataset.ontology, "/ontology"]];
    for (const [space, path] of spaces) {
      if (iri.startsWith(space)) return path + iri.slice(space.length);
    }
    return null;
  }

  function renderTable(data) {
    const vars = data.head.vars || [];
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    for (const v of vars) {
      const th = document.createElement("th");
      th.textContent = v;
      head.appendChild(th);
    }
    const body = table.createTBody();
    for (const binding of data.results.bindings) {
      const row = body.insertRow();
      for (const v of vars) {
        const cell = row.insertCell();
        const term = binding[v];
        const href = term && term.type === "uri" ? localHref(term.value) : null;
        if (href) {
          const a = document.createElement("a");
          a.href = href;
          a.textContent = term.value;
          cell.appendChild(a);
        } else {
          cell.textContent = cellText(term);
        }
      }
    }
    results.replaceChildren(table);
  }

  async function run(event) {
    event.preventDefault();
    status.textContent = "Running…";
    results.replaceChildren();
    const started = performance.now();
    let response;
    try {
      response = await post(null);
    } catch (error) {
      status.textContent = "The request failed: " + error;
      return;
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    const text = await response.text();
    if (!response.ok) {
      status.textContent = "Error " + response.status + ": " + text;
      return;
    }
    const truncated = response.headers.get("Exmech-Truncated") === "true";
    const type = (response.headers.get("Content-Type") || "").split(";")[0];
    if (type === "application/sparql-results+json") {
      const data = JSON.parse(text);
      if ("boolean" in data) {
        status.textContent = "Answer: " + data.boolean + " (" + seconds + " s)";
        return;
      }
      status.textContent = data.results.bindings.length + " rows in " + seconds + " s" +
        (truncated ? " (truncated: the row limit was reached)" : "");
      renderTable(data);
    } else {
      const pre = document.createElement("pre");
      pre.textContent = text;
      results.replaceChildren(pre);
      status.textContent = (response.headers.get("Exmech-Rows") || "?") + " triples in " + seconds + " s" +
        (truncated ? " (truncated)" : "");
    }
  }

  async function download() {
    const format = formatPicker.value;
    status.textContent = "Preparing the download…";
    const response = await post(format);
    if (!response.ok) {
      status.textContent = "Error " + response.status + ": " + (await response.text());
      return;
    }
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = "exmech-" + (picker.value || "query") + "." + (EXTENSIONS[format] || "txt");
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    status.textContent = "Downloaded as " + format + ".";
  }

  form.addEventListener("submit", run);
  document.getElementById("download").addEventListener("click", download);
})();

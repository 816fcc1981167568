// Print the licence of every package in the lock: name@version, declared licence, then the
// package's own licence file (the @zazuko/yasgui* packages ship none: their repository's
// MIT text, passed as the second argument, stands for them).
"use strict";
const fs = require("fs");
const path = require("path");
const [work, yasguiLicence] = process.argv.slice(2);
const lock = JSON.parse(fs.readFileSync(path.join(work, "package-lock.json"), "utf8"));
const out = ["Third-party software in yasgui.min.js and yasgui.min.css (from tools/yasgui/package-lock.json)", ""];
for (const key of Object.keys(lock.packages).filter((k) => k).sort()) {
  const dir = path.join(work, key);
  const meta = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  out.push("=".repeat(78), `${meta.name}@${meta.version}  licence: ${meta.license || "not declared"}`, "");
  const file = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
  if (file) out.push(fs.readFileSync(path.join(dir, file), "utf8").trim());
  else if (meta.name.startsWith("@zazuko/yasgui") || meta.name.startsWith("@zazuko/yas")) out.push(fs.readFileSync(yasguiLicence, "utf8").trim());
  else out.push(`(no licence file in the package; its package.json declares ${meta.license || "none"})`);
  out.push("");
}
process.stdout.write(out.join("\n") + "\n");

// Narrow screens: a wide table becomes one card per row, each cell labelled with its column's
// header (data-label, shown by exmech.css under 40rem), so no column is hidden off-screen.
// Without JavaScript the same tables scroll sideways in their box.
"use strict";

(function () {
  for (const table of document.querySelectorAll("main .scroll > table:not(.map)")) {
    const heads = Array.from(table.querySelectorAll("thead th"), (th) => th.textContent.trim());
    if (heads.length === 0) continue;
    table.classList.add("stack");
    for (const row of table.querySelectorAll("tbody tr")) {
      Array.from(row.cells).forEach((cell, i) => {
        if (heads[i]) cell.dataset.label = heads[i];
      });
    }
  }
})();

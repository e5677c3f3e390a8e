// qod report: draws the runs table a page at a time from the JSON beside it.
(function () {
  "use strict";
  var body = document.body;
  window.addEventListener("error", function () {
    body.dataset.errors = String(Number(body.dataset.errors || "0") + 1);
  });
  var rows = JSON.parse(document.getElementById("runs-data").textContent);
  var perPage = 25;
  var page = 0;
  var tbody = document.querySelector("table.runs tbody");
  var label = document.querySelector(".pager .page");
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  function render() {
    var pages = Math.max(1, Math.ceil(rows.length / perPage));
    page = Math.min(Math.max(page, 0), pages - 1);
    tbody.textContent = "";
    rows.slice(page * perPage, (page + 1) * perPage).forEach(function (r) {
      var tr = document.createElement("tr");
      cell(tr, r.id);
      cell(tr, r.at);
      cell(tr, r.branch);
      cell(tr, r.revision);
      cell(tr, r.decision, "decision-" + r.decision);
      cell(tr, Math.round(r.score * 100) / 100);
      cell(tr, r.flagged);
      tbody.appendChild(tr);
    });
    label.textContent = "page " + (page + 1) + " of " + pages + " (" + rows.length + " runs)";
  }
  document.querySelectorAll(".pager button").forEach(function (b) {
    b.addEventListener("click", function () {
      page += b.dataset.page === "next" ? 1 : -1;
      render();
    });
  });
  render();
  body.dataset.ready = "1";
  // How long the page took to load, for the benchmark of large histories.
  window.addEventListener("load", function () {
    body.dataset.loadMs = String(Math.round(performance.now()));
  });
})();

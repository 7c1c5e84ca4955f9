// Apostle: the little the pages do with JavaScript. Everything works without it;
// this only saves a round trip.

// A search box filters its list as you type; without JavaScript its form asks the
// server (`?q=`), which hides the same rows.
document.querySelectorAll("input[data-filter]").forEach(function (box) {
  var list = document.getElementById(box.dataset.filter);
  var empty = document.getElementById(box.dataset.filter + "-empty");
  box.addEventListener("input", function () {
    var q = box.value.trim().toLowerCase();
    var shown = 0;
    list.querySelectorAll("li[data-search]").forEach(function (row) {
      row.hidden = q !== "" && row.dataset.search.indexOf(q) < 0;
      if (!row.hidden) shown += 1;
    });
    if (empty) empty.hidden = shown > 0;
  });
});

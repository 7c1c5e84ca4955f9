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

// The composer counts the text for each ticked network as you type, the way the
// server does (domain `counted_length`): X counts a link as 23 characters, the
// others count it in full unless the text already holds it. Choosing a UTM
// preset fills its fields; without JavaScript, "Use preset" asks the server.
(function () {
  var composer = document.getElementById("composer");
  if (!composer) return;
  var text = composer.querySelector("#text");
  var link = composer.querySelector("#link");
  function chars(s) {
    return Array.from(s).length;
  }
  function counted(provider, body, url) {
    var n = chars(body);
    if (url === "") return n;
    if (provider === "x") return n + 1 + 23;
    if (body.indexOf(url) >= 0) return n;
    return n + 1 + chars(url);
  }
  function update() {
    composer.querySelectorAll("[data-count]").forEach(function (out) {
      var provider = out.dataset.count;
      var variant = composer.querySelector("#variant-" + provider);
      var body = variant && variant.value.trim() !== "" ? variant.value : text.value;
      var n = counted(provider, body.trim(), link.value.trim());
      out.querySelector(".n").textContent = n;
      out.classList.toggle("over", n > Number(out.dataset.limit));
      var box = composer.querySelector("input[name=provider][value=" + provider + "]");
      out.hidden = !box || !box.checked;
    });
  }
  composer.addEventListener("input", update);
  composer.addEventListener("change", update);
  update();
  var preset = composer.querySelector("#preset");
  if (preset) {
    preset.addEventListener("change", function () {
      var chosen = preset.options[preset.selectedIndex];
      if (!chosen.value) return;
      ["source", "medium", "campaign", "term", "content"].forEach(function (k) {
        composer.querySelector("#utm-" + k).value = chosen.dataset[k] || "";
      });
    });
  }
})();
// A member who never chose a time zone is offered their browser's; they save it.
document.querySelectorAll("select[data-detect-zone]").forEach(function (select) {
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || zone === select.value) return;
  var known = Array.prototype.some.call(select.options, function (o) { return o.value === zone; });
  if (!known) return;
  select.value = zone;
  var note = document.getElementById("zone-detected");
  if (note) note.hidden = false;
});
// Sign-in sends the browser's time zone: it becomes the member's until they choose one.
document.querySelectorAll("input[data-browser-zone]").forEach(function (input) {
  input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
});

// The console's forms: each form.xml is sent with fetch as its
// data-method, its textarea as an application/xml body, with the
// session's CSRF token; the answer's problem is shown in the page.
"use strict";
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.content : "";
  var box = document.getElementById("problem");

  function show(title, detail) {
    document.getElementById("problem-title").textContent = title;
    document.getElementById("problem-detail").textContent = detail;
    box.hidden = false;
    box.scrollIntoView();
  }

  function headers(withBody) {
    var h = { "Accept": "application/xml" };
    if (withBody) { h["Content-Type"] = "application/xml; charset=utf-8"; }
    if (csrf) { h["X-Csrf-Token"] = csrf; }
    return h;
  }

  function failed(res) {
    return res.text().then(function (text) {
      var title = res.status + " " + res.statusText, detail = text;
      try {
        var doc = new DOMParser().parseFromString(text, "application/xml");
        var t = doc.getElementsByTagName("title")[0], d = doc.getElementsByTagName("detail")[0];
        if (t) { title = res.status + " " + t.textContent; }
        if (d) { detail = d.textContent; }
      } catch (e) { /* shown as text */ }
      show(title, detail);
    });
  }

  document.querySelectorAll("form.xml").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      box.hidden = true;
      var method = form.dataset.method, area = form.querySelector("textarea");
      var body = area ? area.value : "";
      fetch(form.action, { method: method, headers: headers(body !== ""), body: body === "" ? null : body,
                           credentials: "same-origin", redirect: "error" })
        .then(function (res) {
          if (!res.ok) { return failed(res); }
          if (method === "DELETE") { location.assign(form.dataset.after || "/auth/v2"); return; }
          var loc = res.headers.get("Location");
          if (res.status === 201 && loc) { location.assign(loc); return; }
          location.reload();
        })
        .catch(function (e) { show("The request failed", String(e)); });
    });
  });

  var out = document.getElementById("signout");
  if (out) {
    out.addEventListener("click", function () {
      fetch(out.dataset.href, { method: "POST", headers: headers(false), credentials: "same-origin" })
        .then(function (res) {
          if (!res.ok) { return failed(res); }
          location.assign("/auth/v2");
        });
    });
  }
})();

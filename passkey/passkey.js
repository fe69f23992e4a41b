// Gatehouse passkeys: runs a WebAuthn ceremony from a form on a
// gatehouse page. A button with data-passkey="get" (sign in) or
// "create" (register) and data-options="URL", inside a form, works like
// this when pressed: the form's fields (its CSRF token, its ticket) are
// posted to the options URL, which answers the options JSON
// ({"publicKey": …}); the browser runs the ceremony; the response, as
// JSON, goes into the form's field named "credential", and the form is
// submitted as usual. Errors show in the form's [data-passkey-error]
// element. The buttons stay hidden until this script runs. No other
// script runs on the page.
(function () {
  "use strict";

  function fromB64url(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) {
      s += "=";
    }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      var d = { type: c.type, id: fromB64url(c.id) };
      if (c.transports) {
        d.transports = c.transports;
      }
      return d;
    });
  }

  function creationOptions(o) {
    o.challenge = fromB64url(o.challenge);
    o.user.id = fromB64url(o.user.id);
    o.excludeCredentials = descriptors(o.excludeCredentials);
    return o;
  }

  function requestOptions(o) {
    o.challenge = fromB64url(o.challenge);
    o.allowCredentials = descriptors(o.allowCredentials);
    return o;
  }

  function credentialJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64url(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64url(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toB64url(r.authenticatorData);
      out.response.signature = toB64url(r.signature);
      if (r.userHandle) {
        out.response.userHandle = toB64url(r.userHandle);
      }
    }
    return out;
  }

  function run(form, button) {
    var mode = button.getAttribute("data-passkey");
    var errorBox = form.querySelector("[data-passkey-error]");
    var say = function (msg) {
      if (errorBox) {
        errorBox.textContent = msg;
        errorBox.hidden = !msg;
      }
    };
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say("This browser does not support passkeys.");
      return;
    }
    say("");
    button.disabled = true;
    var fields = new URLSearchParams();
    new FormData(form).forEach(function (v, k) {
      if (k !== "credential" && typeof v === "string") {
        fields.append(k, v);
      }
    });
    fetch(button.getAttribute("data-options"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: fields.toString()
    })
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("the server refused to start (" + resp.status + ")");
        }
        return resp.json();
      })
      .then(function (opts) {
        if (mode === "create") {
          return navigator.credentials.create({ publicKey: creationOptions(opts.publicKey) });
        }
        return navigator.credentials.get({ publicKey: requestOptions(opts.publicKey) });
      })
      .then(function (cred) {
        form.querySelector("[name=credential]").value = JSON.stringify(credentialJSON(cred));
        form.submit();
      })
      .catch(function (err) {
        button.disabled = false;
        say("The passkey did not work: " + (err && err.message ? err.message : err));
      });
  }

  document.querySelectorAll("button[data-passkey]").forEach(function (button) {
    var form = button.form;
    if (!form) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function (ev) {
      ev.preventDefault();
      run(form, button);
    });
  });
})();

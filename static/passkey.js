// Passkeys on the customer pages: the browser's WebAuthn API between trustline's JSON
// endpoints. The server (webauthn-rs) makes every decision; this file only converts between
// JSON (base64url) and the ArrayBuffers the API takes and returns. Texts come from the page.
"use strict";
(function () {
  const b64urlToBuf = (s) => {
    const pad = "=".repeat((4 - (s.length % 4)) % 4);
    const bin = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
  };
  const bufToB64url = (buf) => {
    let bin = "";
    for (const b of new Uint8Array(buf)) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  async function post(url, csrf, body) {
    const headers = { "content-type": "application/json" };
    if (csrf) headers["x-csrf-token"] = csrf;
    const resp = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
    const json = await resp.json().catch(() => ({}));
    if (!resp.ok) throw Object.assign(new Error(json.code || "error"), { problem: json });
    return json;
  }

  function creationOptions(o) {
    const pk = o.publicKey;
    pk.challenge = b64urlToBuf(pk.challenge);
    pk.user.id = b64urlToBuf(pk.user.id);
    (pk.excludeCredentials || []).forEach((c) => (c.id = b64urlToBuf(c.id)));
    return { publicKey: pk };
  }

  function requestOptions(o) {
    const pk = o.publicKey;
    pk.challenge = b64urlToBuf(pk.challenge);
    (pk.allowCredentials || []).forEach((c) => (c.id = b64urlToBuf(c.id)));
    return { publicKey: pk };
  }

  function registrationJson(cred) {
    return {
      id: cred.id,
      rawId: bufToB64url(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        attestationObject: bufToB64url(cred.response.attestationObject),
        clientDataJSON: bufToB64url(cred.response.clientDataJSON),
        transports: cred.response.getTransports ? cred.response.getTransports() : undefined,
      },
    };
  }

  function assertionJson(cred) {
    const r = cred.response;
    return {
      id: cred.id,
      rawId: bufToB64url(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        authenticatorData: bufToB64url(r.authenticatorData),
        clientDataJSON: bufToB64url(r.clientDataJSON),
        signature: bufToB64url(r.signature),
        userHandle: r.userHandle ? bufToB64url(r.userHandle) : null,
      },
    };
  }

  // Run one assertion: options from `start`, the browser's get(), the answer to `finish`.
  async function assert(start, finish, csrf) {
    const begun = await post(start, csrf);
    const cred = await navigator.credentials.get(requestOptions(begun.options));
    return post(finish, csrf, { ceremony_id: begun.ceremony_id, credential: assertionJson(cred) });
  }

  function say(section, status, text, code) {
    status.textContent = text;
    status.dataset.code = code || "";
    section.dataset.state = code || "";
  }

  function privacy(section) {
    const csrf = section.dataset.csrf;
    const status = section.querySelector("#passkey-status");
    const fail = (e) => say(section, status, section.dataset.msgFailed, e.message || "error");
    if (!window.PublicKeyCredential) {
      say(section, status, section.dataset.msgUnsupported, "unsupported");
      return;
    }
    section.querySelector("#passkey-add").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const name = section.querySelector("#passkey-name").value;
        const begun = await post("/privacy/passkeys/registration", csrf);
        const cred = await navigator.credentials.create(creationOptions(begun.options));
        await post("/privacy/passkeys", csrf, {
          ceremony_id: begun.ceremony_id,
          name,
          credential: registrationJson(cred),
        });
        say(section, status, section.dataset.msgRegistered, "registered");
        window.location.reload();
      } catch (e) {
        fail(e);
      }
    });
    const check = section.querySelector("#passkey-check");
    if (check) {
      check.addEventListener("click", async () => {
        try {
          await assert(
            "/privacy/passkeys/authentication",
            "/privacy/passkeys/authentication/finish",
            csrf,
          );
          say(section, status, section.dataset.msgVerified, "verified");
        } catch (e) {
          fail(e);
        }
      });
    }
  }

  function approve(section) {
    const base = section.dataset.base;
    const status = section.querySelector("#passkey-status");
    const button = section.querySelector("#passkey-approve");
    if (!window.PublicKeyCredential) {
      say(section, status, section.dataset.msgUnsupported, "unsupported");
      return;
    }
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await assert(base + "/options", base + "/approve");
        say(section, status, section.dataset.msgApproved, "approved");
        section.querySelectorAll("form, button").forEach((el) => el.remove());
      } catch (e) {
        say(section, status, section.dataset.msgFailed, e.message || "error");
        button.disabled = false;
      }
    });
  }

  document.querySelectorAll("[data-passkeys]").forEach((section) => {
    if (section.dataset.passkeys === "privacy") privacy(section);
    if (section.dataset.passkeys === "approve") approve(section);
  });
})();

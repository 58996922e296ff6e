// grader review: keyboard-first marking. Served from the app itself (CSP script-src 'self');
// no inline handlers anywhere. Every write is a same-origin JSON POST carrying the page's CSRF token.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const flash = document.getElementById("flash");

  function show(message, ok) {
    flash.textContent = message;
    flash.className = ok ? "ok" : "";
    flash.hidden = false;
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    let reply = {};
    try {
      reply = await response.json();
    } catch (e) {
      reply = { ok: false, error: "the server answered " + response.status };
    }
    reply.status = response.status;
    return reply;
  }

  function pointsValue(text) {
    const trimmed = text.trim();
    return trimmed === "" ? null : Number(trimmed);
  }

  // ---------------------------------------------------------------- who is marking
  const markerForm = document.getElementById("marker-form");
  if (markerForm) {
    markerForm.addEventListener("submit", async function (event) {
      event.preventDefault();
      const reply = await post("/api/marker", { name: document.getElementById("marker-input").value });
      if (reply.ok) location.reload();
      else show(reply.error);
    });
  }

  // ---------------------------------------------------------------- publishing
  const publishButton = document.getElementById("publish");
  const publishStatus = document.getElementById("publish-status");

  async function pollPublish() {
    const state = await (await fetch("/api/state", { credentials: "same-origin" })).json();
    if (state.publishing) {
      publishStatus.dataset.running = "yes";
      publishStatus.textContent = "publishing…";
      setTimeout(pollPublish, 400);
      return;
    }
    publishStatus.dataset.running = "no";
    if (state.error) {
      publishStatus.textContent = "publishing failed: " + state.error;
    } else {
      publishStatus.textContent =
        (state.unpublished ? state.unpublished + " decisions not yet in the feedback and grades" : "feedback and grades are up to date") +
        (state.published_at ? " · last published " + state.published_at : "");
    }
    publishStatus.dataset.published = state.published_at || "";
  }

  async function publish() {
    publishStatus.dataset.running = "yes";
    publishStatus.textContent = "publishing…";
    const reply = await post("/api/publish", {});
    if (!reply.ok) {
      show(reply.error);
      return;
    }
    setTimeout(pollPublish, 200);
  }
  if (publishButton) publishButton.addEventListener("click", publish);

  // ---------------------------------------------------------------- the marking form
  const form = document.getElementById("mark-form");
  const points = document.getElementById("points");
  const comment = document.getElementById("comment");
  let saving = false;

  async function saveMark(withdraw) {
    if (saving) return;
    const value = withdraw ? null : pointsValue(points.value);
    if (!withdraw && (value === null || Number.isNaN(value))) {
      show("Type the points first (0 to " + form.dataset.max + ").");
      points.focus();
      return;
    }
    saving = true;
    const reply = await post("/api/mark", {
      student: form.dataset.student,
      item: form.dataset.item,
      points: value,
      comment: withdraw ? "" : comment.value,
      version: Number(form.dataset.version),
    });
    saving = false;
    if (reply.ok) {
      form.dataset.version = reply.decision.version;
      location.assign(withdraw ? location.href : reply.next);
    } else {
      form.dataset.conflict = reply.conflict ? "yes" : "no";
      show(reply.error);
    }
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      saveMark(false);
    });
    const withdraw = document.getElementById("withdraw");
    if (withdraw) withdraw.addEventListener("click", function () { saveMark(true); });
    points.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        saveMark(false);
      }
    });
    comment.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        saveMark(false);
      }
    });
  }

  // ---------------------------------------------------------------- keys outside fields
  function go(id) {
    const link = document.getElementById(id);
    if (link) location.assign(link.href);
  }

  document.addEventListener("keydown", function (event) {
    const target = event.target;
    const inField = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA");
    if (inField) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) {
      if (form && event.key === "Enter") saveMark(false);
      return;
    }
    const help = document.getElementById("help");
    if (event.key === "?") {
      help.hidden = !help.hidden;
      return;
    }
    if (event.key === "P") {
      event.preventDefault();
      publish();
      return;
    }
    if (!form) return;
    if (/^[0-9.]$/.test(event.key)) {
      event.preventDefault();
      points.focus();
      points.value = event.key;
    } else if (event.key === "j" || event.key === "ArrowRight") {
      go("next");
    } else if (event.key === "k" || event.key === "ArrowLeft") {
      go("prev");
    } else if (event.key === "c") {
      event.preventDefault();
      comment.focus();
    } else if (event.key === "Enter") {
      event.preventDefault();
      saveMark(false);
    }
  });

  // ---------------------------------------------------------------- overrides (submission page)
  document.querySelectorAll("form.override-form").forEach(function (override) {
    async function send(restore) {
      const reply = await post("/api/override", {
        student: override.dataset.student,
        item: override.dataset.item,
        points: restore ? null : pointsValue(override.elements.points.value),
        reason: restore ? "" : override.elements.reason.value,
        version: Number(override.dataset.version),
      });
      if (reply.ok) location.reload();
      else show(reply.error);
    }
    override.addEventListener("submit", function (event) {
      event.preventDefault();
      send(false);
    });
    const restore = override.querySelector("button.restore");
    if (restore) restore.addEventListener("click", function () { send(true); });
  });

  // ---------------------------------------------------------------- regrade requests
  document.querySelectorAll("form.resolve-form").forEach(function (resolve) {
    resolve.addEventListener("submit", async function (event) {
      event.preventDefault();
      const reply = await post("/api/regrades/" + resolve.dataset.request + "/resolve", {
        response: resolve.elements.response.value,
      });
      if (reply.ok) location.reload();
      else show(reply.error);
    });
  });
})();

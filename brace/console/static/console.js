// brace console: live panels by server-sent events, actions with the CSRF token.
"use strict";
(function () {
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;
  var message = document.getElementById("message");

  function say(text, bad) {
    if (!message) return;
    message.textContent = text;
    message.className = bad ? "bad" : "";
  }

  function fields(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name) return;
      if (el.type === "checkbox") out[el.name] = el.checked;
      else if (el.type === "number") { if (el.value !== "") out[el.name] = Number(el.value); }
      else out[el.name] = el.value;
    });
    return out;
  }

  function act(el, extra) {
    var d = el.dataset;
    if (d.confirm && !window.confirm(d.confirm)) return;
    var body = { action: d.action, model: d.model, deployment: d.deployment, environment: d.environment };
    Object.keys(extra || {}).forEach(function (k) { body[k] = extra[k]; });
    el.disabled = true;
    fetch("/console/actions", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, j: j }; });
    }).then(function (res) {
      el.disabled = false;
      if (!res.ok) { say(res.j.error || "refused", true); return; }
      say(res.j.message || "Done.");
      if (res.j.go) { window.location.assign(res.j.go); return; }
      if (!document.body.dataset.stream) window.setTimeout(function () { window.location.reload(); }, 400);
    }).catch(function () { el.disabled = false; say("The server did not answer.", true); });
  }

  document.addEventListener("click", function (e) {
    var el = e.target.closest("button[data-action]");
    if (el) { e.preventDefault(); act(el); }
  });
  document.addEventListener("submit", function (e) {
    var form = e.target.closest("form[data-action]");
    if (!form) return;
    e.preventDefault();
    var values = fields(form);
    var d = form.dataset;
    var extra = {};
    if (d.action === "rename") extra.name = values.name;
    else if (d.action === "promote") extra.environment = values.environment;
    else if (d.action === "autoscaling") extra.settings = values;
    else if (d.action === "promotion_settings") {
      var rolling = {};
      ["max_surge_percent", "max_unavailable_percent", "stabilization_time_seconds", "replica_overhead_percent"].forEach(function (k) {
        if (k in values) { rolling[k] = values[k]; }
      });
      extra.settings = {
        rolling_deploy: values.rolling_deploy,
        rolling_deploy_config: rolling,
        promotion_cleanup_strategy: values.promotion_cleanup_strategy
      };
    }
    act(form, extra);
  });

  var stream = document.body.dataset.stream;
  if (stream && window.EventSource) {
    var source = new EventSource(stream);
    source.addEventListener("panel", function (e) {
      var panel = document.getElementById("panel");
      if (panel) panel.innerHTML = JSON.parse(e.data).html;
    });
    source.addEventListener("log", function (e) {
      var log = document.getElementById("log");
      if (!log) return;
      var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.appendChild(document.createTextNode(JSON.parse(e.data).lines.join("\n") + "\n"));
      if (atEnd) log.scrollTop = log.scrollHeight;
    });
    source.addEventListener("signed_out", function () { source.close(); window.location.reload(); });
  }
  var log = document.getElementById("log");
  if (log) log.scrollTop = log.scrollHeight;
})();

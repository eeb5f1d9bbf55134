// ganaug reader study: the reader's page. One image at a time from the reader's own order; the
// answer and the time since the image appeared are posted as JSON; the server's state decides
// what comes next, so reopening the link resumes where the reader stopped.
(function () {
  "use strict";
  var app = document.getElementById("app");
  var tasks = app.dataset.tasks.split(",");
  var image = document.getElementById("image");
  var item = document.getElementById("item");
  var done = document.getElementById("done");
  var progress = document.getElementById("progress");
  var bar = document.getElementById("bar");
  var message = document.getElementById("message");
  var submitButton = document.getElementById("submit");
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button.choice"));
  var current = null;
  var shownAt = null;
  var choice = {};
  var busy = false;

  function say(text) { message.textContent = text || ""; }

  function complete() {
    return tasks.every(function (task) { return choice[task] !== undefined; });
  }

  function showChoices() {
    buttons.forEach(function (button) {
      var chosen = String(choice[button.dataset.field]) === button.dataset.value;
      button.setAttribute("aria-pressed", chosen ? "true" : "false");
    });
    if (submitButton) { submitButton.disabled = !complete() || busy; }
  }

  function render(state) {
    progress.textContent = state.answered + " / " + state.total;
    bar.max = Math.max(1, state.total);
    bar.value = state.answered;
    choice = {};
    shownAt = null;
    if (state.done) {
      current = null;
      item.hidden = true;
      done.hidden = false;
      return;
    }
    done.hidden = true;
    item.hidden = false;
    current = state.current;
    image.classList.add("loading");
    image.alt = "Study image " + current.position + " of " + state.total;
    image.src = app.dataset.imageBase + encodeURIComponent(current.image_id);
    showChoices();
  }

  image.addEventListener("load", function () {
    image.classList.remove("loading");
    shownAt = performance.now();
  });
  image.addEventListener("error", function () { say("The image could not be loaded; reload the page."); });

  function load() {
    return fetch(app.dataset.stateUrl, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(render)
      .catch(function (error) { say("Could not reach the study server (" + error.message + "). Reload to retry."); });
  }

  function submit() {
    if (busy || !current || shownAt === null || !complete()) { return; }
    busy = true;
    showChoices();
    var body = { image_id: current.image_id, response_ms: Math.max(0, Math.round(performance.now() - shownAt)) };
    tasks.forEach(function (task) { body[task] = choice[task]; });
    fetch(app.dataset.answerUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    }).then(function (result) {
      busy = false;
      if (result.status === 200) {
        say("");
        render(result.data);
      } else if (result.status === 409) {
        say("That image was answered already; moving on.");
        load();
      } else {
        say(result.data.error || ("Error " + result.status));
        showChoices();
      }
    }).catch(function () {
      busy = false;
      say("The answer could not be sent; check the connection and press the key again.");
      showChoices();
    });
  }

  function select(field, value) {
    if (busy || !current || tasks.indexOf(field) < 0) { return; }
    if (shownAt === null) { say("Wait for the image to appear."); return; }
    choice[field] = value;
    say("");
    showChoices();
    if (tasks.length === 1) { submit(); }
  }

  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      var value = button.dataset.field === "realness" ? button.dataset.value : Number(button.dataset.value);
      select(button.dataset.field, value);
    });
  });
  if (submitButton) { submitButton.addEventListener("click", submit); }

  var labelKeys = {};
  buttons.forEach(function (button) {
    if (button.dataset.field === "label" && button.dataset.key) {
      labelKeys[button.dataset.key] = Number(button.dataset.value);
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) { return; }
    var key = event.key.toLowerCase();
    if (key === "r") { select("realness", "real"); }
    else if (key === "s") { select("realness", "synthetic"); }
    else if (/^[1-5]$/.test(key)) { select("quality", Number(key)); }
    else if (key === "enter") { submit(); }
    else if (Object.prototype.hasOwnProperty.call(labelKeys, key)) { select("label", labelKeys[key]); }
    else { return; }
    event.preventDefault();
  });

  load();
})();
